/*-------------------------------------------------------------------------
 *
 * advice_whatif.c
 *		What-if planning of one statement: its planner cost without and
 *		with a hypothetical index (hypopg), planned as the statement's own
 *		role, in a subtransaction that is always rolled back.
 *
 * A statement's text in history is pg_stat_statements' normalized text,
 * its constants replaced by $n.  It is planned the way the application's
 * prepared statements are: PREPARE (parameter types inferred) and EXPLAIN
 * EXECUTE with NULL parameters under plan_cache_mode =
 * force_generic_plan, so the values never matter (PostgreSQL 15 has no
 * EXPLAIN (GENERIC_PLAN)).  Only the plan's total cost is kept.
 *
 * Planning can run user code (a function inlined or folded by the
 * planner), so it runs with the privileges of the role that ran the
 * statement (its user id, as SET ROLE, marked as a local user id change
 * so that its code cannot switch back; its own search_path), never as a
 * superuser: a
 * statement whose role is a superuser, is gone, or whose text is not
 * exactly one SELECT, INSERT, UPDATE or DELETE is refused and the reason
 * recorded.  The text is checked with the raw parser before anything runs
 * it, and the PREPARE built around it is checked again, so it can never
 * carry a second statement.  The user id and the settings (search_path,
 * plan_cache_mode) are local to a subtransaction that is rolled back even
 * when everything worked; the prepared statement and the hypothetical
 * index, which no rollback removes, are dropped explicitly.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>

#include "commands/prepare.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timeout.h"

#include "core/core.h"
#include "advice/advice_internal.h"

#define WHATIF_NAME "nadia_bgw_advice_whatif"

/* The raw parser over a text, in a guarded call (a text may not parse). */
typedef struct ParseArg
{
	const char *sql;
	List	   *parsed;
} ParseArg;

static void
parse_text(void *arg)
{
	ParseArg   *p = (ParseArg *) arg;

	p->parsed = raw_parser(p->sql, RAW_PARSE_DEFAULT);
}

/* The one statement of "sql", NULL (and *why set) unless there is one. */
static Node *
only_statement(const char *sql, const char **why)
{
	ParseArg	p = {sql, NIL};

	if (!nadia_guarded_call("parsing a statement text", NULL, parse_text, &p,
							NADIA_GUARD_QUIET, NULL))
	{
		*why = "the text does not parse";
		return NULL;
	}
	if (list_length(p.parsed) != 1)
	{
		*why = psprintf("the text holds %d statements, not one",
						list_length(p.parsed));
		return NULL;
	}
	return ((RawStmt *) linitial(p.parsed))->stmt;
}

/*
 * Why the statement of "check" must not be planned, or NULL.  Sets
 * *prepare_sql to the PREPARE that plans it.
 */
static const char *
refusal(NadiaAdviceCheck *check, char **prepare_sql)
{
	const char *why = NULL;
	Node	   *stmt;
	Node	   *outer;

	if (check->rolname == NULL)
		return "the statement's role no longer exists";
	if (check->rolsuper)
		return "the statement's role is a superuser: planning it would run its functions with every privilege";
	if (check->query == NULL)
		return "history holds no text for the statement";
	if (check->cut)
		return "the stored text was cut (nadia_bgw.query_text_max)";

	stmt = only_statement(check->query, &why);
	if (stmt == NULL)
		return why;
	if (!(IsA(stmt, SelectStmt) || IsA(stmt, InsertStmt) ||
		  IsA(stmt, UpdateStmt) || IsA(stmt, DeleteStmt)))
		return "only SELECT, INSERT, UPDATE and DELETE statements are planned";
	if (IsA(stmt, SelectStmt) && ((SelectStmt *) stmt)->intoClause != NULL)
		return "SELECT INTO creates a table: not planned";

	/* the PREPARE around it must still be exactly one statement */
	*prepare_sql = psprintf("PREPARE " WHATIF_NAME " AS %s", check->query);
	outer = only_statement(*prepare_sql, &why);
	if (outer == NULL || !IsA(outer, PrepareStmt) ||
		nodeTag(((PrepareStmt *) outer)->query) != nodeTag(stmt))
		return "the text does not make one PREPARE statement";
	return NULL;
}

/* The total cost of the generic plan of the statement, prepared afresh. */
static double
generic_plan_cost(const char *prepare_sql)
{
	StringInfoData ex;
	bool		isnull;
	int64		nparams;
	int64		i;
	cJSON	   *root;
	cJSON	   *cost;
	double		result;

	nadia_spi_check(SPI_execute(prepare_sql, false, 0), SPI_OK_UTILITY,
					"preparing the statement");
	nadia_spi_check(SPI_execute("SELECT pg_catalog.cardinality(parameter_types)::int8"
								"  FROM pg_catalog.pg_prepared_statements"
								" WHERE name = '" WHATIF_NAME "'", true, 0),
					SPI_OK_SELECT, "reading the prepared statement");
	nparams = nadia_spi_getint8(0, 1, &isnull);

	initStringInfo(&ex);
	appendStringInfoString(&ex, "EXPLAIN (FORMAT JSON) EXECUTE " WHATIF_NAME);
	for (i = 0; i < nparams; i++)
		appendStringInfoString(&ex, i == 0 ? "(NULL" : ", NULL");
	if (nparams > 0)
		appendStringInfoChar(&ex, ')');
	nadia_spi_check(SPI_execute(ex.data, false, 0), SPI_OK_UTILITY,
					"explaining the statement");
	root = cJSON_Parse(nadia_spi_getstring(0, 1));
	DropPreparedStatement(WHATIF_NAME, true);

	cost = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(root, 0), "Plan"),
							   "Total Cost");
	if (!cJSON_IsNumber(cost))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("EXPLAIN returned no total cost")));
	result = cost->valuedouble;
	cJSON_Delete(root);
	return result;
}

/*
 * Run one statement calling hypopg, "sql" with %s for hypopg's schema and
 * $1 for "arg" (when argtype is valid); its int8 result (0 when none).
 */
static int64
hypopg_call(const char *schema, const char *sql, Oid argtype, Datum arg)
{
	bool		isnull;

	sql = psprintf(sql, quote_identifier(schema));
	nadia_spi_check(SPI_execute_with_args(sql, OidIsValid(argtype) ? 1 : 0,
										  &argtype, &arg, NULL, false, 0),
					SPI_OK_SELECT, "calling hypopg");
	return OidIsValid(argtype) ? nadia_spi_getint8(0, 1, &isnull) : 0;
}

/* Set a setting until the end of the (sub)transaction. */
static void
set_local(const char *name, const char *value, GucContext context)
{
	(void) set_config_option(name, value, context, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * The search_path the statement's role has in this database (ALTER ROLE
 * ... IN DATABASE, ALTER ROLE, ALTER DATABASE, in that order), or the
 * default one.
 */
static char *
role_search_path(Oid userid)
{
	Oid			types[2] = {OIDOID, OIDOID};
	Datum		values[2] = {ObjectIdGetDatum(userid), ObjectIdGetDatum(MyDatabaseId)};

	nadia_spi_check(nadia_spi_exec("SELECT pg_catalog.substr(c, 13)"
								   "  FROM pg_catalog.pg_db_role_setting s,"
								   "       pg_catalog.unnest(s.setconfig) c"
								   " WHERE (s.setrole, s.setdatabase) IN (($1, $2), ($1, 0), (0, $2))"
								   "   AND c LIKE 'search_path=%'"
								   " ORDER BY s.setrole = 0, s.setdatabase = 0 LIMIT 1",
								   2, types, values, NULL, true, 0),
					SPI_OK_SELECT, "reading the role's search_path");
	return SPI_processed > 0 ? nadia_spi_getstring(0, 1) : pstrdup("\"$user\", public");
}

typedef struct WhatifRun
{
	NadiaAdviceCheck *check;
	const char *prepare_sql;
	MemoryContext cxt;
	char	   *error;			/* the message of a failure */
} WhatifRun;

/*
 * The planning itself, in a guarded call that is always rolled back
 * (NADIA_GUARD_ROLLBACK): the rollback restores the user id and the local
 * settings.  A failure's message is kept for the check's reason (the guard
 * keeps only its SQLSTATE).
 */
static void
whatif_run(void *arg)
{
	WhatifRun  *w = (WhatifRun *) arg;
	NadiaAdviceCheck *c = w->check;

	PG_TRY();
	{
		char	   *path = role_search_path(c->userid);
		int64		hypo;
		Oid			save_userid;
		int			save_sec;

		enable_timeout_after(STATEMENT_TIMEOUT, nadia_advice_plan_timeout);
		set_local("search_path", path, PGC_USERSET);
		set_local("plan_cache_mode", "force_generic_plan", PGC_USERSET);

		/*
		 * Become the role as SET ROLE would, but as a SECURITY DEFINER
		 * function does (SECURITY_LOCAL_USERID_CHANGE), so the role's code
		 * cannot SET ROLE or RESET ROLE back to the session's user, the
		 * worker's superuser.  SECURITY_RESTRICTED_OPERATION would refuse
		 * the PREPARE itself.  The subtransaction's rollback restores the
		 * user id.
		 */
		GetUserIdAndSecContext(&save_userid, &save_sec);
		SetUserIdAndSecContext(c->userid, save_sec | SECURITY_LOCAL_USERID_CHANGE);

		c->cost_before = generic_plan_cost(w->prepare_sql);
		hypo = hypopg_call(c->hypopg_schema,
						   "SELECT indexrelid::int8 FROM %s.hypopg_create_index($1)", TEXTOID,
						   CStringGetTextDatum(c->create_sql));
		c->cost_after = generic_plan_cost(w->prepare_sql);
		c->index_bytes = hypopg_call(c->hypopg_schema, "SELECT %s.hypopg_relation_size($1)",
									 OIDOID, ObjectIdGetDatum((Oid) hypo));
		(void) hypopg_call(c->hypopg_schema, "SELECT %s.hypopg_reset()", InvalidOid, (Datum) 0);
		disable_timeout(STATEMENT_TIMEOUT, false);
	}
	PG_CATCH();
	{
		MemoryContext ecxt = MemoryContextSwitchTo(w->cxt);
		ErrorData  *edata;

		disable_timeout(STATEMENT_TIMEOUT, false);
		edata = CopyErrorData();
		w->error = pstrdup(edata->message ? edata->message : "unknown error");
		FreeErrorData(edata);
		MemoryContextSwitchTo(ecxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/* Drop what a rollback does not: the prepared statement, the hypothetical index. */
static void
whatif_cleanup(void *arg)
{
	const char *schema = (const char *) arg;

	DropPreparedStatement(WHATIF_NAME, false);
	(void) hypopg_call(schema, "SELECT %s.hypopg_reset()", InvalidOid, (Datum) 0);
}

/*
 * Plan check->query without and with check->create_sql as a hypothetical
 * index; sets outcome, reason, costs and the index's estimated size.
 */
void
nadia_advice_whatif(NadiaAdviceCheck *check)
{
	WhatifRun	w = {check, NULL, CurrentMemoryContext, NULL};
	char	   *prepare_sql = NULL;
	const char *why = refusal(check, &prepare_sql);
	bool		planned;

	check->reason = NULL;
	if (why != NULL)
	{
		check->outcome = "refused";
		check->reason = pstrdup(why);
		return;
	}
	w.prepare_sql = prepare_sql;
	planned = nadia_guarded_call("what-if planning of a statement", NULL,
								 whatif_run, &w,
								 NADIA_GUARD_ROLLBACK | NADIA_GUARD_QUIET, NULL);
	(void) nadia_guarded_call("dropping the what-if planning's leftovers", NULL,
							  whatif_cleanup, (void *) check->hypopg_schema, 0, NULL);
	if (planned)
	{
		check->outcome = "planned";
		return;
	}
	check->outcome = "failed";
	check->reason = w.error ? w.error : pstrdup("unknown error");
	ereport(WARNING,
			(errmsg("nadia_bgw: what-if planning of statement " INT64_FORMAT " as role \"%s\" failed: %s",
					check->queryid, check->rolname, check->reason),
			 errhint("The candidate index stays unverified for this statement.")));
}
