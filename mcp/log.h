/*-------------------------------------------------------------------------
 *
 * log.h
 *		Messages of nadia-mcp for humans, on stderr (log.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_MCP_LOG_H
#define NADIA_MCP_LOG_H

#include <stdbool.h>

extern void mcp_log(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern void mcp_log_silence(bool silent);

#endif							/* NADIA_MCP_LOG_H */
