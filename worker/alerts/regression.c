/*-------------------------------------------------------------------------
 *
 * regression.c
 *		Regression detectors, learned baselines and the "regressions" task
 *		(also callable as nadia_bgw.detect_regressions()).
 *
 * A detection run:
 *	1. takes a transaction-level advisory lock, so the worker and a manual
 *	   nadia_bgw.detect_regressions() never interleave;
 *	2. finds the newest history samples: the "recent window" (the last
 *	   nadia_bgw.regression_window samples) is what is judged, and the
 *	   samples not seen by the previous run are what is new;
 *	3. runs each detector in its own subtransaction, so one failing query
 *	   (a missing history view, another server version) costs only its own
 *	   kinds; detectors that judge history run only when there is a new
 *	   sample, detectors that look at the server's current state always;
 *	4. hands the candidates to the alert life cycle (alert.c);
 *	5. folds the new samples into the baselines, except for objects that
 *	   have an open alert: a regression must not become the new normal
 *	   while it is being reported.
 *
 * Baselines are exponentially weighted means and variances (West's
 * incremental form) kept in nadia_bgw.baselines, one row per object and
 * metric, updated from each new sample only, so a run costs the same with
 * a day or a month of history.  Until an object has
 * nadia_bgw.baseline_min_samples observations nothing is judged against it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "alerts/alerts.h"
#include "alerts/alerts_internal.h"

PG_FUNCTION_INFO_V1(nadia_bgw_detect_regressions);

/* what a WARNING about a failed step of the run says next */
#define DETECT_STEP_HINT "The rest of the detection run went on."

typedef struct DetectorCall
{
	const Detector *det;
	DetectContext *ctx;
	List	   *found;
} DetectorCall;

static void
call_detector(void *arg)
{
	DetectorCall *call = (DetectorCall *) arg;

	call->found = call->det->run(call->ctx);
}

/*
 * Run one detector.  If it fails, its kinds count as not evaluated this
 * run, so their open alerts neither fire nor count towards resolution.
 */
static bool
run_detector(const Detector *det, DetectContext *ctx, List **candidates)
{
	DetectorCall call = {det, ctx, NIL};
	char	   *what = psprintf("detector \"%s\"", det->name);

	if (!nadia_guarded_call(what, DETECT_STEP_HINT, call_detector, &call, 0, NULL))
		return false;
	*candidates = list_concat(*candidates, call.found);
	return true;
}

/* ---------------------------------------------------------------------
 * Samples and baselines
 * ---------------------------------------------------------------------
 */

/* One sample: id and time (history rows are keyed by time). */
typedef struct SampleRef
{
	int64		id;
	TimestampTz at;
} SampleRef;

static Datum
timestamptz_array(List *samples)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(samples), 1));
	ListCell   *lc;
	int			i = 0;

	foreach(lc, samples)
		elems[i++] = TimestampTzGetDatum(((SampleRef *) lfirst(lc))->at);
	return PointerGetDatum(construct_array(elems, i, TIMESTAMPTZOID,
										   sizeof(TimestampTz), FLOAT8PASSBYVAL,
										   TYPALIGN_DOUBLE));
}

static List *
query_samples(const char *sql, int nargs, Oid *types, Datum *vals)
{
	int			rc;
	uint64		i;
	List	   *samples = NIL;

	rc = SPI_execute_with_args(sql, nargs, types, vals, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading samples failed: %s", SPI_result_code_string(rc));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		SampleRef  *ref = palloc(sizeof(SampleRef));

		ref->id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
											  SPI_tuptable->tupdesc, 1, &isnull));
		ref->at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i],
													SPI_tuptable->tupdesc, 2, &isnull));
		samples = lappend(samples, ref);
	}
	return samples;
}

/* Fill in the sample part of the context from nadia_bgw.samples. */
static void
load_context(DetectContext *ctx)
{
	int			rc;
	bool		isnull;
	Datum		d;
	HeapTuple	tup;
	TupleDesc	desc;

	memset(ctx, 0, sizeof(*ctx));
	rc = SPI_execute("SELECT last_sample_id, runs,"
					 "       pg_catalog.to_regclass('nadia_bgw.samples') IS NOT NULL,"
					 "       last_sampled_at"
					 "  FROM nadia_bgw.detector_state WHERE id = 1 FOR UPDATE",
					 false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("nadia_bgw.detector_state has no row"),
				 errhint("Recreate the extension to restore its tables.")));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	d = SPI_getbinval(tup, desc, 1, &isnull);
	ctx->last_seen = isnull ? 0 : DatumGetInt64(d);
	ctx->runs = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
	ctx->have_history = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
	d = SPI_getbinval(tup, desc, 4, &isnull);
	ctx->last_seen_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
	ctx->window = timestamptz_array(NIL);
	ctx->wide_window = timestamptz_array(NIL);
	ctx->new_samples = timestamptz_array(NIL);

	if (ctx->have_history)
	{
		Oid			types[2] = {INT4OID, TIMESTAMPTZOID};
		Datum		vals[2];
		List	   *window;
		List	   *wide;
		List	   *fresh;

		/*
		 * Samples are ordered by time, not id: history loaded or replayed
		 * after the fact must not pass for the newest sample.
		 */
		vals[0] = Int32GetDatum(nadia_regression_window);
		vals[1] = TimestampTzGetDatum(ctx->last_seen_at);
		window = query_samples("SELECT sample_id, sampled_at FROM nadia_bgw.samples"
							   " ORDER BY sampled_at DESC LIMIT $1",
							   1, types, vals);
		vals[0] = Int32GetDatum(Max(nadia_regression_window, CACHE_WINDOW));
		wide = query_samples("SELECT sample_id, sampled_at FROM nadia_bgw.samples"
							 " ORDER BY sampled_at DESC LIMIT $1",
							 1, types, vals);
		vals[0] = Int32GetDatum(nadia_regression_window);
		/* after a long pause, fold in a bounded number of samples */
		fresh = query_samples("SELECT sample_id, sampled_at FROM nadia_bgw.samples"
							  " WHERE sampled_at > $2"
							  " ORDER BY sampled_at DESC LIMIT $1",
							  2, types, vals);
		ctx->window = timestamptz_array(window);
		ctx->wide_window = timestamptz_array(wide);
		ctx->new_samples = timestamptz_array(fresh);
		if (window != NIL)
		{
			ctx->newest = ((SampleRef *) linitial(window))->id;
			ctx->newest_at = ((SampleRef *) linitial(window))->at;
		}
		ctx->fresh = (fresh != NIL);
	}
}

/*
 * Fold observations into the baselines: one EWMA step per object and
 * metric.  "obs_sql" returns (scope, dbid, objid, userid, metric, value,
 * keys) from the new samples ($1); an object whose alert key is among the
 * open alerts is skipped, so a regression does not become the new normal
 * while it is reported.  alpha is 1/(n+1) while a baseline is young (a
 * plain mean and variance) and 2/(span+1) once it is older.
 */
static void
update_baselines(DetectContext *ctx, const char *obs_sql)
{
	char	   *sql = psprintf(
							   "WITH obs (scope, dbid, objid, userid, metric, value, keys) AS (%s)"
							   "INSERT INTO nadia_bgw.baselines AS b"
							   "       (scope, dbid, objid, userid, metric, mean, var, n)"
							   "SELECT o.scope, o.dbid, o.objid, o.userid, o.metric, o.value, 0, 1"
							   "  FROM obs o"
							   " WHERE o.value IS NOT NULL AND o.value <> 'NaN'"
							   "   AND NOT EXISTS (SELECT 1 FROM nadia_bgw.alerts a"
							   "                    WHERE a.state = 'open' AND a.alert_key = ANY (o.keys))"
							   " ORDER BY 1, 2, 3, 4, 5 "
							   "ON CONFLICT (scope, dbid, objid, userid, metric) DO UPDATE"
							   "   SET mean = b.mean + GREATEST(1.0 / (b.n + 1), 2.0 / ($2 + 1))"
							   "                     * (excluded.mean - b.mean),"
							   "       var = (1 - GREATEST(1.0 / (b.n + 1), 2.0 / ($2 + 1)))"
							   "             * (b.var + GREATEST(1.0 / (b.n + 1), 2.0 / ($2 + 1))"
							   "                        * (excluded.mean - b.mean) ^ 2),"
							   "       n = b.n + 1,"
							   "       updated_at = pg_catalog.now()",
							   obs_sql);
	Oid			types[2] = {TIMESTAMPTZARRAYOID, FLOAT8OID};
	Datum		vals[2];
	int			rc;

	vals[0] = ctx->new_samples;
	vals[1] = Float8GetDatum(nadia_baseline_samples);
	rc = SPI_execute_with_args(sql, 2, types, vals, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "updating baselines failed: %s", SPI_result_code_string(rc));
}

typedef struct BaselineCall
{
	DetectContext *ctx;
	const char *obs_sql;
} BaselineCall;

static void
call_update_baselines(void *arg)
{
	BaselineCall *call = (BaselineCall *) arg;

	update_baselines(call->ctx, call->obs_sql);
}

/* Per-call figures of each statement that ran in the new samples. */
static const char *const statement_obs_sql =
"SELECT 'statement', w.dbid, w.queryid, w.userid, v.metric, v.value,"
"       ARRAY[pg_catalog.format('query_latency:%s:%s:%s', w.dbid, w.userid, w.queryid),"
"             pg_catalog.format('plan_change:%s:%s:%s', w.dbid, w.userid, w.queryid)]"
"  FROM (SELECT h.dbid, h.userid, h.queryid,"
"               pg_catalog.sum(h.calls)::float8 AS calls,"
"               pg_catalog.sum(h.total_exec_time_ms)::float8 AS total_ms,"
"               pg_catalog.sum(h.rows)::float8 AS nrows,"
"               pg_catalog.sum(h.shared_blks_hit + h.shared_blks_read)::float8 AS blks"
"          FROM nadia_bgw.statement_history h"
"         WHERE h.sampled_at = ANY ($1)"
"         GROUP BY h.dbid, h.userid, h.queryid"
"        HAVING pg_catalog.sum(h.calls) > 0) w"
" CROSS JOIN LATERAL (VALUES"
"    ('mean_exec_time_ms', w.total_ms / w.calls),"
"    ('shared_blks_per_call', w.blks / w.calls),"
"    ('rows_per_call', w.nrows / w.calls)) v(metric, value)";

/* The sequential share of the scans of each table scanned. */
static const char *const table_obs_sql =
"SELECT 'table', (SELECT oid FROM pg_catalog.pg_database"
"                  WHERE datname = pg_catalog.current_database()),"
"       h.relid::int8, 0::oid, 'seq_scan_share',"
"       pg_catalog.sum(h.seq_scan)::float8"
"         / pg_catalog.sum(h.seq_scan + h.idx_scan),"
"       ARRAY[pg_catalog.format('seqscan_surge:%s', h.relid)]"
"  FROM nadia_bgw.table_history h"
" WHERE h.sampled_at = ANY ($1)"
" GROUP BY h.relid"
" HAVING pg_catalog.sum(h.seq_scan + h.idx_scan) > 0"
" UNION ALL "
"SELECT 'table', (SELECT oid FROM pg_catalog.pg_database"
"                  WHERE datname = pg_catalog.current_database()),"
"       t.relid::int8, 0::oid, 'dead_tuple_ratio',"
"       t.n_dead_tup::float8 / NULLIF(t.n_live_tup + t.n_dead_tup, 0),"
"       '{}'::text[]"
"  FROM nadia_bgw.table_stats_latest t";

/* Hit ratio and temporary bytes per sample of each database. */
static const char *const database_obs_sql =
"SELECT 'database', h.datid, 0::int8, 0::oid, 'temp_bytes_per_sample',"
"       pg_catalog.sum(h.temp_bytes)::float8 / pg_catalog.count(DISTINCT h.sampled_at),"
"       ARRAY[pg_catalog.format('temp_spill:%s', h.datid)]"
"  FROM nadia_bgw.database_history h"
" WHERE h.sampled_at = ANY ($1)"
" GROUP BY h.datid"
" UNION ALL "
"SELECT 'database', h.dbid, 0::int8, 0::oid, 'cache_hit_ratio',"
"       pg_catalog.sum(h.shared_blks_hit)::float8"
"         / NULLIF(pg_catalog.sum(h.shared_blks_hit + h.shared_blks_read), 0),"
"       ARRAY[pg_catalog.format('cache_hit_drop:%s', h.dbid)]"
"  FROM nadia_bgw.statement_history h"
" WHERE h.sampled_at = ANY ($1)"
" GROUP BY h.dbid";

static void
save_state(DetectContext *ctx)
{
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		vals[2];
	char		nulls[3] = "  ";
	int			rc;

	/* without a new sample, the previous position stays */
	if (ctx->fresh)
	{
		vals[0] = Int64GetDatum(ctx->newest);
		vals[1] = TimestampTzGetDatum(ctx->newest_at);
	}
	else
	{
		vals[0] = Int64GetDatum(ctx->last_seen);
		vals[1] = TimestampTzGetDatum(ctx->last_seen_at);
		if (ctx->last_seen == 0)
			nulls[0] = nulls[1] = 'n';
	}
	rc = SPI_execute_with_args("UPDATE nadia_bgw.detector_state"
							   "   SET last_sample_id = $1, last_sampled_at = $2,"
							   "       runs = runs + 1, last_run_at = pg_catalog.now()"
							   " WHERE id = 1",
							   2, types, vals, nulls, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "saving detector state failed: %s", SPI_result_code_string(rc));
}

/* Split "a,b" into a list of kinds and append them. */
static List *
add_kinds(List *kinds, const char *spec)
{
	char	   *copy = pstrdup(spec);
	char	   *tok;
	char	   *save = NULL;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		kinds = lappend(kinds, tok);
	return kinds;
}

/*
 * One detection run (SPI connected, inside a transaction).  Returns the
 * list of NadiaAlertEvent for what changed.
 */
List *
nadia_detect_regressions(void)
{
	DetectContext ctx;
	List	   *candidates = NIL;
	List	   *evaluated = NIL;
	List	   *judged = NIL;
	List	   *events;
	int			i;
	int			rc;

	rc = SPI_execute("SELECT pg_catalog.pg_advisory_xact_lock("
					 "pg_catalog.hashtext('nadia_bgw.detect_regressions'))",
					 false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "taking the detection lock failed");

	load_context(&ctx);
	nadia_judged_keys = NIL;

	for (i = 0; i < nadia_ndetectors; i++)
	{
		const Detector *det = &nadia_detectors[i];

		CHECK_FOR_INTERRUPTS();
		if (det->needs_history && !ctx.fresh)
			continue;
		if (run_detector(det, &ctx, &candidates))
			evaluated = add_kinds(evaluated, det->kinds);
	}

	for (i = 0; i < nadia_njudged_kinds; i++)
		judged = lappend(judged, (char *) nadia_judged_kinds[i]);
	events = nadia_alert_apply(candidates, evaluated, judged, nadia_judged_keys);
	nadia_judged_keys = NIL;

	if (ctx.fresh)
	{
		BaselineCall calls[3] = {
			{&ctx, statement_obs_sql},
			{&ctx, table_obs_sql},
			{&ctx, database_obs_sql}
		};
		static const char *const names[3] = {
			"updating statement baselines",
			"updating table baselines",
			"updating database baselines"
		};

		for (i = 0; i < 3; i++)
			(void) nadia_guarded_call(names[i], DETECT_STEP_HINT,
									  call_update_baselines, &calls[i], 0, NULL);
	}
	save_state(&ctx);
	return events;
}

/* The worker's task: one detection run per cycle, after sampling. */
void
nadia_regressions_task(void)
{
	List	   *events = nadia_detect_regressions();
	ListCell   *lc;

	foreach(lc, events)
	{
		NadiaAlertEvent *e = (NadiaAlertEvent *) lfirst(lc);

		if (strcmp(e->event, "updated") == 0)
			continue;
		ereport(LOG,
				(errmsg("nadia_bgw: alert " INT64_FORMAT " %s: %s %s on %s",
						e->alert_id, e->event, e->severity, e->kind, e->object)));
	}
}

/*
 * nadia_bgw.detect_regressions() -- run detection now in this session;
 * returns what happened to alerts.  Notifications go out when the calling
 * transaction commits.
 */
Datum
nadia_bgw_detect_regressions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *events;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	events = nadia_detect_regressions();
	foreach(lc, events)
	{
		NadiaAlertEvent *e = (NadiaAlertEvent *) lfirst(lc);
		Datum		values[8];
		bool		nulls[8];

		memset(nulls, 0, sizeof(nulls));
		values[0] = Int64GetDatum(e->alert_id);
		values[1] = CStringGetTextDatum(e->event);
		values[2] = CStringGetTextDatum(e->kind);
		values[3] = CStringGetTextDatum(e->severity);
		values[4] = CStringGetTextDatum(e->object);
		values[5] = CStringGetTextDatum(e->metric);
		values[6] = Float8GetDatum(e->baseline);
		nulls[6] = !e->has_baseline;
		values[7] = Float8GetDatum(e->observed);
		nulls[7] = isnan(e->observed);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}
