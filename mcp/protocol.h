/*-------------------------------------------------------------------------
 *
 * protocol.h
 *		The state of one nadia-mcp server and its MCP methods (protocol.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_MCP_PROTOCOL_H
#define NADIA_MCP_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "db.h"
#include "nadia_mcp.h"
#include "ratelimit.h"
#include "tools.h"

typedef struct McpServer
{
	McpLimits	limits;
	McpDb	   *db;				/* NULL when fuzzing */
	RateLimiter rl;
	bool		initialized;	/* initialize answered */
	bool		client_ready;	/* notifications/initialized seen */
	const char *protocol_version;	/* negotiated */
	/* hook used by the fuzzer in place of db_run_tool */
	DbOutcome	(*run_tool) (struct McpServer *srv, const ToolDef *tool,
							 const char *sql, const char *const *values,
							 PGresult **result, char *errbuf, size_t errlen);
} McpServer;

extern void server_init(McpServer *srv, const McpLimits *limits, McpDb *db);
extern void server_free(McpServer *srv);

/* set *code (non-zero) and *message on error */
extern cJSON *protocol_dispatch(McpServer *srv, const char *method,
								const cJSON *params, bool is_notification,
								int *code, char **message);
extern bool protocol_allows_batches(const McpServer *srv);

#endif							/* NADIA_MCP_PROTOCOL_H */
