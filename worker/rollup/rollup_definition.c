/*-------------------------------------------------------------------------
 *
 * rollup_definition.c
 *		What a rollup's definition means: parsed once at creation as its
 *		creator, stored as a tree bound to OIDs, deparsed from that tree;
 *		and how a name reads with the caller's search path.
 *
 * The definition is parsed once at creation and stored both as a parse
 * tree bound to OIDs and attnums (nodeToString, like pg_rewrite) and as
 * schema-qualified text deparsed from it, so that neither a later object
 * in the creator's search path nor a rename changes what it reads.  Every
 * step that may run user code (type input functions of literals, output
 * functions while deparsing) runs as the rollup's owner or the caller,
 * through the role switch of rollup_owner.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/catversion.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/pg_list.h"
#include "parser/analyze.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/ruleutils.h"
#include "utils/varlena.h"

#include "core/core.h"
#include "rollup/rollup_internal.h"

PG_FUNCTION_INFO_V1(nadia_bgw_rollup_parse);
PG_FUNCTION_INFO_V1(nadia_bgw_rollup_deparse);
PG_FUNCTION_INFO_V1(nadia_bgw_rollup_name);
PG_FUNCTION_INFO_V1(nadia_bgw_rollup_relname);

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
	NadiaRollupRoleSwitch sw;
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

	nadia_rollup_require_superuser("nadia_bgw._rollup_parse");
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	nadia_rollup_enter_role(role, path, &sw);
	q = parse_select(sql);
	nadia_rollup_leave_role(&sw);

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
	nadia_rollup_enter_role(role, NADIA_SAFE_SEARCH_PATH, &sw);
	deparsed = pg_get_querydef(q, false);
	nadia_rollup_leave_role(&sw);

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
	NadiaRollupRoleSwitch sw;
	char	   *deparsed;

	nadia_rollup_require_superuser("nadia_bgw._rollup_deparse");
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) ||
		PG_GETARG_INT32(2) != CATALOG_VERSION_NO)
		PG_RETURN_NULL();
	tree = text_to_cstring(PG_GETARG_TEXT_PP(1));
	node = stringToNode(tree);
	if (node == NULL || !IsA(node, Query))
		elog(ERROR, "stored rollup definition is not a query");

	nadia_rollup_enter_role(owner, NADIA_SAFE_SEARCH_PATH, &sw);
	deparsed = pg_get_querydef((Query *) node, false);
	nadia_rollup_leave_role(&sw);
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
	NadiaRollupRoleSwitch sw;
	Oid			nsp = InvalidOid;
	Oid			relid;
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	nadia_rollup_require_superuser("nadia_bgw._rollup_name");
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

	nadia_rollup_enter_role(GetUserId(), path, &sw);
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
	nadia_rollup_leave_role(&sw);

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
	NadiaRollupRoleSwitch sw;
	char	   *s;

	nadia_rollup_require_superuser("nadia_bgw._rollup_relname");
	nadia_rollup_enter_role(GetUserId(), path, &sw);
	s = DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(rel)));
	nadia_rollup_leave_role(&sw);
	PG_RETURN_TEXT_P(cstring_to_text(s));
}
