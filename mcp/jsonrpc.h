/*-------------------------------------------------------------------------
 *
 * jsonrpc.h
 *		JSON-RPC 2.0 framing of nadia-mcp: one input line, at most one
 *		output line (jsonrpc.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_MCP_JSONRPC_H
#define NADIA_MCP_JSONRPC_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "protocol.h"

/* returns NULL when there is nothing to answer (notifications) */
extern char *mcp_handle_message(McpServer *srv, const char *buf, size_t len);
extern char *rpc_error_line(const cJSON *id, int code, const char *message);

#endif							/* NADIA_MCP_JSONRPC_H */
