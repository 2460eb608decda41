/*-------------------------------------------------------------------------
 *
 * security.c
 *		The least-privilege checks nadia-mcp runs on every connection before
 *		it serves anything from it.
 *
 * The role's grants are the first line (nadia_bgw_reader can read history
 * and nothing else); this check is the second: a connection that can do
 * more is refused, with one line per problem, instead of being trusted to
 * behave.  db.c runs it at start and again after every reconnection (a
 * multi-host connection string may land on another server).
 *
 * What is checked is not current_user but everything the connection could
 * become: the login role (the role that authenticated; a connection
 * string's options='-c role=...' or ALTER ROLE ... SET role only change
 * current_user) and every role it is a member of, directly or through
 * other roles, whatever the INHERIT, SET or ADMIN options of the grants
 * (any membership is one SET ROLE, or one GRANT, away from its
 * privileges).  For each of those roles, refused are roles that
 *
 *	- are superusers, bypass row security, can create roles or databases,
 *	  or replicate;
 *	- are predefined roles (pg_read_all_data, pg_read_server_files,
 *	  pg_monitor, pg_signal_backend, ...: none is needed to read history);
 *	- own anything: an object of this database, a database, a tablespace,
 *	  or objects in another database (an owner can grant itself anything
 *	  on what it owns);
 *	- can write anything: INSERT/UPDATE/DELETE/TRUNCATE/TRIGGER/REFERENCES
 *	  on any relation (on a view that cannot be written through, no rule
 *	  and no INSTEAD OF trigger, INSERT/UPDATE/DELETE write nothing and are
 *	  not counted: the concurrency slots of nadia_bgw 1.1 are such views),
 *	  MAINTAIN (17+), UPDATE/USAGE on any sequence, CREATE on the database
 *	  or on any schema (UPDATE on pg_settings, which everyone has, only
 *	  sets session-local parameters and is not counted; nor is TEMP, which
 *	  PUBLIC has by default and which creates session-private objects
 *	  only);
 *	- can read any application relation, that is any table, view,
 *	  materialized view, foreign table or sequence outside pg_catalog,
 *	  information_schema and nadia_bgw that no extension owns (the
 *	  pg_stat_statements view belongs to its extension: not application
 *	  data);
 *	- can read a column of any other relation (a catalog such as pg_authid
 *	  or pg_statistic, a nadia_bgw table) that neither PUBLIC nor
 *	  nadia_bgw_reader can read;
 *	- can read a large object (or lo_compat_privileges is on and there are
 *	  large objects), use a foreign server or foreign-data wrapper, or set
 *	  a superuser parameter or ALTER SYSTEM through a parameter grant;
 *	- are named in default privileges (ALTER DEFAULT PRIVILEGES ... GRANT
 *	  ... TO it): the next table the application creates would be theirs
 *	  to read, and the check would only see it at the next reconnection;
 *	- can execute functions beyond what nadia_bgw_reader can: nadia_bgw
 *	  functions not granted to the reader, built-in functions withheld from
 *	  PUBLIC (pg_read_file, lo_import, pg_reload_conf, ...), and SECURITY
 *	  DEFINER functions of the application (they may write).
 *
 * Also refused: a login role that is not a member of nadia_bgw_reader, a
 * current role that does not have its privileges, a database without
 * nadia_bgw.  A problem held by several of these roles is reported once,
 * for the role nearest to the login role.
 *
 * The checks cover the database connected to (plus the ownership of
 * objects elsewhere); a role is per cluster but table grants are per
 * database, so run one nadia-mcp per database.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "security.h"

/*
 * One query, one row per problem.  Plain catalog reads that any role may
 * do; it runs in the read-only session that db.c set up (search_path is
 * pg_catalog).  $1 is the login role.
 *
 * "me" is the set of roles checked: the login role and every role it is a
 * member of (pg_has_role(..., 'MEMBER') ignores INHERIT and SET, which is
 * the point), each with the shortest membership chain that reaches it, for
 * the messages.  For a superuser login role the set is that role alone (a
 * superuser is a member of everything; one line says enough), and when any
 * role of the set is a superuser the privilege checks are skipped, for the
 * same reason.  Every problem row carries a key (what it is about) and the
 * depth of its role: the final DISTINCT ON keeps, for each key, the line of
 * the role nearest to the login role.
 */
static const char *check_sql =
"WITH RECURSIVE\n"
"login AS (\n"
"  SELECT oid, rolname, rolsuper FROM pg_roles WHERE rolname = $1),\n"
"chain(oid, path) AS (\n"
"  SELECT oid, ARRAY[rolname::text] FROM login WHERE NOT rolsuper\n"
"  UNION\n"
"  SELECT m.roleid, c.path || r.rolname::text\n"
"    FROM chain c JOIN pg_auth_members m ON m.member = c.oid\n"
"    JOIN pg_roles r ON r.oid = m.roleid\n"
"   WHERE cardinality(c.path) < 32),\n"
"me AS (\n"
"  SELECT r.oid, r.rolname, r.rolsuper, r.rolbypassrls, r.rolcreaterole,\n"
"         r.rolcreatedb, r.rolreplication, coalesce(p.depth, 2) AS depth, p.path,\n"
"         CASE WHEN r.oid = l.oid THEN format('role %I', r.rolname)\n"
"              ELSE format('role %I (reached from login role %I: %s)', r.rolname,\n"
"                          l.rolname, coalesce(array_to_string(p.path, ' > '),\n"
"                                              'a member of it'))\n"
"         END AS who\n"
"    FROM login l CROSS JOIN pg_roles r\n"
"    LEFT JOIN LATERAL (SELECT cardinality(c.path) AS depth, c.path FROM chain c\n"
"                        WHERE c.oid = r.oid ORDER BY 1 LIMIT 1) p ON true\n"
"   WHERE r.oid = l.oid OR (NOT l.rolsuper AND pg_has_role(l.oid, r.oid, 'MEMBER'))),\n"
"flags AS (\n"
"  SELECT coalesce(bool_or(rolsuper), false) AS anysuper,\n"
"         to_regrole('nadia_bgw_reader') AS reader FROM me),\n"
"app_rel AS (\n"
"  SELECT c.oid, c.relkind, format('%I.%I', n.nspname, c.relname) AS name\n"
"    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
"   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')\n"
"     AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'nadia_bgw')\n"
"     AND n.nspname NOT LIKE 'pg\\_toast%'\n"
"     AND n.nspname NOT LIKE 'pg\\_temp\\_%'\n"
"     AND NOT EXISTS (SELECT 1 FROM pg_depend d\n"
"                      WHERE d.classid = 'pg_class'::regclass\n"
"                        AND d.objid = c.oid AND d.deptype = 'e')),\n"
"rel AS (\n"
"  SELECT c.oid, c.relkind, format('%I.%I', n.nspname, c.relname) AS name\n"
"    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
"   WHERE n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast%'),\n"
"problems(o, k, depth, problem) AS (\n"
"  SELECT 1, rolname::text, depth, format('%s is a superuser', who)\n"
"    FROM me WHERE rolsuper\n"
"  UNION ALL\n"
"  SELECT 2, rolname, depth, format('%s bypasses row-level security (BYPASSRLS)', who)\n"
"    FROM me WHERE rolbypassrls\n"
"  UNION ALL\n"
"  SELECT 3, rolname || 'r', depth, format('%s can create roles (CREATEROLE)', who)\n"
"    FROM me WHERE rolcreaterole\n"
"  UNION ALL\n"
"  SELECT 3, rolname || 'd', depth, format('%s can create databases (CREATEDB)', who)\n"
"    FROM me WHERE rolcreatedb\n"
"  UNION ALL\n"
"  SELECT 3, rolname || 'l', depth, format('%s can replicate (REPLICATION)', who)\n"
"    FROM me WHERE rolreplication\n"
"  UNION ALL\n"
"  SELECT 4, me.rolname, me.depth,\n"
"         format('role %I is a member of %s%s', l.rolname, me.rolname,\n"
"                CASE WHEN me.depth > 2\n"
"                     THEN format(' (through %s)', array_to_string(me.path[2:me.depth - 1], ', '))\n"
"                     ELSE '' END)\n"
"    FROM me, login l WHERE me.rolname LIKE 'pg\\_%' AND me.oid <> l.oid\n"
"  UNION ALL\n"
"  SELECT 5, 'reader', 0,\n"
"         'role nadia_bgw_reader does not exist (CREATE EXTENSION nadia_bgw makes it)'\n"
"    FROM flags WHERE reader IS NULL\n"
"  UNION ALL\n"
"  SELECT 5, 'member', 0, format('role %I is not a member of nadia_bgw_reader', l.rolname)\n"
"    FROM login l, flags f WHERE f.reader IS NOT NULL AND NOT l.rolsuper\n"
"     AND NOT pg_has_role(l.oid, f.reader, 'MEMBER')\n"
"  UNION ALL\n"
"  SELECT 5, 'usage', 0,\n"
"         format('current role %I does not have the privileges of nadia_bgw_reader '\n"
"                '(a NOINHERIT membership: its tool queries would be denied)', current_user)\n"
"    FROM login l, flags f WHERE f.reader IS NOT NULL AND NOT l.rolsuper\n"
"     AND pg_has_role(l.oid, f.reader, 'MEMBER')\n"
"     AND NOT pg_has_role(current_user, f.reader, 'USAGE')\n"
"  UNION ALL\n"
"  SELECT 5, 'auth', 0,\n"
"         format('session user %I is not the role that logged in, %I (SET SESSION AUTHORIZATION): '\n"
"                'the login role is what is checked', session_user, $1)\n"
"   WHERE session_user <> $1\n"
"  UNION ALL\n"
"  SELECT 5, 'ext', 0, format('extension nadia_bgw is not installed in database %I',\n"
"                             current_database())\n"
"   WHERE NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'nadia_bgw')\n"
"  UNION ALL\n"
"  SELECT 6, sd.classid || '.' || sd.objid, me.depth,\n"
"         format('%s owns %s', me.who, pg_describe_object(sd.classid, sd.objid, 0))\n"
"    FROM me, flags, pg_shdepend sd\n"
"   WHERE NOT anysuper AND sd.refclassid = 'pg_authid'::regclass\n"
"     AND sd.refobjid = me.oid AND sd.deptype = 'o'\n"
"     AND sd.dbid IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))\n"
"  UNION ALL\n"
"  SELECT 6, 'db' || d.oid, me.depth,\n"
"         format('%s owns %s objects in database %I', me.who, count(*), d.datname)\n"
"    FROM me, flags, pg_shdepend sd JOIN pg_database d ON d.oid = sd.dbid\n"
"   WHERE NOT anysuper AND sd.refclassid = 'pg_authid'::regclass\n"
"     AND sd.refobjid = me.oid AND sd.deptype = 'o'\n"
"     AND d.datname <> current_database()\n"
"   GROUP BY me.who, me.depth, d.oid, d.datname\n"
"  UNION ALL\n"
"  SELECT 7, 'db', me.depth, format('%s can create objects in database %I',\n"
"                                   me.who, current_database())\n"
"    FROM me, flags WHERE NOT anysuper\n"
"     AND has_database_privilege(me.oid, current_database(), 'CREATE')\n"
"  UNION ALL\n"
"  SELECT 7, n.nspname, me.depth,\n"
"         format('%s can create objects in schema %I', me.who, n.nspname)\n"
"    FROM me, flags, pg_namespace n WHERE NOT anysuper\n"
"     AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'\n"
"     AND has_schema_privilege(me.oid, n.oid, 'CREATE')\n"
"  UNION ALL\n"
"  SELECT 8, c.name, me.depth, format('%s can write to %s', me.who, c.name)\n"
"    FROM me, flags, rel c WHERE NOT anysuper AND c.relkind IN ('r', 'p', 'v', 'm', 'f')\n"
"     AND c.oid <> 'pg_catalog.pg_settings'::regclass\n"
"     AND (has_table_privilege(me.oid, c.oid, 'TRUNCATE, TRIGGER')\n"
"          OR has_any_column_privilege(me.oid, c.oid, 'REFERENCES')\n"
"          OR ((has_table_privilege(me.oid, c.oid, 'DELETE')\n"
"               OR has_any_column_privilege(me.oid, c.oid, 'INSERT, UPDATE'))\n"
"              AND (c.relkind <> 'v' OR pg_relation_is_updatable(c.oid, true) <> 0)))\n"
"  UNION ALL\n"
"  SELECT 8, c.name || ' maintain', me.depth,\n"
"         format('%s can maintain %s (MAINTAIN: LOCK, VACUUM, CLUSTER, REINDEX)', me.who, c.name)\n"
"    FROM me, flags, rel c WHERE NOT anysuper AND c.relkind IN ('r', 'p', 'v', 'm', 'f')\n"
"     AND current_setting('server_version_num')::int >= 170000\n"
"     AND CASE WHEN current_setting('server_version_num')::int >= 170000\n"
"              THEN has_table_privilege(me.oid, c.oid, 'MAINTAIN') END\n"
"  UNION ALL\n"
"  SELECT 8, c.name, me.depth, format('%s can advance sequence %s', me.who, c.name)\n"
"    FROM me, flags, rel c WHERE NOT anysuper AND c.relkind = 'S'\n"
"     AND has_sequence_privilege(me.oid, c.oid, 'USAGE, UPDATE')\n"
"  UNION ALL\n"
"  SELECT 9, a.name, me.depth,\n"
"         format('%s can read application %s %s', me.who,\n"
"                CASE a.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'\n"
"                               WHEN 'f' THEN 'foreign table' WHEN 'S' THEN 'sequence'\n"
"                               ELSE 'table' END, a.name)\n"
"    FROM me, flags, app_rel a WHERE NOT anysuper\n"
"     AND CASE WHEN a.relkind = 'S' THEN has_sequence_privilege(me.oid, a.oid, 'SELECT')\n"
"              ELSE has_any_column_privilege(me.oid, a.oid, 'SELECT') END\n"
"  UNION ALL\n"
"  SELECT 9, c.name || '.' || att.attname, me.depth,\n"
"         format('%s can read %s.%I, which nadia_bgw_reader cannot', me.who, c.name, att.attname)\n"
"    FROM me, flags f, rel c JOIN pg_attribute att ON att.attrelid = c.oid\n"
"   WHERE NOT f.anysuper AND f.reader IS NOT NULL\n"
"     AND c.relkind IN ('r', 'p', 'v', 'm', 'f')\n"
"     AND c.oid NOT IN (SELECT oid FROM app_rel)\n"
"     AND att.attnum > 0 AND NOT att.attisdropped\n"
"     AND has_any_column_privilege(me.oid, c.oid, 'SELECT')\n"
"     AND NOT has_table_privilege('public', c.oid, 'SELECT')\n"
"     AND NOT has_table_privilege(f.reader, c.oid, 'SELECT')\n"
"     AND has_column_privilege(me.oid, c.oid, att.attnum, 'SELECT')\n"
"     AND NOT has_column_privilege('public', c.oid, att.attnum, 'SELECT')\n"
"     AND NOT has_column_privilege(f.reader, c.oid, att.attnum, 'SELECT')\n"
"  UNION ALL\n"
"  SELECT 10, 'defacl' || da.oid, me.depth,\n"
"         format('%s is granted %s on new %s of role %I%s (ALTER DEFAULT PRIVILEGES)',\n"
"                me.who, string_agg(DISTINCT a.privilege_type, ', '),\n"
"                CASE da.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences'\n"
"                     WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types'\n"
"                     WHEN 'n' THEN 'schemas' ELSE 'objects' END,\n"
"                pg_get_userbyid(da.defaclrole),\n"
"                CASE WHEN da.defaclnamespace <> 0\n"
"                     THEN format(' in schema %s', da.defaclnamespace::regnamespace)\n"
"                     ELSE '' END)\n"
"    FROM me, flags, pg_default_acl da, aclexplode(da.defaclacl) a\n"
"   WHERE NOT anysuper AND a.grantee = me.oid\n"
"   GROUP BY me.who, me.depth, da.oid, da.defaclobjtype, da.defaclrole, da.defaclnamespace\n"
"  UNION ALL\n"
"  SELECT 10, 'lo' || lo.oid, me.depth, format('%s can read large object %s', me.who, lo.oid)\n"
"    FROM me, flags, pg_largeobject_metadata lo WHERE NOT anysuper\n"
"     AND (lo.lomowner = me.oid\n"
"          OR EXISTS (SELECT 1 FROM aclexplode(lo.lomacl) a\n"
"                      WHERE a.grantee IN (me.oid, 0) AND a.privilege_type = 'SELECT'))\n"
"  UNION ALL\n"
"  SELECT 10, 'lo_compat', 0,\n"
"         'lo_compat_privileges is on and the database has large objects: every role can read them'\n"
"   WHERE current_setting('lo_compat_privileges')::boolean\n"
"     AND EXISTS (SELECT 1 FROM pg_largeobject_metadata)\n"
"  UNION ALL\n"
"  SELECT 10, 'srv' || s.srvname, me.depth,\n"
"         format('%s can use foreign server %I', me.who, s.srvname)\n"
"    FROM me, flags, pg_foreign_server s WHERE NOT anysuper\n"
"     AND has_server_privilege(me.oid, s.oid, 'USAGE')\n"
"  UNION ALL\n"
"  SELECT 10, 'fdw' || w.fdwname, me.depth,\n"
"         format('%s can use foreign-data wrapper %I', me.who, w.fdwname)\n"
"    FROM me, flags, pg_foreign_data_wrapper w WHERE NOT anysuper\n"
"     AND has_foreign_data_wrapper_privilege(me.oid, w.oid, 'USAGE')\n"
"  UNION ALL\n"
"  SELECT 10, 'par' || pa.parname || priv, me.depth,\n"
"         format('%s can %s parameter %s', me.who,\n"
"                CASE priv WHEN 'SET' THEN 'set' ELSE 'ALTER SYSTEM' END, pa.parname)\n"
"    FROM me, flags, pg_parameter_acl pa, unnest(ARRAY['SET', 'ALTER SYSTEM']) AS priv\n"
"   WHERE NOT anysuper AND has_parameter_privilege(me.oid, pa.parname, priv)\n"
"     AND (priv = 'ALTER SYSTEM'\n"
"          OR coalesce((SELECT s.context FROM pg_settings s WHERE s.name = pa.parname),\n"
"                      'superuser') = 'superuser')\n"
"  UNION ALL\n"
"  SELECT 11, p.oid::regprocedure::text, me.depth,\n"
"         format('%s can execute %s, which nadia_bgw_reader cannot', me.who, p.oid::regprocedure)\n"
"    FROM me, flags f, pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace\n"
"   WHERE NOT f.anysuper AND n.nspname = 'nadia_bgw' AND f.reader IS NOT NULL\n"
"     AND has_function_privilege(me.oid, p.oid, 'EXECUTE')\n"
"     AND NOT has_function_privilege(f.reader, p.oid, 'EXECUTE')\n"
"  UNION ALL\n"
"  SELECT 11, p.oid::regprocedure::text, me.depth,\n"
"         format('%s can execute %s, which is not granted to PUBLIC', me.who, p.oid::regprocedure)\n"
"    FROM me, flags, pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace\n"
"   WHERE NOT anysuper AND n.nspname <> 'nadia_bgw' AND p.proacl IS NOT NULL\n"
"     AND NOT aclcontains(p.proacl, makeaclitem(0, p.proowner, 'EXECUTE', false))\n"
"     AND has_function_privilege(me.oid, p.oid, 'EXECUTE')\n"
"  UNION ALL\n"
"  SELECT 11, p.oid::regprocedure::text, me.depth,\n"
"         format('%s can execute SECURITY DEFINER function %s of the application',\n"
"                me.who, p.oid::regprocedure)\n"
"    FROM me, flags, pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace\n"
"   WHERE NOT anysuper AND p.prosecdef\n"
"     AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'nadia_bgw')\n"
"     AND NOT EXISTS (SELECT 1 FROM pg_depend d\n"
"                      WHERE d.classid = 'pg_proc'::regclass\n"
"                        AND d.objid = p.oid AND d.deptype = 'e')\n"
"     AND has_function_privilege(me.oid, p.oid, 'EXECUTE')\n"
"     AND has_schema_privilege(me.oid, n.oid, 'USAGE')\n"
")\n"
"SELECT problem FROM (SELECT DISTINCT ON (o, k) o, problem FROM problems\n"
"                     ORDER BY o, k, depth) AS d\n"
" ORDER BY o, problem";

/*
 * The role that logged in.  session_user is that role unless SET SESSION
 * AUTHORIZATION changed it (which only a superuser who logged in can do,
 * and which a connection pooler may do for its clients); SET SESSION
 * AUTHORIZATION DEFAULT goes back to the role that authenticated, so
 * asking for it inside a transaction that is rolled back tells which role
 * that is without changing the session.  NULL (with the error in *errmsg)
 * when it cannot be found.
 */
static char *
login_role(PGconn *conn, char **errmsg)
{
	static const char *const steps[] = {
		"BEGIN READ ONLY",
		"SET LOCAL SESSION AUTHORIZATION DEFAULT",
		"SELECT session_user::text",
	};
	char	   *role = NULL;

	for (int i = 0; i < (int) (sizeof(steps) / sizeof(steps[0])); i++)
	{
		PGresult   *res = PQexec(conn, steps[i]);
		ExecStatusType st = PQresultStatus(res);

		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		{
			*errmsg = strdup(PQerrorMessage(conn));
			PQclear(res);
			break;
		}
		if (st == PGRES_TUPLES_OK && PQntuples(res) == 1)
			role = strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	PQclear(PQexec(conn, "ROLLBACK"));
	return role;
}

/*
 * Run the checks.  Returns the number of problems (0 = fine) and their
 * texts in *problems, or -1 when the check itself failed (its error is
 * then the single problem).
 */
int
security_check(PGconn *conn, char ***problems)
{
	PGresult   *res;
	char	   *err = NULL;
	char	   *login;
	const char *params[1];
	int			n;

	*problems = NULL;
	login = login_role(conn, &err);
	if (login == NULL)
	{
		*problems = calloc(1, sizeof(char *));
		(*problems)[0] = err ? err : strdup("could not tell which role logged in");
		return -1;
	}
	params[0] = login;
	res = PQexecParams(conn, check_sql, 1, NULL, params, NULL, NULL, 0);
	free(login);
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

/*
 * Say on stderr why a connection is refused: one line per problem (at most
 * 25), then what to do.  'where' names the connection ("role ... in
 * database ... on host ...").
 */
void
security_report(const char *where, char **problems, int n)
{
	if (n < 0)
	{
		mcp_log("could not run the privilege checks on %s: %s", where, problems[0]);
		return;
	}
	mcp_log("refusing to serve: %s can do more than read nadia_bgw history:", where);
	for (int i = 0; i < n && i < 25; i++)
		mcp_log("  - %s", problems[i]);
	if (n > 25)
		mcp_log("  ... and %d more", n - 25);
	mcp_log("hint: connect as a role made with CREATE ROLE nadia_mcp LOGIN IN ROLE nadia_bgw_reader, "
			"and grant it nothing else");
}

void
security_free(char **problems, int n)
{
	for (int i = 0; i < n; i++)
		free(problems[i]);
	free(problems);
}
