/*-------------------------------------------------------------------------
 *
 * plan_debug.c
 *		Test build only: the plan describers called on one statement.
 *
 * nadia_debug_describe_plan(query text, analyze bool) plans the query,
 * starts its executor (and runs it with row instrumentation when
 * "analyze"), and returns what the capture would store: plan id, masked
 * text, summary, plan_nodes, sampled_nodes.  It is not part of the
 * extension script: regress/sql/plan_describe.sql creates it itself,
 * so that the describers are tested without the executor hooks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#ifdef NADIA_TEST

#include "access/htup_details.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"

#include "plans/plan_describe.h"

PG_FUNCTION_INFO_V1(nadia_debug_describe_plan);

Datum
nadia_debug_describe_plan(PG_FUNCTION_ARGS)
{
	char	   *query = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		analyze = PG_GETARG_BOOL(1);
	TupleDesc	tupdesc;
	List	   *raw;
	List	   *queries;
	Query	   *q;
	PlannedStmt *ps;
	QueryDesc  *qd;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	raw = pg_parse_query(query);
	if (list_length(raw) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("exactly one statement expected"),
				 errhint("Pass a single SELECT.")));
	queries = pg_analyze_and_rewrite_fixedparams(linitial_node(RawStmt, raw),
												 query, NULL, 0, NULL);
	q = linitial_node(Query, queries);
	if (list_length(queries) != 1 || q->commandType != CMD_SELECT ||
		q->utilityStmt != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("only a SELECT can be described"),
				 errhint("Pass a single SELECT.")));

	PushActiveSnapshot(GetTransactionSnapshot());
	ps = pg_plan_query(q, query, CURSOR_OPT_PARALLEL_OK, NULL);
	qd = CreateQueryDesc(ps, query, GetActiveSnapshot(), InvalidSnapshot,
						 None_Receiver, NULL, NULL,
						 analyze ? INSTRUMENT_ROWS : 0);
	ExecutorStart(qd, 0);
	if (analyze)
	{
#if PG_VERSION_NUM >= 180000
		ExecutorRun(qd, ForwardScanDirection, 0);
#else
		ExecutorRun(qd, ForwardScanDirection, 0, true);
#endif
		ExecutorFinish(qd);
	}

	values[0] = Int64GetDatum((int64) nadia_plan_id(ps));
	values[1] = CStringGetTextDatum(nadia_plan_masked_text(qd));
	values[2] = CStringGetTextDatum(nadia_plan_summary(ps));
	values[3] = DirectFunctionCall1(jsonb_in, CStringGetDatum(nadia_plan_nodes_json(ps)));
	if (analyze)
		values[4] = DirectFunctionCall1(jsonb_in, CStringGetDatum(nadia_plan_sampled_json(qd)));
	else
		nulls[4] = true;

	ExecutorEnd(qd);
	FreeQueryDesc(qd);
	PopActiveSnapshot();

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

#endif							/* NADIA_TEST */
