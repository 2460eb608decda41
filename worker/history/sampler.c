/*-------------------------------------------------------------------------
 *
 * sampler.c
 *		One sample of statistics history: the "sample" task of the worker
 *		and nadia_bgw.take_sample(), which run the same code.
 *
 * A sample reads every source (statements, tables, indexes, databases,
 * cluster, activity, lock waits, replication), each in its own
 * subtransaction: a source that fails is rolled back alone, its error is
 * recorded in the sample's outcome and the other sources still land.  The
 * samples row (time, duration, per-source outcome) is written last.
 *
 * The sampler's own statements never reach statement history: the worker
 * runs with pg_stat_statements.track = none (scheduler.c), take_sample()
 * sets it for its duration, and calls of take_sample()/maintain_history()
 * themselves are marked "excluded" in the text dictionary.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "history/history.h"

/* longest wait, in ms, for a lock a sampling source needs */
#define SAMPLE_LOCK_TIMEOUT_MS 100

PG_FUNCTION_INFO_V1(nadia_bgw_take_sample);
PG_FUNCTION_INFO_V1(nadia_bgw_maintain_history);

int			nadia_bgw_raw_retention = 1440;
int			nadia_bgw_hourly_retention = 28 * 1440;
int			nadia_bgw_daily_retention = 365 * 1440;
int			nadia_bgw_query_text_max = 4096;
char	   *nadia_bgw_debug_fail_source = NULL;
int			nadia_bgw_debug_object_delay = 0;
char	   *nadia_bgw_debug_object_loop = NULL;

/* the loops that call NADIA_DEBUG_OBJECT() */
static const char *const debug_object_loops[] = {
	"read", "measure", "compare", "seen", "apply", "scan", "gone", "forget",
	"history", "state", NULL
};

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
	StringInfoData outcome;		/* jsonb text: {"source": "ok", ...} */
	StringInfoData rows;		/* jsonb text: {"source": n, ...} */
	StringInfoData failed;		/* text[] literal body */
	StringInfoData ms;			/* jsonb text: {"source": milliseconds, ...} */
} SampleCtx;

static bool
check_debug_object_loop(char **newval, void **extra, GucSource source)
{
	int			i;

	if (**newval == '\0')
		return true;
	for (i = 0; debug_object_loops[i] != NULL; i++)
		if (strcmp(*newval, debug_object_loops[i]) == 0)
			return true;
	GUC_check_errdetail("Known loops: read, measure, compare, seen, apply, scan, gone, forget, history, state.");
	return false;
}

void
nadia_sampler_init(void)
{
	DefineCustomIntVariable("nadia_bgw.raw_retention",
							"How long raw samples are kept.",
							"Older raw partitions are dropped once downsampled into the hourly tier.",
							&nadia_bgw_raw_retention,
							1440, 10, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MIN,
							NULL, NULL, NULL);
	DefineCustomIntVariable("nadia_bgw.hourly_retention",
							"How long hourly aggregates of history are kept.",
							NULL,
							&nadia_bgw_hourly_retention,
							28 * 1440, 1440, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MIN,
							NULL, NULL, NULL);
	DefineCustomIntVariable("nadia_bgw.daily_retention",
							"How long daily aggregates of history are kept.",
							NULL,
							&nadia_bgw_daily_retention,
							365 * 1440, 1440, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MIN,
							NULL, NULL, NULL);
	DefineCustomIntVariable("nadia_bgw.query_text_max",
							"Longest query text stored in statement history, in characters.",
							"Longer texts are cut; the original length is kept in nadia_bgw.statements.query_len.",
							&nadia_bgw_query_text_max,
							4096, 64, 1048576,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	/* sizes shared memory: only when preloading (it exists only then) */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("nadia_bgw.max_tracked_objects",
								"Statements, tables and indexes whose last-seen statistics the sampler keeps in shared memory.",
								"Objects beyond it get no history (a WARNING and a not_tracked event say so). Set at server start.",
								&nadia_bgw_max_tracked_objects,
								20000, 100, 10000000,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
	DefineCustomStringVariable("nadia_bgw.debug_fail_source",
							   "Testing only: makes the named sampling source raise an error.",
							   "Used by the test suite to check that one failing source does not lose the others.",
							   &nadia_bgw_debug_fail_source,
							   "",
							   PGC_SUSET, GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("nadia_bgw.debug_tracked_undo_limit",
							"Testing only: records of the tracked objects' undo log per transaction (0: 64 MB worth).",
							"Past it an abort makes the sources take a new baseline instead of undoing.",
							&nadia_bgw_debug_tracked_undo_limit,
							0, 0, INT_MAX,
							PGC_SUSET, GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("nadia_bgw.debug_object_delay",
							"Testing only: each object of the sampler's loops logs its number and waits this long.",
							"The wait processes no interrupts: only the loops' own checks do.",
							&nadia_bgw_debug_object_delay,
							0, 0, 1000,
							PGC_SUSET, GUC_NOT_IN_SAMPLE | GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomStringVariable("nadia_bgw.debug_object_loop",
							   "Testing only: the one sampler loop nadia_bgw.debug_object_delay applies to (empty: all).",
							   "read, measure, compare, seen, apply, scan, gone, forget, history or state.",
							   &nadia_bgw_debug_object_loop,
							   "",
							   PGC_SUSET, GUC_NOT_IN_SAMPLE,
							   check_debug_object_loop, NULL, NULL);
}

/*
 * Testing only, see nadia_bgw.debug_object_delay: one LOG line per object
 * and a wait.  Neither may process an interrupt (errfinish() checks for
 * them after a LOG message, pg_usleep() does not): the loop's own checks
 * must be what stops it, or a test could not tell them missing.
 */
void
nadia_debug_object(const char *loop, const char *source, int64 n)
{
	if (nadia_bgw_debug_object_loop != NULL && nadia_bgw_debug_object_loop[0] != '\0' &&
		strcmp(nadia_bgw_debug_object_loop, loop) != 0)
		return;
	HOLD_INTERRUPTS();
	ereport(LOG,
			(errmsg_internal("nadia_bgw debug: object " INT64_FORMAT " of %s %s", n, source, loop)));
	RESUME_INTERRUPTS();
	pg_usleep(nadia_bgw_debug_object_delay * 1000L);
}

/* Append "key": value to a JSON object under construction. */
static void
json_add(StringInfo buf, const char *key, const char *value_json)
{
	appendStringInfoString(buf, buf->len > 1 ? ", " : "");
	escape_json(buf, key);
	appendStringInfo(buf, ": %s", value_json);
}

static char *
json_string(const char *s)
{
	StringInfoData b;

	initStringInfo(&b);
	escape_json(&b, s);
	return b.data;
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

static int64
run_step_body(SampleCtx *ctx, StepKind kind, const HistSource *src)
{
	int64		n = 0;

	switch (kind)
	{
		case STEP_STATEMENTS:
			{
				int64		entries;

				n = nadia_sample_delta_source(src, ctx->ts, ctx->sample_id,
											  ctx->pgss_schema, &entries);
				nadia_check_pgss_evictions(ctx->pgss_schema, ctx->ts, ctx->sample_id,
										   ctx->from_worker, entries);
				break;
			}
		case STEP_DELTA:
			{
				int64		seen;

				n = nadia_sample_delta_source(src, ctx->ts, ctx->sample_id, NULL, &seen);
				break;
			}
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
			{
				StringInfoData report;

				initStringInfo(&report);
				nadia_maintain_history(ctx->ts, &report);
				break;
			}
	}
	return n;
}

/*
 * Run one source in a subtransaction.  An error is caught, logged as a
 * WARNING, recorded in the outcome, and its work rolled back; the sample
 * goes on with the next source.
 */
static void
run_step(SampleCtx *ctx, const char *name, StepKind kind, const HistSource *src)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	int64		n = 0;
	int			guc_nest;
	instr_time	t0,
				t1;

	CHECK_FOR_INTERRUPTS();
	INSTR_TIME_SET_CURRENT(t0);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);

	PG_TRY();
	{
		/*
		 * Sizes open each relation: behind an application's ACCESS EXCLUSIVE
		 * lock the sampler would wait, and queue the application's next
		 * queries behind its own request.  Give up quickly instead: the
		 * source fails (recorded), the others land.  Reverted right after
		 * the source (or by the subtransaction's abort), so a session
		 * calling take_sample() keeps its own setting.
		 */
		guc_nest = NewGUCNestLevel();
		if (LockTimeout == 0 || LockTimeout > SAMPLE_LOCK_TIMEOUT_MS)
			(void) set_config_option("lock_timeout",
									 CppAsString2(SAMPLE_LOCK_TIMEOUT_MS),
									 PGC_SUSET, PGC_S_SESSION,
									 GUC_ACTION_SAVE, true, 0, false);
		if (nadia_bgw_debug_fail_source != NULL &&
			strcmp(nadia_bgw_debug_fail_source, name) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
					 errmsg("injected failure in sampling source \"%s\"", name),
					 errhint("Reset nadia_bgw.debug_fail_source to stop it.")));
		n = run_step_body(ctx, kind, src);
		AtEOXact_GUC(true, guc_nest);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		json_add(&ctx->outcome, name, "\"ok\"");
		json_add(&ctx->rows, name, psprintf(INT64_FORMAT, n));
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		char		errbuf[128];

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;

		/*
		 * A cancel (pg_cancel_backend, statement_timeout) is meant for the
		 * whole sample, not for the source it happened to land in: caught
		 * here, the sample went on with the next sources as if nothing had
		 * been asked.
		 */
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);

		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("nadia_bgw: sampling source \"%s\" failed: %s", name, edata->message),
				 errhint("The other sources of this sample were recorded.")));
		/*
		 * nadia_bgw_reader reads the outcome: the SQLSTATE and its class
		 * only, since a message can quote what a statistics view holds of
		 * other sessions (application_name, a value that failed a cast).
		 * The message is in the WARNING above, in the server log.
		 */
		nadia_public_error(edata->sqlerrcode, errbuf, sizeof(errbuf));
		json_add(&ctx->outcome, name, json_string(psprintf("error: %s", errbuf)));
		appendStringInfo(&ctx->failed, "%s%s", ctx->failed.len ? "," : "", name);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_SUBTRACT(t1, t0);
	json_add(&ctx->ms, name, psprintf("%.3f", INSTR_TIME_GET_MILLISEC(t1)));
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
	Datum		values[8];

	memset(&ctx, 0, sizeof(ctx));
	ctx.from_worker = from_worker;
	initStringInfo(&ctx.outcome);
	appendStringInfoChar(&ctx.outcome, '{');
	initStringInfo(&ctx.rows);
	appendStringInfoChar(&ctx.rows, '{');
	initStringInfo(&ctx.failed);
	initStringInfo(&ctx.ms);
	appendStringInfoChar(&ctx.ms, '{');

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

	/*
	 * The raw partitions this sample writes into: made by
	 * ensure_partitions() when one is missing (once per partition width).
	 */
	if (nadia_spi_exec("SELECT (SELECT count(*) FROM nadia_bgw.history_tables t WHERE t.tier = 'raw')"
					   " = (SELECT count(*) FROM nadia_bgw.history_partitions p"
					   "     JOIN nadia_bgw.history_tables t USING (parent)"
					   "    WHERE t.tier = 'raw' AND p.lo <= $1 AND $1 < p.hi)", 1,
					   (Oid[]) {TIMESTAMPTZOID}, (Datum[]) {TimestampTzGetDatum(ctx.ts)},
					   NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up history partitions");
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) &&
		nadia_spi_exec("SELECT nadia_bgw.ensure_partitions('raw', $1)", 1,
							  (Oid[]) {TIMESTAMPTZOID}, (Datum[]) {TimestampTzGetDatum(ctx.ts)},
							  NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not create history partitions");

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
		json_add(&ctx.outcome, "statements", json_string(psprintf("skipped: %s", reason)));
	}

	for (i = 1; i < nadia_n_delta_sources; i++)
		run_step(&ctx, nadia_delta_sources[i].name, STEP_DELTA, &nadia_delta_sources[i]);
	run_step(&ctx, "activity", STEP_ACTIVITY, NULL);
	run_step(&ctx, "locks", STEP_LOCKS, NULL);
	run_step(&ctx, "replication", STEP_REPLICATION, NULL);
	if (from_worker)
		run_step(&ctx, "maintenance", STEP_MAINTENANCE, NULL);

	appendStringInfoChar(&ctx.outcome, '}');
	appendStringInfoChar(&ctx.rows, '}');
	appendStringInfoChar(&ctx.ms, '}');
	INSTR_TIME_SET_CURRENT(duration);
	INSTR_TIME_SUBTRACT(duration, start);

	values[0] = Int64GetDatum(ctx.sample_id);
	values[1] = TimestampTzGetDatum(ctx.ts);
	values[2] = Float8GetDatum(INSTR_TIME_GET_MILLISEC(duration));
	values[3] = CStringGetTextDatum(from_worker ? "worker" : "take_sample");
	values[4] = CStringGetTextDatum(ctx.outcome.data);
	values[5] = CStringGetTextDatum(psprintf("{%s}", ctx.failed.data));
	values[6] = CStringGetTextDatum(ctx.rows.data);
	values[7] = CStringGetTextDatum(ctx.ms.data);
	if (nadia_spi_exec("INSERT INTO nadia_bgw.samples"
							  " (sample_id, sampled_at, duration_ms, taken_by, outcome, failed_sources, rows_written, source_ms)"
							  " VALUES ($1, $2, $3, $4, $5::jsonb, $6::text[], $7::jsonb, $8::jsonb)",
							  8, (Oid[]) {INT8OID, TIMESTAMPTZOID, FLOAT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID},
							  values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record the sample");
	return ctx.sample_id;
}

/* The worker's "sample" task: one sample, then downsampling and purge. */
void
nadia_sample_task(void)
{
	(void) nadia_take_sample(true);
}

/*
 * Keep the sampler's own statements out of pg_stat_statements for the rest
 * of the calling function (undone by AtEOXact_GUC).
 */
static int
silence_pgss(void)
{
	int			nestlevel = NewGUCNestLevel();

	if (GetConfigOption("pg_stat_statements.track", true, false) != NULL)
		(void) set_config_option("pg_stat_statements.track", "none",
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
	StringInfoData report;
	Datum		result;

	require_superuser("nadia_bgw.maintain_history()");
	nestlevel = silence_pgss();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	initStringInfo(&report);
	nadia_maintain_history(now, &report);
	SPI_finish();
	AtEOXact_GUC(true, nestlevel);
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(report.data));
	PG_RETURN_DATUM(result);
}
