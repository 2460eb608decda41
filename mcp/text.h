/*-------------------------------------------------------------------------
 *
 * text.h
 *		UTF-8 and string helpers of nadia-mcp (text.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_MCP_TEXT_H
#define NADIA_MCP_TEXT_H

#include <stdbool.h>
#include <stddef.h>

extern bool utf8_valid(const unsigned char *s, size_t len);
extern size_t utf8_prefix(const char *s, size_t max);
extern size_t utf8_chars(const char *s);
extern char *text_printf(const char *fmt,...) __attribute__((format(printf, 1, 2)));

#endif							/* NADIA_MCP_TEXT_H */
