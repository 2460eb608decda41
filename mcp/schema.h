/*-------------------------------------------------------------------------
 *
 * schema.h
 *		JSON Schemas of the nadia-mcp tools and the checks of their
 *		arguments (schema.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_MCP_SCHEMA_H
#define NADIA_MCP_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "tools.h"

extern cJSON *schema_input(const ToolDef *tool);
extern cJSON *schema_output(const ToolDef *tool);
extern bool schema_bind_args(const ToolDef *tool, const cJSON *arguments,
							 char **values, char *errbuf, size_t errlen);
extern void schema_free_args(const ToolDef *tool, char **values);
extern bool parse_since(const char *s, char *out, size_t outlen);

#endif							/* NADIA_MCP_SCHEMA_H */
