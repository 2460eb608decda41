/*-------------------------------------------------------------------------
 *
 * security.h
 *		The least-privilege checks of nadia-mcp (security.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_MCP_SECURITY_H
#define NADIA_MCP_SECURITY_H

#include <libpq-fe.h>

extern int	security_check(PGconn *conn, char ***problems);
extern void security_report(const char *where, char **problems, int n);
extern void security_free(char **problems, int n);

#endif							/* NADIA_MCP_SECURITY_H */
