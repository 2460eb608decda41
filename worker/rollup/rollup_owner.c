/*-------------------------------------------------------------------------
 *
 * rollup_owner.c
 *		Who a rollup runs as, and what its definition means.
 *
 * A rollup's definition is user SQL (aggregates, group_by, filter) and its
 * table belongs to a user who may put triggers, rules, policies or index
 * expressions on it.  The worker is a superuser, so nothing of that may run
 * as the worker.  As PostgreSQL does for REFRESH MATERIALIZED VIEW
 * (commands/matview.c), every statement of a rollup runs as the rollup's
 * owner (the owner of its table), under SECURITY_RESTRICTED_OPERATION, with
 * search_path pinned to "pg_catalog, pg_temp"; the definition is parsed
 * once at creation and stored both as a parse tree bound to OIDs and
 * attnums (nodeToString, like pg_rewrite) and as schema-qualified text
 * deparsed from it, so that neither a later object in the creator's search
 * path nor a rename changes what it reads.
 *
 * The SQL entry points (create_rollup, drop_rollup, refresh_rollup,
 * rollup_check) are this file's nadia_bgw_rollup_api: it passes the
 * calling role (GetUserId(), which a SECURITY DEFINER function could not
 * learn) and its search_path to the SECURITY DEFINER implementation
 * nadia_bgw._api_<name>, which checks explicitly what that role may do.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/catversion.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/pg_list.h"
#include "parser/analyze.h"
#include "parser/parse_func.h"
#include "storage/lwlock.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "core/core.h"
#include "rollup/rollup.h"

PG_FUNCTION_INFO_V1(nadia_bgw_rollup_api);
PG_FUNCTION_INFO_V1(nadia_bgw_rollup_exec);
PG_FUNCTION_INFO_V1(nadia_bgw_rollup_parse);
PG_FUNCTION_INFO_V1(nadia_bgw_rollup_deparse);
PG_FUNCTION_INFO_V1(nadia_bgw_rollup_name);
PG_FUNCTION_INFO_V1(nadia_bgw_rollup_slot_room);
PG_FUNCTION_INFO_V1(nadia_bgw_rollup_relname);

/* A role switch in progress: what to put back. */
typedef struct RoleSwitch
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} RoleSwitch;

/*
 * Become "role" under SECURITY_RESTRICTED_OPERATION with the given search
 * path, in a new GUC nest level, exactly as REFRESH MATERIALIZED VIEW
 * becomes the view's owner.  Whatever the role's code SETs is undone by
 * leave_role(); an error is undone by the (sub)transaction abort, which
 * restores both the user id and the GUC nest level.
 */
static void
enter_role(Oid role, const char *path, RoleSwitch *sw)
{
	if (!OidIsValid(role) || !SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role with OID %u does not exist", role),
				 errhint("The owner of the rollup's table was dropped; drop the rollup and create it again.")));

	GetUserIdAndSecContext(&sw->save_userid, &sw->save_sec_context);
	sw->save_nestlevel = NewGUCNestLevel();
	SetUserIdAndSecContext(role,
						   sw->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	(void) set_config_option("search_path", path,
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

static void
leave_role(RoleSwitch *sw)
{
	AtEOXact_GUC(false, sw->save_nestlevel);
	SetUserIdAndSecContext(sw->save_userid, sw->save_sec_context);
}

/* Only our own SECURITY DEFINER code (or a superuser) may switch roles. */
static void
require_superuser(const char *fname)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function %s", fname),
				 errhint("This is an internal function of nadia_bgw.")));
}

/*
 * The public rollup functions.  The role calling is GetUserId() here (a
 * SECURITY INVOKER C function sees the real current user, also under
 * SET ROLE or inside another SECURITY DEFINER function); its search path is
 * needed to resolve the names it gave.  Both are passed, with the
 * arguments, to nadia_bgw._api_<this function's name>, a SECURITY DEFINER
 * function with a pinned search path revoked from PUBLIC.  Calling it
 * through fmgr skips its EXECUTE check, which is the point: only this
 * entry may call it on behalf of others.
 */
Datum
nadia_bgw_rollup_api(PG_FUNCTION_ARGS)
{
	Oid			self = fcinfo->flinfo->fn_oid;
	char	   *proname = get_func_name(self);
	Oid		   *argtypes;
	int			nargs;
	Oid			inner_types[FUNC_MAX_ARGS];
	Oid			inner;
	FmgrInfo	flinfo;
	LOCAL_FCINFO(inner_fcinfo, FUNC_MAX_ARGS);
	Datum		result;
	int			i;

	if (proname == NULL || get_func_namespace(self) != get_namespace_oid("nadia_bgw", false))
		elog(ERROR, "nadia_bgw_rollup_api called through an unexpected function");
	(void) get_func_signature(self, &argtypes, &nargs);
	if (nargs + 2 > FUNC_MAX_ARGS || nargs != PG_NARGS())
		elog(ERROR, "nadia_bgw_rollup_api: unexpected argument count");

	inner_types[0] = OIDOID;
	inner_types[1] = TEXTOID;
	for (i = 0; i < nargs; i++)
		inner_types[i + 2] = argtypes[i];
	inner = LookupFuncName(list_make2(makeString("nadia_bgw"),
									  makeString(psprintf("_api_%s", proname))),
						   nargs + 2, inner_types, false);
	{
		HeapTuple	tp = SearchSysCache1(PROCOID, ObjectIdGetDatum(inner));
		bool		secdef;

		if (!HeapTupleIsValid(tp))
			elog(ERROR, "cache lookup failed for function %u", inner);
		secdef = ((Form_pg_proc) GETSTRUCT(tp))->prosecdef;
		ReleaseSysCache(tp);
		if (!secdef)
			elog(ERROR, "nadia_bgw._api_%s must be SECURITY DEFINER", proname);
	}

	fmgr_info(inner, &flinfo);
	InitFunctionCallInfoData(*inner_fcinfo, &flinfo, nargs + 2,
							 PG_GET_COLLATION(), NULL, NULL);
	inner_fcinfo->args[0].value = ObjectIdGetDatum(GetUserId());
	inner_fcinfo->args[0].isnull = false;
	inner_fcinfo->args[1].value = CStringGetTextDatum(namespace_search_path);
	inner_fcinfo->args[1].isnull = false;
	for (i = 0; i < nargs; i++)
		inner_fcinfo->args[i + 2] = fcinfo->args[i];

	result = FunctionCallInvoke(inner_fcinfo);
	fcinfo->isnull = inner_fcinfo->isnull;
	return result;
}

/*
 * nadia_bgw._rollup_exec(owner oid, sql text, lo timestamptz, hi timestamptz)
 * RETURNS bigint
 *
 * Run one statement of a rollup as its owner ($1 = lo, $2 = hi).  Returns
 * the first column of a SELECT's first row (an integer), or the number of
 * rows a DML statement processed.  Deferred triggers queued meanwhile (a
 * constraint trigger the owner put on the table, or one that its code
 * reached) are fired before switching back: at commit they would run as
 * the worker.
 */
Datum
nadia_bgw_rollup_exec(PG_FUNCTION_ARGS)
{
	Oid			owner;
	char	   *sql;
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[2];
	char		nulls[2];
	RoleSwitch	sw;
	int			rc;
	int64		result = 0;

	require_superuser("nadia_bgw._rollup_exec");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("owner and statement must not be NULL")));
	owner = PG_GETARG_OID(0);
	sql = text_to_cstring(PG_GETARG_TEXT_PP(1));
	values[0] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	nulls[0] = PG_ARGISNULL(2) ? 'n' : ' ';
	values[1] = PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3);
	nulls[1] = PG_ARGISNULL(3) ? 'n' : ' ';

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* what the caller's own statements deferred fires as the caller */
	rc = SPI_execute("SET CONSTRAINTS ALL IMMEDIATE", false, 0);
	if (rc < 0)
		elog(ERROR, "SET CONSTRAINTS failed: %s", SPI_result_code_string(rc));
	enter_role(owner, NADIA_SAFE_SEARCH_PATH, &sw);
	rc = SPI_execute_with_args(sql, 2, types, values, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "rollup statement failed: %s", SPI_result_code_string(rc));
	if (rc == SPI_OK_SELECT)
	{
		if (SPI_processed > 0 && SPI_tuptable->tupdesc->natts >= 1)
		{
			bool		isnull;
			Oid			t = SPI_gettypeid(SPI_tuptable->tupdesc, 1);
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull);

			if (!isnull && t == INT8OID)
				result = DatumGetInt64(d);
			else if (!isnull && t == INT4OID)
				result = DatumGetInt32(d);
		}
	}
	else
		result = (int64) SPI_processed;
	/* nothing is deferred any more, but a trigger may have SET it back */
	rc = SPI_execute("SET CONSTRAINTS ALL IMMEDIATE", false, 0);
	if (rc < 0)
		elog(ERROR, "SET CONSTRAINTS failed: %s", SPI_result_code_string(rc));
	leave_role(&sw);
	SPI_finish();

	PG_RETURN_INT64(result);
}

/* Parse and analyze one SELECT as the current user and search path. */
static Query *
parse_select(const char *sql)
{
	List	   *raw = pg_parse_query(sql);
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Query	   *q;

	if (list_length(raw) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("a rollup definition must be a single statement")));
	q = parse_analyze_fixedparams(linitial_node(RawStmt, raw), sql, types, 2, NULL);
	if (q->commandType != CMD_SELECT || q->utilityStmt != NULL ||
		q->rowMarks != NIL || q->hasModifyingCTE)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("a rollup definition must be a plain SELECT")));
	return q;
}

/*
 * nadia_bgw._rollup_parse(role oid, search_path text, sql text,
 *     OUT kind text, OUT query text, OUT tree text, OUT relations oid[],
 *     OUT catversion integer)
 *
 * Parse "sql" (a SELECT, $1 and $2 timestamptz) as "role" with the search
 * path the creator had, and return: what it is (aggregate, plain, window,
 * srf), the text deparsed with search_path = pg_catalog, pg_temp (so every
 * table, function, operator and type outside pg_catalog comes out
 * schema-qualified, bound to what the creator's path resolved), its parse
 * tree, and the tables of its top-level FROM.  Parsing runs no user code,
 * but type input functions of literals do run: hence the role switch.
 */
Datum
nadia_bgw_rollup_parse(PG_FUNCTION_ARGS)
{
	Oid			role = PG_GETARG_OID(0);
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *sql = text_to_cstring(PG_GETARG_TEXT_PP(2));
	RoleSwitch	sw;
	Query	   *q;
	const char *kind;
	char	   *deparsed;
	char	   *tree;
	List	   *rels = NIL;
	ListCell   *lc;
	Datum	   *relds;
	int			n = 0;
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	require_superuser("nadia_bgw._rollup_parse");
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	enter_role(role, path, &sw);
	q = parse_select(sql);
	leave_role(&sw);

	if (q->hasWindowFuncs)
		kind = "window";
	else if (q->hasTargetSRFs)
		kind = "srf";
	else if (q->hasAggs)
		kind = "aggregate";
	else
		kind = "plain";

	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		/* PostgreSQL 18 adds a GROUP entry: only tables count */
		if (rte->rtekind == RTE_RELATION)
			rels = lappend_oid(rels, rte->relid);
	}
	relds = palloc(sizeof(Datum) * (list_length(rels) + 1));
	foreach(lc, rels)
		relds[n++] = ObjectIdGetDatum(lfirst_oid(lc));

	tree = nodeToString(q);
	enter_role(role, NADIA_SAFE_SEARCH_PATH, &sw);
	deparsed = pg_get_querydef(q, false);
	leave_role(&sw);

	values[0] = CStringGetTextDatum(kind);
	values[1] = CStringGetTextDatum(deparsed);
	values[2] = CStringGetTextDatum(tree);
	values[3] = PointerGetDatum(construct_array(relds, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	values[4] = Int32GetDatum(CATALOG_VERSION_NO);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * nadia_bgw._rollup_deparse(owner oid, tree text, catversion integer)
 * RETURNS text
 *
 * The definition as text again, from the tree stored at creation: since
 * the tree holds OIDs and attnums, a renamed source, column or function
 * comes out under its new name, and a new table made under the source's
 * old name is never read.  NULL when the tree was written by another
 * catalog version (after pg_upgrade: the node format may differ, so the
 * caller uses the stored text and re-parses it).
 */
Datum
nadia_bgw_rollup_deparse(PG_FUNCTION_ARGS)
{
	Oid			owner = PG_GETARG_OID(0);
	char	   *tree;
	Node	   *node;
	RoleSwitch	sw;
	char	   *deparsed;

	require_superuser("nadia_bgw._rollup_deparse");
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) ||
		PG_GETARG_INT32(2) != CATALOG_VERSION_NO)
		PG_RETURN_NULL();
	tree = text_to_cstring(PG_GETARG_TEXT_PP(1));
	node = stringToNode(tree);
	if (node == NULL || !IsA(node, Query))
		elog(ERROR, "stored rollup definition is not a query");

	enter_role(owner, NADIA_SAFE_SEARCH_PATH, &sw);
	deparsed = pg_get_querydef((Query *) node, false);
	leave_role(&sw);
	PG_RETURN_TEXT_P(cstring_to_text(deparsed));
}

/*
 * nadia_bgw._rollup_name(search_path text, name text,
 *     OUT nspname name, OUT relname name, OUT is_temp boolean,
 *     OUT relid regclass)
 *
 * How "name" reads with the caller's search path: the schema a new table
 * of that name would go to (the first of the path, or the one given), and
 * the relation it names now, if any.  Done here rather than by setting the
 * caller's path in PL/pgSQL, where every unqualified function call of our
 * own SECURITY DEFINER code would then resolve through it.
 */
Datum
nadia_bgw_rollup_name(PG_FUNCTION_ARGS)
{
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	List	   *names;
	RangeVar   *rv;
	RoleSwitch	sw;
	Oid			nsp = InvalidOid;
	Oid			relid;
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	require_superuser("nadia_bgw._rollup_name");
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	names = stringToQualifiedNameList(name
#if PG_VERSION_NUM >= 160000
									  , NULL
#endif
		);
	if (list_length(names) > 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid rollup name \"%s\"", name)));
	rv = makeRangeVarFromNameList(names);

	enter_role(GetUserId(), path, &sw);
	relid = RangeVarGetRelid(rv, NoLock, true);
	if (rv->schemaname != NULL)
	{
		if (strcmp(rv->schemaname, "pg_temp") == 0 ||
			strncmp(rv->schemaname, "pg_temp_", 8) == 0)
			nulls[0] = true;	/* a temporary schema: refused by the caller */
		else
			nsp = get_namespace_oid(rv->schemaname, true);
	}
	else
	{
		List	   *sp = fetch_search_path(false);

		if (sp != NIL)
			nsp = linitial_oid(sp);
	}
	leave_role(&sw);

	values[2] = BoolGetDatum(nulls[0] || (OidIsValid(nsp) && isAnyTempNamespace(nsp)));
	if (OidIsValid(nsp) && !isAnyTempNamespace(nsp))
		values[0] = CStringGetDatum(get_namespace_name(nsp));
	else
		nulls[0] = true;
	values[1] = CStringGetDatum(rv->relname);
	if (OidIsValid(relid))
		values[3] = ObjectIdGetDatum(relid);
	else
		nulls[3] = true;
	/* name columns: build proper NameData */
	if (!nulls[0])
	{
		Name		n = palloc0(NAMEDATALEN);

		namestrcpy(n, DatumGetCString(values[0]));
		values[0] = NameGetDatum(n);
	}
	{
		Name		n = palloc0(NAMEDATALEN);

		namestrcpy(n, rv->relname);
		values[1] = NameGetDatum(n);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * nadia_bgw._rollup_slot_room(ids integer[], uids bigint[]) RETURNS integer
 *
 * How many more rollups the server's shared slots can take (one slot each,
 * NADIA_ROLLUP_SLOTS for the whole cluster, every database together),
 * given the rollups of this database (ids, uids): those holding no slot
 * yet take one at their first refresh.  Without shared memory (library
 * not preloaded) the bound is the slot count itself.
 */
Datum
nadia_bgw_rollup_slot_room(PG_FUNCTION_ARGS)
{
	ArrayType  *ids = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *uids = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *idd;
	Datum	   *uidd;
	int			nid;
	int			nuid;
	int			pending = 0;
	int			free_slots = 0;
	int			i;

	deconstruct_array(ids, INT4OID, sizeof(int32), true, TYPALIGN_INT,
					  &idd, NULL, &nid);
	deconstruct_array(uids, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &uidd, NULL, &nuid);
	if (nid != nuid)
		elog(ERROR, "ids and uids differ in length");
	if (rollup_shared == NULL)
		PG_RETURN_INT32(NADIA_ROLLUP_SLOTS - nid);
	for (i = 0; i < nid; i++)
	{
		uint64		incarnation;

		if (rollup_find_slot(DatumGetInt32(idd[i]), DatumGetInt64(uidd[i]),
							 &incarnation) < 0)
			pending++;
	}
	LWLockAcquire(rollup_shared->lock, LW_SHARED);
	for (i = 0; i < NADIA_ROLLUP_SLOTS; i++)
		if (rollup_shared->slots[i].dboid == InvalidOid)
			free_slots++;
	LWLockRelease(rollup_shared->lock);
	PG_RETURN_INT32(free_slots - pending);
}

/*
 * nadia_bgw._rollup_relname(search_path text, rel regclass) RETURNS text
 *
 * A relation's name as the caller would write it with his search path
 * (unqualified when visible), for messages: our own code runs with a pinned
 * path, where every user table comes out schema-qualified.
 */
Datum
nadia_bgw_rollup_relname(PG_FUNCTION_ARGS)
{
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			rel = PG_GETARG_OID(1);
	RoleSwitch	sw;
	char	   *s;

	require_superuser("nadia_bgw._rollup_relname");
	enter_role(GetUserId(), path, &sw);
	s = DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(rel)));
	leave_role(&sw);
	PG_RETURN_TEXT_P(cstring_to_text(s));
}
