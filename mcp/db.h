/*-------------------------------------------------------------------------
 *
 * db.h
 *		The database connection of nadia-mcp and the one way tool queries
 *		run on it (db.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_MCP_DB_H
#define NADIA_MCP_DB_H

#include <libpq-fe.h>

#include "nadia_mcp.h"

/* outcomes of one tool query */
typedef enum DbOutcome
{
	DB_OK,
	DB_BUSY,					/* every concurrency slot is taken */
	DB_TIMEOUT,					/* statement_timeout cancelled it */
	DB_MISSING,					/* a relation or column it reads is absent */
	DB_DENIED,					/* insufficient privilege */
	DB_UNAVAILABLE,				/* connection lost and not restored */
	DB_REFUSED,					/* reconnected, but the privilege check
								 * refused the new connection */
	DB_ERROR					/* anything else */
} DbOutcome;

typedef struct McpDb McpDb;

extern McpDb *db_connect(const char *conninfo, char **errmsg);
extern void db_close(McpDb *db);
extern const char *db_name(McpDb *db);
extern const char *db_user(McpDb *db);
extern DbOutcome db_run_tool(McpDb *db, const McpLimits *limits,
							 const char *sql, int nparams,
							 const char *const *values, PGresult **result,
							 char *errbuf, size_t errlen);
extern int	db_check(McpDb *db, int max_concurrent, char ***problems);
extern void db_where(McpDb *db, char *buf, size_t len);

#endif							/* NADIA_MCP_DB_H */
