/*-------------------------------------------------------------------------
 *
 * plan_store_sql.c
 *		The SQL functions that read the plan store:
 *		nadia_bgw._plan_store(with_text) and nadia_bgw._plan_store_info().
 *
 * Both are for superusers only (the extension script revokes them from
 * PUBLIC): the "sample" task drains them into plan history, where readers
 * get what they may see.  The entries are copied under the store's lock
 * held shared, the rows built after it is released.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#include "plans/plans_internal.h"

PG_FUNCTION_INFO_V1(nadia_bgw_plan_store);
PG_FUNCTION_INFO_V1(nadia_bgw_plan_store_info);

#define PLAN_STORE_COLS		19
#define PLAN_STORE_INFO_COLS	8

/* one entry copied out of the store */
typedef struct CopiedPlan
{
	NadiaPlanSnapshot e;
	char	   *text[4];		/* plan_text, summary, plan_nodes, sampled_nodes */
} CopiedPlan;

typedef struct CopyArg
{
	bool		with_text;
	List	   *plans;
} CopyArg;

static char *
copy_text(const char *area, const NadiaPlanText *piece)
{
	if (piece->len == 0)
		return NULL;
	return pnstrdup(area + piece->off, piece->len);
}

static void
copy_plan(const NadiaPlanSnapshot *e, const char *area, void *arg)
{
	CopyArg    *c = (CopyArg *) arg;
	CopiedPlan *p = palloc0(sizeof(CopiedPlan));

	p->e = *e;
	if (c->with_text)
	{
		if (e->text_state == NADIA_PLAN_TEXT_STORED)
		{
			p->text[0] = copy_text(area, &e->plan_text);
			p->text[1] = copy_text(area, &e->summary);
			p->text[2] = copy_text(area, &e->plan_nodes);
		}
		p->text[3] = copy_text(area, &e->sampled_nodes);
	}
	c->plans = lappend(c->plans, p);
}

/* nadia_bgw._plan_store(with_text boolean) */
Datum
nadia_bgw_plan_store(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CopyArg		c;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	c.with_text = PG_ARGISNULL(0) ? true : PG_GETARG_BOOL(0);
	c.plans = NIL;
	nadia_plan_store_visit(copy_plan, &c);

	foreach(lc, c.plans)
	{
		CopiedPlan *p = (CopiedPlan *) lfirst(lc);
		Datum		values[PLAN_STORE_COLS];
		bool		nulls[PLAN_STORE_COLS];
		int			i = 0;
		int			t;

		memset(nulls, 0, sizeof(nulls));
		values[i++] = ObjectIdGetDatum(p->e.key.dbid);
		values[i++] = ObjectIdGetDatum(p->e.key.userid);
		values[i++] = Int64GetDatum(p->e.key.queryid);
		values[i++] = Int64GetDatum(p->e.key.planid);
		values[i++] = Int64GetDatum(p->e.c.calls);
		values[i++] = Float8GetDatum(p->e.c.total_time);
		values[i++] = Float8GetDatum(p->e.c.min_time);
		values[i++] = Float8GetDatum(p->e.c.max_time);
		values[i++] = Int64GetDatum(p->e.c.rows);
		values[i++] = Int64GetDatum(p->e.c.shared_blks_hit);
		values[i++] = Int64GetDatum(p->e.c.shared_blks_read);
		values[i++] = Int64GetDatum(p->e.c.sampled_calls);
		values[i] = nadia_timestamp_datum(p->e.c.first_seen, &nulls[i]);
		i++;
		values[i] = nadia_timestamp_datum(p->e.c.last_seen, &nulls[i]);
		i++;
		values[i] = nadia_timestamp_datum(p->e.sampled_at, &nulls[i]);
		i++;
		for (t = 0; t < 4; t++, i++)
		{
			nulls[i] = (p->text[t] == NULL);
			if (nulls[i])
				values[i] = (Datum) 0;
			else if (t < 2)
				values[i] = CStringGetTextDatum(p->text[t]);
			else
				values[i] = DirectFunctionCall1(jsonb_in, CStringGetDatum(p->text[t]));
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* nadia_bgw._plan_store_info() */
Datum
nadia_bgw_plan_store_info(PG_FUNCTION_ARGS)
{
	NadiaPlanStoreInfo info;
	TupleDesc	tupdesc;
	Datum		values[PLAN_STORE_INFO_COLS];
	bool		nulls[PLAN_STORE_INFO_COLS];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	nadia_plan_store_info(&info);
	memset(nulls, 0, sizeof(nulls));
	values[0] = Int32GetDatum(info.entries);
	values[1] = Int32GetDatum(info.max_entries);
	values[2] = Int64GetDatum(info.text_bytes);
	values[3] = Int64GetDatum(info.max_text_bytes);
	values[4] = Int64GetDatum(info.not_tracked);
	values[5] = Int64GetDatum(info.texts_dropped);
	values[6] = Int64GetDatum(info.plan_ids_computed);
	values[7] = nadia_timestamp_datum(info.created_at, &nulls[7]);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
