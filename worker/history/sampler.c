/*-------------------------------------------------------------------------
 *
 * sampler.c
 *		One sample of statistics history: the "sample" task of the worker
 *		and nadia_bgw.take_sample(), which run the same code.
 *
 * A sample reads every source (statements, tables, indexes, databases,
 * cluster, plans, activity, lock waits, replication), each in its own
 * subtransaction: a source that fails is rolled back alone, its error is
 * recorded in the sample's outcome and the other sources still land.  The
 * samples row (time, duration, per-source outcome) is written last.
 *
 * This file is the top of the history module: it calls the sources (the
 * files history_internal.h lists) and none of them calls it.  It also
 * gathers the module's settings, each file group defining its own, in
 * nadia_history_define_gucs().
 *
 * The sampler's own statements never reach statement history: the worker
 * runs with pg_stat_statements.track = none (scheduler.c), take_sample()
 * sets it (and nadia_bgw.plan_capture = off) for its duration, and calls
 * of take_sample()/maintain_history() themselves are marked "excluded" in
 * the text dictionary, which also keeps their plans out of plan history.
 * A source of a newer schema than the one installed (plans before ALTER
 * EXTENSION UPDATE) is skipped, with the reason in the outcome.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include <cjson/cJSON.h>

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "history/history.h"
#include "history/history_internal.h"

/* longest wait, in ms, for a lock a sampling source needs */
#define SAMPLE_LOCK_TIMEOUT_MS 100

PG_FUNCTION_INFO_V1(nadia_bgw_take_sample);
PG_FUNCTION_INFO_V1(nadia_bgw_maintain_history);

/* the sampling source that fails each time (test builds) */
static char *nadia_bgw_debug_fail_source = NULL;

/* advisory lock key serializing samples: "nadiasmp" */
#define NADIA_SAMPLE_LOCK_KEY	INT64CONST(0x6e61646961736d70)

/* the worker warns once when pg_stat_statements goes missing, not each cycle */
static bool pgss_warned = false;

typedef enum
{
	STEP_STATEMENTS,
	STEP_DELTA,
	STEP_ACTIVITY,
	STEP_LOCKS,
	STEP_REPLICATION,
	STEP_MAINTENANCE
} StepKind;

typedef struct SampleCtx
{
	TimestampTz ts;
	int64		sample_id;
	const char *pgss_schema;
	bool		from_worker;
	cJSON	   *outcome;		/* {"source": "ok", ...} */
	cJSON	   *rows;			/* {"source": n, ...} */
	cJSON	   *ms;				/* {"source": milliseconds, ...} */
	ArrayBuildState *failed;	/* text[] of the sources that failed */
} SampleCtx;

/* one source of a sample, as run by run_step() */
typedef struct SampleStep
{
	SampleCtx  *ctx;
	const char *name;
	StepKind	kind;
	const NadiaHistSource *src;
	int64		rows;			/* out: history rows written */
} SampleStep;

/*
 * The settings of the module, each file group defining its own: called
 * once from _PG_init.
 */
void
nadia_history_define_gucs(void)
{
#ifdef NADIA_TEST
	DefineCustomStringVariable("nadia_bgw.debug_fail_source",
							   "Testing only: makes the named sampling source raise an error.",
							   "Used by the test suite to check that one failing source does not lose the others.",
							   &nadia_bgw_debug_fail_source,
							   "",
							   PGC_SUSET, GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);
#endif
	nadia_tracked_define_gucs();
	nadia_statement_texts_define_gucs();
	nadia_tiers_define_gucs();
	nadia_sampler_debug_define_gucs();
}

/*
 * The schema of pg_stat_statements in this database, or NULL with the
 * reason in *reason when it cannot be sampled.
 */
static const char *
pgss_schema(const char **reason)
{
	if (GetConfigOption("pg_stat_statements.max", true, false) == NULL)
	{
		*reason = "pg_stat_statements is not loaded";
		return NULL;
	}
	if (nadia_spi_exec("SELECT n.nspname FROM pg_catalog.pg_extension e"
					   " JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
					   " WHERE e.extname = 'pg_stat_statements'", 0, NULL, NULL, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "looking up pg_stat_statements failed");
	if (SPI_processed == 0)
	{
		*reason = "extension pg_stat_statements is not created in this database";
		return NULL;
	}
	return quote_identifier(nadia_spi_getstring(0, 1));
}

/*
 * A delta source: a tracked one (statements, tables, indexes: last-seen
 * values in shared memory) or one of the generated SQL.
 */
static int64
sample_delta_source(SampleCtx *ctx, const NadiaHistSource *src, const char *pgss_schema,
					int64 *seen)
{
	bool		initialized;

	if (src->reader == NULL)
		return nadia_sample_sql_source(src, ctx->ts, ctx->sample_id, pgss_schema, seen);
	initialized = nadia_source_bookkeeping(src, ctx->ts, ctx->sample_id, pgss_schema,
										   nadia_tracked_has_baseline);
	return nadia_sample_tracked_source(src, ctx->ts, ctx->sample_id, initialized,
									   pgss_schema, seen);
}

static int64
run_step_body(SampleCtx *ctx, StepKind kind, const NadiaHistSource *src)
{
	int64		n = 0;
	int64		seen;

	switch (kind)
	{
		case STEP_STATEMENTS:
			n = sample_delta_source(ctx, src, ctx->pgss_schema, &seen);
			nadia_check_pgss_evictions(ctx->pgss_schema, ctx->ts, ctx->sample_id,
									   ctx->from_worker, seen);
			break;
		case STEP_DELTA:
			n = sample_delta_source(ctx, src, NULL, &seen);
			if (src->after)
				src->after(src, ctx->ts, ctx->sample_id, ctx->from_worker, seen);
			break;
		case STEP_ACTIVITY:
			n = nadia_sample_activity(ctx->ts);
			break;
		case STEP_LOCKS:
			n = nadia_sample_lock_waits(ctx->ts);
			break;
		case STEP_REPLICATION:
			n = nadia_sample_replication(ctx->ts);
			break;
		case STEP_MAINTENANCE:
			(void) nadia_maintain_history(ctx->ts);
			break;
	}
	return n;
}

/* The guarded part of run_step(), in the step's subtransaction. */
static void
run_step_guarded(void *arg)
{
	SampleStep *step = (SampleStep *) arg;

	/*
	 * Sizes open each relation: behind an application's ACCESS EXCLUSIVE
	 * lock the sampler would wait, and queue the application's next
	 * queries behind its own request.  Give up quickly instead: the source
	 * fails (recorded), the others land.  Reverted right after the source
	 * (or by the subtransaction's abort), so a session calling
	 * take_sample() keeps its own setting.
	 */
	int			guc_nest = NewGUCNestLevel();

	if (LockTimeout == 0 || LockTimeout > SAMPLE_LOCK_TIMEOUT_MS)
		(void) set_config_option("lock_timeout",
								 CppAsString2(SAMPLE_LOCK_TIMEOUT_MS),
								 PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	nadia_debug_fail_point(nadia_bgw_debug_fail_source, "nadia_bgw.debug_fail_source",
						   "sampling source", step->name);
	step->rows = run_step_body(step->ctx, step->kind, step->src);
	AtEOXact_GUC(true, guc_nest);
}

/*
 * Run one source in a subtransaction.  An error is caught, logged as a
 * WARNING, recorded in the outcome, and its work rolled back; the sample
 * goes on with the next source.  A cancel (pg_cancel_backend,
 * statement_timeout) is meant for the whole sample, not for the source it
 * happened to land in: it ends the sample.
 */
static void
run_step(SampleCtx *ctx, const char *name, StepKind kind, const NadiaHistSource *src)
{
	SampleStep	step = {ctx, name, kind, src, 0};
	NadiaGuardError err;
	instr_time	t0,
				t1;

	CHECK_FOR_INTERRUPTS();
	INSTR_TIME_SET_CURRENT(t0);
	if (nadia_guarded_call(psprintf("sampling source \"%s\"", name),
						   "The other sources of this sample were recorded.",
						   run_step_guarded, &step, NADIA_GUARD_RETHROW_CANCEL, &err))
	{
		cJSON_AddStringToObject(ctx->outcome, name, "ok");
		cJSON_AddNumberToObject(ctx->rows, name, (double) step.rows);
	}
	else
	{
		/*
		 * nadia_bgw_reader reads the outcome: the SQLSTATE and its class
		 * only, since a message can quote what a statistics view holds of
		 * other sessions (application_name, a value that failed a cast).
		 * The message is in the WARNING, in the server log.
		 */
		cJSON_AddStringToObject(ctx->outcome, name,
								psprintf("error: %s", err.public_text));
		ctx->failed = accumArrayResult(ctx->failed, CStringGetTextDatum(name), false,
									   TEXTOID, CurrentMemoryContext);
	}
	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_SUBTRACT(t1, t0);
	/* to the microsecond, as it always was */
	cJSON_AddNumberToObject(ctx->ms, name,
							rint(INSTR_TIME_GET_MILLISEC(t1) * 1000.0) / 1000.0);
}

/*
 * The raw partitions a sample at "ts" writes into: made by
 * ensure_partitions() when one is missing (once per partition width).
 */
static void
ensure_raw_partitions(TimestampTz ts)
{
	bool		isnull;

	if (nadia_spi_exec("SELECT (SELECT count(*) FROM nadia_bgw.history_tables t WHERE t.tier = 'raw')"
					   " = (SELECT count(*) FROM nadia_bgw.history_partitions p"
					   "     JOIN nadia_bgw.history_tables t USING (parent)"
					   "    WHERE t.tier = 'raw' AND p.lo <= $1 AND $1 < p.hi)", 1,
					   (Oid[]) {TIMESTAMPTZOID}, (Datum[]) {TimestampTzGetDatum(ts)},
					   NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up history partitions");
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) &&
		nadia_spi_exec("SELECT nadia_bgw.ensure_partitions('raw', $1)", 1,
					   (Oid[]) {TIMESTAMPTZOID}, (Datum[]) {TimestampTzGetDatum(ts)},
					   NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not create history partitions");
}

/* The samples row, written last. */
static void
record_sample(SampleCtx *ctx, double duration_ms)
{
	Datum		values[8];

	values[0] = Int64GetDatum(ctx->sample_id);
	values[1] = TimestampTzGetDatum(ctx->ts);
	values[2] = Float8GetDatum(duration_ms);
	values[3] = CStringGetTextDatum(ctx->from_worker ? "worker" : "take_sample");
	values[4] = CStringGetTextDatum(nadia_json_print(ctx->outcome));
	values[5] = ctx->failed != NULL ?
		makeArrayResult(ctx->failed, CurrentMemoryContext) :
		PointerGetDatum(construct_empty_array(TEXTOID));
	values[6] = CStringGetTextDatum(nadia_json_print(ctx->rows));
	values[7] = CStringGetTextDatum(nadia_json_print(ctx->ms));
	if (nadia_spi_exec("INSERT INTO nadia_bgw.samples"
					   " (sample_id, sampled_at, duration_ms, taken_by, outcome, failed_sources, rows_written, source_ms)"
					   " VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, $8::jsonb)",
					   8, (Oid[]) {INT8OID, TIMESTAMPTZOID, FLOAT8OID, TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID, TEXTOID},
					   values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record the sample");
}

/*
 * Take one sample; SPI must be connected and a transaction open.  Returns
 * the sample id.
 */
int64
nadia_take_sample(bool from_worker)
{
	SampleCtx	ctx;
	instr_time	start,
				duration;
	const char *reason = NULL;
	bool		isnull;
	int			i;

	memset(&ctx, 0, sizeof(ctx));
	ctx.from_worker = from_worker;
	ctx.outcome = cJSON_CreateObject();
	ctx.rows = cJSON_CreateObject();
	ctx.ms = cJSON_CreateObject();

	/*
	 * One sample at a time (the worker's and take_sample() calls): two
	 * samples computing deltas against the same previous state would both
	 * count the same interval.  The lock is held until commit, so the next
	 * sample reads the state this one wrote.
	 */
	(void) DirectFunctionCall1(pg_advisory_xact_lock_int8,
							   Int64GetDatum(NADIA_SAMPLE_LOCK_KEY));

	/* statistics read in this transaction must be current, not cached */
	pgstat_clear_snapshot();
	INSTR_TIME_SET_CURRENT(start);
	ctx.ts = GetCurrentTimestamp();

	if (nadia_spi_exec("SELECT pg_catalog.nextval('nadia_bgw.samples_sample_id_seq')",
					   0, NULL, NULL, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not allocate a sample id");
	ctx.sample_id = nadia_spi_getint8(0, 1, &isnull);
	ensure_raw_partitions(ctx.ts);

	ctx.pgss_schema = pgss_schema(&reason);
	if (ctx.pgss_schema != NULL)
	{
		pgss_warned = false;
		run_step(&ctx, "statements", STEP_STATEMENTS, &nadia_delta_sources[0]);
	}
	else
	{
		if (!from_worker || !pgss_warned)
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("nadia_bgw: statement history is not sampled: %s", reason),
					 errhint("Add pg_stat_statements to shared_preload_libraries and run CREATE EXTENSION pg_stat_statements in database \"%s\"; the other sources are sampled.",
							 get_database_name(MyDatabaseId))));
		pgss_warned = true;
		cJSON_AddStringToObject(ctx.outcome, "statements", psprintf("skipped: %s", reason));
	}

	for (i = 1; i < nadia_n_delta_sources; i++)
	{
		const NadiaHistSource *src = &nadia_delta_sources[i];
		const char *skip = src->unavailable ? src->unavailable(src) : NULL;

		/* a source of a newer schema than the installed one (plans on 1.0) */
		if (skip != NULL)
			cJSON_AddStringToObject(ctx.outcome, src->name, psprintf("skipped: %s", skip));
		else
			run_step(&ctx, src->name, STEP_DELTA, src);
	}
	run_step(&ctx, "activity", STEP_ACTIVITY, NULL);
	run_step(&ctx, "locks", STEP_LOCKS, NULL);
	run_step(&ctx, "replication", STEP_REPLICATION, NULL);
	if (from_worker)
		run_step(&ctx, "maintenance", STEP_MAINTENANCE, NULL);

	INSTR_TIME_SET_CURRENT(duration);
	INSTR_TIME_SUBTRACT(duration, start);
	record_sample(&ctx, INSTR_TIME_GET_MILLISEC(duration));
	return ctx.sample_id;
}

/* The worker's "sample" task: one sample, then downsampling and purge. */
void
nadia_sample_task(void)
{
	(void) nadia_take_sample(true);
}

/*
 * Keep the sampler's own statements out of pg_stat_statements and out of
 * the plan capture for the rest of the calling function (undone by
 * AtEOXact_GUC).
 */
static int
silence_pgss(void)
{
	int			nestlevel = NewGUCNestLevel();

	if (GetConfigOption("pg_stat_statements.track", true, false) != NULL)
		(void) set_config_option("pg_stat_statements.track", "none",
								 PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	if (GetConfigOption("nadia_bgw.plan_capture", true, false) != NULL)
		(void) set_config_option("nadia_bgw.plan_capture", "off",
								 PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

static void
require_superuser(const char *fn)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers can call %s", fn),
				 errhint("The worker samples on its own; readers use the history views.")));
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot take a sample during recovery"),
				 errhint("Statistics history is kept on the primary.")));
}

/* nadia_bgw.take_sample() -- one sample now, in this session. */
Datum
nadia_bgw_take_sample(PG_FUNCTION_ARGS)
{
	int			nestlevel;
	int64		id;

	require_superuser("nadia_bgw.take_sample()");
	nestlevel = silence_pgss();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	id = nadia_take_sample(false);
	SPI_finish();
	AtEOXact_GUC(true, nestlevel);
	PG_RETURN_INT64(id);
}

/* nadia_bgw.maintain_history(now) -- downsample and purge now. */
Datum
nadia_bgw_maintain_history(PG_FUNCTION_ARGS)
{
	TimestampTz now = PG_GETARG_TIMESTAMPTZ(0);
	int			nestlevel;
	MemoryContext caller = CurrentMemoryContext;
	char	   *report;

	require_superuser("nadia_bgw.maintain_history()");
	nestlevel = silence_pgss();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* SPI_finish() frees SPI's memory, the tree's: keep the text in ours */
	report = MemoryContextStrdup(caller, nadia_json_print(nadia_maintain_history(now)));
	SPI_finish();
	AtEOXact_GUC(true, nestlevel);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(report)));
}
