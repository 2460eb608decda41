/*-------------------------------------------------------------------------
 *
 * security.c
 *		The least-privilege checks nadia-mcp runs before it serves anything.
 *
 * The role's grants are the first line (nadia_bgw_reader can read history
 * and nothing else); this check is the second: a connection string that
 * points at a role able to do more is refused at start, with one line per
 * problem, instead of being trusted to behave.  Refused are roles that
 *
 *	- are superusers, bypass row security, can create roles or databases,
 *	  or replicate;
 *	- belong to pg_read_all_data, pg_write_all_data, pg_read_all_stats,
 *	  pg_monitor or the server-file roles (directly or not);
 *	- are not members of nadia_bgw_reader, or the database has no nadia_bgw;
 *	- can write anything: INSERT/UPDATE/DELETE/TRUNCATE/TRIGGER/REFERENCES
 *	  on any relation, UPDATE/USAGE on any sequence, CREATE on the database
 *	  or on any schema (UPDATE on pg_settings, which everyone has, only
 *	  sets session-local parameters and is not counted; nor is TEMP, which
 *	  PUBLIC has by default and which creates session-private objects
 *	  only);
 *	- can read any application relation, that is any table, view,
 *	  materialized view, foreign table or sequence outside pg_catalog,
 *	  information_schema and nadia_bgw that no extension owns (the
 *	  pg_stat_statements view belongs to its extension: not application
 *	  data);
 *	- can execute functions beyond what nadia_bgw_reader can: nadia_bgw
 *	  functions not granted to the reader, built-in functions withheld from
 *	  PUBLIC (pg_read_file, lo_import, pg_reload_conf, ...), and SECURITY
 *	  DEFINER functions of the application (they may write).
 *
 * The checks cover the database connected to; a role is per cluster but
 * table grants are per database, so run one nadia-mcp per database.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "nadia_mcp.h"

/*
 * One query, one row per problem.  Plain catalog reads that any role may
 * do; it runs in the read-only session that db.c set up (search_path is
 * pg_catalog).
 */
static const char *check_sql =
"WITH me AS (\n"
"  SELECT oid, rolname, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb,\n"
"         rolreplication\n"
"    FROM pg_roles WHERE rolname = current_user),\n"
"app_rel AS (\n"
"  SELECT c.oid, c.relkind, format('%I.%I', n.nspname, c.relname) AS name\n"
"    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
"   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')\n"
"     AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'nadia_bgw')\n"
"     AND n.nspname NOT LIKE 'pg\\_toast%'\n"
"     AND n.nspname NOT LIKE 'pg\\_temp\\_%'\n"
"     AND NOT EXISTS (SELECT 1 FROM pg_depend d\n"
"                      WHERE d.classid = 'pg_class'::regclass\n"
"                        AND d.objid = c.oid AND d.deptype = 'e'))\n"
"SELECT problem FROM (\n"
"  SELECT 1 AS o, format('role %I is a superuser', rolname) AS problem\n"
"    FROM me WHERE rolsuper\n"
"  UNION ALL\n"
"  SELECT 2, format('role %I bypasses row-level security (BYPASSRLS)', rolname)\n"
"    FROM me WHERE rolbypassrls\n"
"  UNION ALL\n"
"  SELECT 3, format('role %I can create roles (CREATEROLE)', rolname)\n"
"    FROM me WHERE rolcreaterole\n"
"  UNION ALL\n"
"  SELECT 3, format('role %I can create databases (CREATEDB)', rolname)\n"
"    FROM me WHERE rolcreatedb\n"
"  UNION ALL\n"
"  SELECT 3, format('role %I can replicate (REPLICATION)', rolname)\n"
"    FROM me WHERE rolreplication\n"
"  UNION ALL\n"
"  SELECT 4, format('role %I is a member of %s', me.rolname, g)\n"
"    FROM me, unnest(ARRAY['pg_read_all_data', 'pg_write_all_data',\n"
"                          'pg_read_all_stats', 'pg_monitor',\n"
"                          'pg_read_server_files', 'pg_write_server_files',\n"
"                          'pg_execute_server_program']) AS g\n"
"   WHERE to_regrole(g) IS NOT NULL AND NOT me.rolsuper\n"
"     AND pg_has_role(me.oid, to_regrole(g), 'MEMBER')\n"
"  UNION ALL\n"
"  SELECT 5, 'role nadia_bgw_reader does not exist (CREATE EXTENSION nadia_bgw makes it)'\n"
"   WHERE to_regrole('nadia_bgw_reader') IS NULL\n"
"  UNION ALL\n"
"  SELECT 5, format('role %I is not a member of nadia_bgw_reader', rolname)\n"
"    FROM me WHERE to_regrole('nadia_bgw_reader') IS NOT NULL AND NOT rolsuper\n"
"     AND NOT pg_has_role(me.oid, to_regrole('nadia_bgw_reader'), 'USAGE')\n"
"  UNION ALL\n"
"  SELECT 5, format('extension nadia_bgw is not installed in database %I',\n"
"                   current_database())\n"
"   WHERE NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'nadia_bgw')\n"
"  UNION ALL\n"
"  SELECT 6, format('role %I can create objects in database %I',\n"
"                   me.rolname, current_database())\n"
"    FROM me WHERE NOT rolsuper\n"
"     AND has_database_privilege(me.oid, current_database(), 'CREATE')\n"
"  UNION ALL\n"
"  SELECT 6, format('role %I can create objects in schema %I', me.rolname, n.nspname)\n"
"    FROM me, pg_namespace n WHERE NOT me.rolsuper\n"
"     AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'\n"
"     AND has_schema_privilege(me.oid, n.oid, 'CREATE')\n"
"  UNION ALL\n"
"  SELECT 7, format('role %I can write to %s', me.rolname,\n"
"                   format('%I.%I', n.nspname, c.relname))\n"
"    FROM me, pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
"   WHERE NOT me.rolsuper AND c.relkind IN ('r', 'p', 'v', 'm', 'f')\n"
"     AND n.nspname NOT LIKE 'pg\\_temp\\_%'\n"
"     AND c.oid <> 'pg_catalog.pg_settings'::regclass\n"
"     AND (has_table_privilege(me.oid, c.oid, 'DELETE, TRUNCATE, TRIGGER')\n"
"          OR has_any_column_privilege(me.oid, c.oid, 'INSERT, UPDATE, REFERENCES'))\n"
"  UNION ALL\n"
"  SELECT 7, format('role %I can advance sequence %s', me.rolname,\n"
"                   format('%I.%I', n.nspname, c.relname))\n"
"    FROM me, pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
"   WHERE NOT me.rolsuper AND c.relkind = 'S'\n"
"     AND has_sequence_privilege(me.oid, c.oid, 'USAGE, UPDATE')\n"
"  UNION ALL\n"
"  SELECT 8, format('role %I can read application %s %s', me.rolname,\n"
"                   CASE a.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'\n"
"                                  WHEN 'f' THEN 'foreign table' WHEN 'S' THEN 'sequence'\n"
"                                  ELSE 'table' END, a.name)\n"
"    FROM me, app_rel a WHERE NOT me.rolsuper\n"
"     AND CASE WHEN a.relkind = 'S' THEN has_sequence_privilege(me.oid, a.oid, 'SELECT')\n"
"              ELSE has_any_column_privilege(me.oid, a.oid, 'SELECT') END\n"
"  UNION ALL\n"
"  SELECT 9, format('role %I can execute %s, which nadia_bgw_reader cannot',\n"
"                   me.rolname, p.oid::regprocedure)\n"
"    FROM me, pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace\n"
"   WHERE NOT me.rolsuper AND n.nspname = 'nadia_bgw'\n"
"     AND to_regrole('nadia_bgw_reader') IS NOT NULL\n"
"     AND has_function_privilege(me.oid, p.oid, 'EXECUTE')\n"
"     AND NOT has_function_privilege(to_regrole('nadia_bgw_reader'), p.oid, 'EXECUTE')\n"
"  UNION ALL\n"
"  SELECT 9, format('role %I can execute %s, which is not granted to PUBLIC',\n"
"                   me.rolname, p.oid::regprocedure)\n"
"    FROM me, pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace\n"
"   WHERE NOT me.rolsuper AND n.nspname <> 'nadia_bgw' AND p.proacl IS NOT NULL\n"
"     AND NOT aclcontains(p.proacl, makeaclitem(0, p.proowner, 'EXECUTE', false))\n"
"     AND has_function_privilege(me.oid, p.oid, 'EXECUTE')\n"
"  UNION ALL\n"
"  SELECT 9, format('role %I can execute SECURITY DEFINER function %s of the application',\n"
"                   me.rolname, p.oid::regprocedure)\n"
"    FROM me, pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace\n"
"   WHERE NOT me.rolsuper AND p.prosecdef\n"
"     AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'nadia_bgw')\n"
"     AND NOT EXISTS (SELECT 1 FROM pg_depend d\n"
"                      WHERE d.classid = 'pg_proc'::regclass\n"
"                        AND d.objid = p.oid AND d.deptype = 'e')\n"
"     AND has_function_privilege(me.oid, p.oid, 'EXECUTE')\n"
"     AND has_schema_privilege(me.oid, n.oid, 'USAGE')\n"
") AS problems ORDER BY o, problem";

/*
 * Run the checks.  Returns the number of problems (0 = fine) and their
 * texts in *problems, or -1 when the check itself failed (its error is
 * then the single problem).
 */
int
security_check(PGconn *conn, char ***problems)
{
	PGresult   *res;
	int			n;

	*problems = NULL;
	res = PQexec(conn, check_sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		*problems = calloc(1, sizeof(char *));
		(*problems)[0] = strdup(PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	n = PQntuples(res);
	if (n > 0)
	{
		*problems = calloc(n, sizeof(char *));
		for (int i = 0; i < n; i++)
			(*problems)[i] = strdup(PQgetvalue(res, i, 0));
	}
	PQclear(res);
	return n;
}

void
security_free(char **problems, int n)
{
	for (int i = 0; i < n; i++)
		free(problems[i]);
	free(problems);
}
