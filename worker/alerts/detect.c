/*-------------------------------------------------------------------------
 *
 * detect.c
 *		The detection run: the "regressions" task of the worker and
 *		nadia_bgw.detect_regressions(), its manual form.
 *
 * A detection run:
 *	1. takes a transaction-level advisory lock, so the worker and a manual
 *	   nadia_bgw.detect_regressions() never interleave;
 *	2. finds the newest history samples: the "recent window" (the last
 *	   nadia_bgw.regression_window samples) is what is judged, and the
 *	   samples not seen by the previous run are what is new;
 *	3. runs each detector (detectors.c) in its own subtransaction, so one
 *	   failing query (a missing history view, another server version)
 *	   costs only its own kinds; detectors that judge history run only
 *	   when there is a new sample, detectors that look at the server's
 *	   current state always;
 *	4. hands the candidates to the alert life cycle (alert.c), which sends
 *	   what it queued (notify.c);
 *	5. folds the new samples into the baselines (baselines.c), except for
 *	   objects that have an open alert: a regression must not become the
 *	   new normal while it is being reported;
 *	6. records how far it got in nadia_bgw.detector_state.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "alerts/alerts.h"
#include "alerts/alerts_internal.h"

PG_FUNCTION_INFO_V1(nadia_bgw_detect_regressions);

/* what a WARNING about a failed step of the run says next */
#define DETECT_STEP_HINT "The rest of the detection run went on."

typedef struct DetectorCall
{
	const NadiaDetector *det;
	NadiaDetectContext *ctx;
	List	   *found;
} DetectorCall;

static void
call_detector(void *arg)
{
	DetectorCall *call = (DetectorCall *) arg;

	call->found = nadia_detector_run(call->det, call->ctx);
}

/*
 * Run one detector.  If it fails, its kinds count as not evaluated this
 * run, so their open alerts neither fire nor count towards resolution.
 */
static bool
run_detector(const NadiaDetector *det, NadiaDetectContext *ctx, List **candidates)
{
	DetectorCall call = {det, ctx, NIL};
	char	   *what = psprintf("detector \"%s\"", det->name);

	if (!nadia_guarded_call(what, DETECT_STEP_HINT, call_detector, &call, 0, NULL))
		return false;
	*candidates = list_concat(*candidates, call.found);
	return true;
}

/* ---------------------------------------------------------------------
 * Samples
 * ---------------------------------------------------------------------
 */

/*
 * The newest samples, at most "limit", later than "after": their times in
 * *times as a timestamptz[] (history rows are keyed by time), the newest
 * one's id and time in *newest / *newest_at when asked for.  Returns how
 * many.  Samples are ordered by time, not id: history loaded or replayed
 * after the fact must not pass for the newest sample.
 */
static int
newest_samples(int limit, TimestampTz after, Datum *times,
			   int64 *newest, TimestampTz *newest_at)
{
	Oid			types[2] = {INT4OID, TIMESTAMPTZOID};
	Datum		vals[2];
	Datum	   *elems;
	int			n;
	int			i;
	bool		isnull;

	vals[0] = Int32GetDatum(limit);
	vals[1] = TimestampTzGetDatum(after);
	nadia_spi_check(SPI_execute_with_args("SELECT sample_id, sampled_at FROM nadia_bgw.samples"
										  " WHERE sampled_at > $2"
										  " ORDER BY sampled_at DESC LIMIT $1",
										  2, types, vals, NULL, true, 0),
					SPI_OK_SELECT, "reading samples");
	n = (int) SPI_processed;
	elems = palloc(sizeof(Datum) * Max(n, 1));
	for (i = 0; i < n; i++)
		elems[i] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
								 2, &isnull);
	if (n > 0 && newest != NULL)
	{
		*newest = nadia_spi_getint8(0, 1, &isnull);
		*newest_at = DatumGetTimestampTz(elems[0]);
	}
	*times = PointerGetDatum(construct_array(elems, n, TIMESTAMPTZOID,
											 sizeof(TimestampTz), FLOAT8PASSBYVAL,
											 TYPALIGN_DOUBLE));
	return n;
}

/* Fill in the context of a run from nadia_bgw.detector_state and samples. */
static void
load_context(NadiaDetectContext *ctx)
{
	bool		isnull;
	Datum		d;
	HeapTuple	tup;
	TupleDesc	desc;
	int			rc;

	memset(ctx, 0, sizeof(*ctx));
	rc = SPI_execute("SELECT last_sample_id, runs,"
					 "       pg_catalog.to_regclass('nadia_bgw.samples') IS NOT NULL,"
					 "       last_sampled_at,"
					 "       pg_catalog.to_regprocedure('nadia_bgw._plan_rows(text,timestamptz,timestamptz,integer[])')"
					 "         IS NOT NULL"
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
	/* plan history (1.1): plan_change is judged from plan ids */
	ctx->have_plans = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));

	if (!ctx->have_history)
	{
		ctx->window = ctx->wide_window = ctx->new_samples =
			PointerGetDatum(construct_empty_array(TIMESTAMPTZOID));
		return;
	}
	(void) newest_samples(nadia_regression_window, DT_NOBEGIN, &ctx->window,
						  &ctx->newest, &ctx->newest_at);
	(void) newest_samples(Max(nadia_regression_window, CACHE_WINDOW), DT_NOBEGIN,
						  &ctx->wide_window, NULL, NULL);
	/* after a long pause, fold in a bounded number of samples */
	ctx->fresh = newest_samples(nadia_regression_window, ctx->last_seen_at,
								&ctx->new_samples, NULL, NULL) > 0;
}

/* Remember how far this run got; without a new sample the position stays. */
static void
save_state(NadiaDetectContext *ctx)
{
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		vals[2];
	char		nulls[3] = "  ";

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
	nadia_spi_check(SPI_execute_with_args("UPDATE nadia_bgw.detector_state"
										  "   SET last_sample_id = $1, last_sampled_at = $2,"
										  "       runs = runs + 1, last_run_at = pg_catalog.now()"
										  " WHERE id = 1",
										  2, types, vals, nulls, false, 0),
					SPI_OK_UPDATE, "saving detector state");
}

/* ---------------------------------------------------------------------
 * The run
 * ---------------------------------------------------------------------
 */

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
	NadiaDetectContext ctx;
	List	   *candidates = NIL;
	List	   *evaluated = NIL;
	List	   *judged = NIL;
	List	   *events;
	int			i;

	nadia_spi_check(SPI_execute("SELECT pg_catalog.pg_advisory_xact_lock("
								"pg_catalog.hashtext('nadia_bgw.detect_regressions'))",
								false, 0),
					SPI_OK_SELECT, "taking the detection lock");

	load_context(&ctx);

	for (i = 0; i < nadia_ndetectors; i++)
	{
		const NadiaDetector *det = &nadia_detectors[i];

		CHECK_FOR_INTERRUPTS();
		if (det->needs_history && !ctx.fresh)
			continue;
		if (run_detector(det, &ctx, &candidates))
			evaluated = add_kinds(evaluated, det->kinds);
	}

	for (i = 0; i < nadia_njudged_kinds; i++)
		judged = lappend(judged, (char *) nadia_judged_kinds[i]);
	events = nadia_alert_apply(candidates, evaluated, judged, ctx.judged_keys);

	if (ctx.fresh)
		nadia_baselines_update(&ctx, DETECT_STEP_HINT);
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
