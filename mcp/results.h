/*-------------------------------------------------------------------------
 *
 * results.h
 *		A tool's query result -> its structuredContent (results.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_MCP_RESULTS_H
#define NADIA_MCP_RESULTS_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "nadia_mcp.h"
#include "tools.h"

extern cJSON *results_to_json(const ToolDef *tool, PGresult *res,
							  const McpLimits *limits, char *errbuf,
							  size_t errlen);

#endif							/* NADIA_MCP_RESULTS_H */
