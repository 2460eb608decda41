/*-------------------------------------------------------------------------
 *
 * maintenance.c
 *		The "maintenance" task: plans VACUUM / ANALYZE jobs from the latest
 *		sample and starts each in its own dynamic background worker.
 *
 * The task never runs a VACUUM itself, so a long one cannot delay the
 * cycle (sampling, rollups, alerts).  Each cycle it:
 *	1. settles jobs whose worker is gone without recording an outcome
 *	   (server shutdown, pg_terminate_backend, crash) as cancelled;
 *	   and sends SIGUSR2 to a running VACUUM job of ours (one it holds
 *	   the background-worker handle of) that falls behind (the
 *	   application made more dead tuples in its table since it started
 *	   than the table's vacuum threshold), which doubles its cost limit
 *	   up to nadia_bgw.maintenance_cost_limit_max (maintenance_job.c);
 *	2. purges history older than nadia_bgw.maintenance_history_retention
 *	   and overrides of dropped tables;
 *	3. takes the best "ready" rows of nadia_bgw.maintenance_plan, as many
 *	   as the per-cycle and concurrency caps allow, records them in
 *	   nadia_bgw.maintenance_history as queued, and starts one job worker
 *	   for each (maintenance_job.c).
 *
 * The job worker waits for this task's transaction to end before it reads
 * its row, so the row it updates is always committed (or, if the task
 * failed, absent, and the job quietly does nothing).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "maintenance/maintenance.h"
#include "core/core.h"
#include "quality/quality.h"

/*
 * Handles of the job workers this process started.  They tell reliably
 * whether a job's process is still alive; after a restart of the worker
 * (no handles) the task falls back to pg_stat_activity.
 */
#define MAX_TRACKED_JOBS 64

typedef struct TrackedJob
{
	int64		job_id;
	BackgroundWorkerHandle *handle;
} TrackedJob;

static TrackedJob tracked[MAX_TRACKED_JOBS];
static int	ntracked = 0;

static TrackedJob *
find_tracked(int64 job_id)
{
	int			i;

	for (i = 0; i < ntracked; i++)
		if (tracked[i].job_id == job_id)
			return &tracked[i];
	return NULL;
}

static void
forget_tracked(TrackedJob *t)
{
	pfree(t->handle);
	*t = tracked[--ntracked];
}

/* Column "col" of row "row" of the last SPI result (never NULL here). */
static Datum
spi_value(uint64 row, int col)
{
	bool		isnull;

	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col,
						 &isnull);
}

/*
 * A job as a statement returned it: its id (column 1) and one value passed
 * by value (column 2), copied out so that later statements may run.
 */
typedef struct JobRow
{
	int64		id;
	Datum		value;
} JobRow;

static JobRow *
job_rows(uint64 *n)
{
	JobRow	   *rows;
	uint64		i;

	*n = SPI_processed;
	rows = palloc(sizeof(JobRow) * (*n + 1));
	for (i = 0; i < *n; i++)
	{
		rows[i].id = DatumGetInt64(spi_value(i, 1));
		rows[i].value = spi_value(i, 2);
	}
	return rows;
}

/*
 * Run one statement about one job and check its result: $1 is the job's
 * id, $2 (when "argtype" is valid) "arg".
 */
static void
exec_for_job(const char *sql, int64 job_id, Oid argtype, Datum arg,
			 int expected, const char *what)
{
	Oid			types[2] = {INT8OID, argtype};
	Datum		values[2] = {Int64GetDatum(job_id), arg};

	nadia_spi_check(nadia_spi_exec(sql, OidIsValid(argtype) ? 2 : 1, types,
								   values, NULL, false, 0),
					expected, what);
}

/*
 * Settle the jobs left queued or running whose worker has exited without
 * recording how it ended, and return how many are really running.
 */
static int
settle_jobs(void)
{
	int			rc;
	uint64		i,
				n;
	JobRow	   *jobs;
	int			running = 0;

	rc = nadia_spi_exec("SELECT h.id, EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a"
						"                      WHERE a.pid = h.pid"
						"                        AND a.backend_type = '" NADIA_MAINT_JOB_TYPE "')"
						"  FROM nadia_bgw.maintenance_history h"
						" WHERE h.outcome IN ('queued', 'running')",
						0, NULL, NULL, NULL, true, 0);
	nadia_spi_check(rc, SPI_OK_SELECT, "reading open maintenance jobs");
	jobs = job_rows(&n);
	for (i = 0; i < n; i++)
	{
		bool		alive = DatumGetBool(jobs[i].value);
		TrackedJob *t = find_tracked(jobs[i].id);
		pid_t		pid;

		/* our own handle knows better than pg_stat_activity */
		if (t != NULL)
			alive = (GetBackgroundWorkerPid(t->handle, &pid) != BGWH_STOPPED);
		if (alive)
		{
			running++;
			continue;
		}
		/* the job may have recorded its outcome since we looked: re-check */
		exec_for_job("UPDATE nadia_bgw.maintenance_history"
					 "   SET outcome = 'cancelled',"
					 "       ended_at = COALESCE(ended_at, pg_catalog.now()),"
					 "       error = 'the job worker exited without recording an outcome"
					 " (server shutdown, pg_terminate_backend or crash)'"
					 " WHERE id = $1 AND outcome IN ('queued', 'running')",
					 jobs[i].id, InvalidOid, (Datum) 0,
					 SPI_OK_UPDATE, "settling a maintenance job");
	}

	/* drop handles of workers that are gone */
	for (i = 0; i < (uint64) ntracked;)
	{
		pid_t		pid;

		if (GetBackgroundWorkerPid(tracked[i].handle, &pid) == BGWH_STOPPED)
			forget_tracked(&tracked[i]);
		else
			i++;
	}
	return running;
}

/*
 * Speed up the running VACUUM jobs that fall behind: since the job started,
 * the application has made more dead tuples in its table than the vacuum
 * threshold the job was planned with, so the table will be due again by
 * the time it ends.  Each cycle that stays true doubles the job's cost
 * limit (the job applies it on SIGUSR2), up to maintenance_cost_limit_max.
 * The job records the limit it ended with.
 *
 * Only job workers this process started are signalled, at the pid their
 * background-worker handle reports: the pid in maintenance_history may
 * belong to another process by now (a job that ended, its pid reused; to
 * a walsender SIGUSR2 means "last cycle"), and a table is no proof of
 * whom a pid belongs to.  Jobs started by an earlier worker process have
 * no handle here and are left at their limit.
 */
static void
speed_up_jobs(void)
{
	int			rc;
	uint64		i;
	Oid			argtypes[2] = {INT4OID, INT8ARRAYOID};
	Datum		values[2];
	Datum	   *ids;
	int			n = 0;
	int			j;

	ids = palloc(sizeof(Datum) * (ntracked + 1));
	for (j = 0; j < ntracked; j++)
	{
		pid_t		pid;

		if (GetBackgroundWorkerPid(tracked[j].handle, &pid) == BGWH_STARTED)
			ids[n++] = Int64GetDatum(tracked[j].job_id);
	}
	if (n == 0)
		return;

	/*
	 * The row's cost_limit follows what the job does on each signal, so
	 * that a job already at the ceiling is left alone; the job records the
	 * limit it really ended with.  A row the job is updating is skipped.
	 */
	values[0] = Int32GetDatum(nadia_maint_cost_limit_max);
	values[1] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
	rc = nadia_spi_exec("WITH behind AS ("
						"  SELECT h.id, g.grown"
						"    FROM nadia_bgw.maintenance_history h"
						"   CROSS JOIN LATERAL (SELECT pg_catalog.pg_stat_get_dead_tuples(h.relid)"
						"                              - h.dead_tuples_before AS grown) g"
						"   WHERE h.id = ANY ($2)"
						"     AND h.outcome = 'running' AND h.action LIKE 'vacuum%'"
						"     AND h.cost_limit < $1"
						"     AND g.grown > COALESCE((h.figures->>'vacuum_threshold')::float8, 0)"
						"     FOR UPDATE OF h SKIP LOCKED"
						")"
						" UPDATE nadia_bgw.maintenance_history h"
						"    SET cost_limit = LEAST(h.cost_limit * 2, $1)"
						"   FROM behind b WHERE h.id = b.id"
						" RETURNING h.id, h.relname, b.grown, h.cost_limit",
						2, argtypes, values, NULL, false, 0);
	nadia_spi_check(rc, SPI_OK_UPDATE_RETURNING, "speeding up maintenance jobs");
	for (i = 0; i < SPI_processed; i++)
	{
		int64		job_id = DatumGetInt64(spi_value(i, 1));
		TrackedJob *t = find_tracked(job_id);
		pid_t		pid;

		/* the job may have just exited: then there is nothing to speed up */
		if (t == NULL || GetBackgroundWorkerPid(t->handle, &pid) != BGWH_STARTED)
			continue;
		if (kill(pid, SIGUSR2) == 0)
			ereport(LOG,
					(errmsg("nadia_bgw: maintenance job " INT64_FORMAT " on \"%s\" falls behind (%s new dead tuples): cost limit raised to %s",
							job_id, nadia_spi_getstring(i, 2),
							nadia_spi_getstring(i, 3), nadia_spi_getstring(i, 4))));
	}
}

/* Housekeeping: bounded history, no overrides or requests for dropped tables. */
static void
purge(void)
{
	Oid			type = INT4OID;
	Datum		days = Int32GetDatum(nadia_maint_history_days);

	nadia_spi_check(nadia_spi_exec("DELETE FROM nadia_bgw.maintenance_history"
								   " WHERE planned_at < pg_catalog.now() - pg_catalog.make_interval(days => $1)"
								   "   AND outcome NOT IN ('queued', 'running')",
								   1, &type, &days, NULL, false, 0),
					SPI_OK_DELETE, "purging maintenance history");
	nadia_spi_check(nadia_spi_exec("DELETE FROM nadia_bgw.maintenance_settings s"
								   " WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = s.relid)",
								   0, NULL, NULL, NULL, false, 0),
					SPI_OK_DELETE, "purging maintenance overrides");
	nadia_spi_check(nadia_spi_exec("DELETE FROM nadia_bgw.maintenance_requests r"
								   " WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = r.relid)",
								   0, NULL, NULL, NULL, false, 0),
					SPI_OK_DELETE, "purging maintenance requests");
}

/*
 * Start the job worker of one queued job and note its pid in the row.
 * Returns false when no worker slot is free: the caller drops that job and
 * the rest, which the next cycle plans again.
 */
static bool
launch_job(int64 job_id, Oid relid)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	NadiaMaintJobArg arg;
	MemoryContext old;
	BgwHandleStatus status;
	pid_t		pid;

	memset(&arg, 0, sizeof(arg));
	arg.job_id = job_id;
	arg.dbid = MyDatabaseId;
	arg.relid = relid;
	arg.planner_xid = GetTopTransactionId();

	StaticAssertStmt(sizeof(NadiaMaintJobArg) <= BGW_EXTRALEN,
					 "job argument must fit in bgw_extra");
	nadia_dynamic_worker_init(&worker, "nadia_maintenance_job_main",
							  NADIA_MAINT_JOB_TYPE, &arg, sizeof(arg));
	snprintf(worker.bgw_name, BGW_MAXLEN, "nadia_bgw maintenance job " INT64_FORMAT,
			 job_id);

	if (ntracked >= MAX_TRACKED_JOBS)
		return false;

	old = MemoryContextSwitchTo(TopMemoryContext);
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		MemoryContextSwitchTo(old);
		ereport(LOG,
				(errmsg("nadia_bgw: could not start a maintenance job worker: no background worker slot free"),
				 errhint("Raise max_worker_processes or lower nadia_bgw.maintenance_max_concurrent.")));
		return false;
	}
	MemoryContextSwitchTo(old);

	/* only a fork away; the job itself waits for our commit */
	status = WaitForBackgroundWorkerStartup(handle, &pid);
	if (status != BGWH_STARTED)
	{
		pfree(handle);
		exec_for_job("UPDATE nadia_bgw.maintenance_history"
					 "   SET outcome = 'failed', ended_at = pg_catalog.now(), error = $2"
					 " WHERE id = $1",
					 job_id, TEXTOID, CStringGetTextDatum("the job worker did not start"),
					 SPI_OK_UPDATE, "recording a failed start");
		return status != BGWH_POSTMASTER_DIED;
	}
	tracked[ntracked].job_id = job_id;
	tracked[ntracked].handle = handle;
	ntracked++;

	exec_for_job("UPDATE nadia_bgw.maintenance_history SET pid = $2 WHERE id = $1",
				 job_id, INT4OID, Int32GetDatum(pid),
				 SPI_OK_UPDATE, "recording the job worker's pid");
	return true;
}

/*
 * Queue the best ready candidates (at most "slots") and start their job
 * workers; returns how many started.
 */
static int
start_jobs(int slots)
{
	int			rc;
	uint64		i,
				n;
	JobRow	   *jobs;
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1];
	int			started = 0;

	/*
	 * Queue the best ready candidates and consume their requests, in one
	 * statement: the plan is read once, under one snapshot.
	 */
	values[0] = Int32GetDatum(slots);
	rc = nadia_spi_exec("WITH picked AS ("
						"  SELECT relid, schemaname, relname, action, reason, figures, emergency, rank"
						"    FROM nadia_bgw.maintenance_plan"
						"   WHERE state = 'ready'"
						"   ORDER BY rank LIMIT $1"
						"), consumed AS ("
						"  DELETE FROM nadia_bgw.maintenance_requests r"
						"   USING picked p WHERE r.relid = p.relid"
						")"
						" INSERT INTO nadia_bgw.maintenance_history"
						"        (relid, schemaname, relname, action, reason, figures, emergency)"
						" SELECT relid, schemaname, relname, action, reason, figures, emergency"
						"   FROM picked ORDER BY rank"
						" RETURNING id, relid",
						1, argtypes, values, NULL, false, 0);
	nadia_spi_check(rc, SPI_OK_INSERT_RETURNING, "queuing maintenance jobs");
	jobs = job_rows(&n);
	for (i = 0; i < n; i++)
	{
		if (!launch_job(jobs[i].id, DatumGetObjectId(jobs[i].value)))
		{
			/* no slot: these stay unplanned, the next cycle retries */
			for (; i < n; i++)
				exec_for_job("DELETE FROM nadia_bgw.maintenance_history WHERE id = $1",
							 jobs[i].id, InvalidOid, (Datum) 0,
							 SPI_OK_DELETE, "dropping a job that could not start");
			break;
		}
		started++;
	}
	return started;
}

void
nadia_maintenance_task(void)
{
	int			running;
	int			slots;
	bool		counting;

	/*
	 * Never wait long for a lock on our own tables: DDL on them (DROP
	 * EXTENSION, ALTER EXTENSION UPDATE) takes its locks in another order,
	 * and waiting would deadlock with it.  This cycle's task fails instead
	 * (recorded in nadia_bgw.status) and the next one runs normally.
	 */
	nadia_spi_check(SPI_execute("SET LOCAL lock_timeout = '100ms'", false, 0),
					SPI_OK_UTILITY, "setting lock_timeout");

	running = settle_jobs();
	if (running > 0)
		speed_up_jobs();
	purge();

	/* the quality count worker, when it runs, takes one job slot */
	counting = nadia_quality_count_running();
	if (counting)
		running++;

	if (nadia_maint_enabled)
	{
		slots = Min(nadia_maint_max_jobs_per_cycle, nadia_maint_max_concurrent - running);
		if (slots > 0)
			running += start_jobs(slots);
	}

	/*
	 * Then the counted quality facts (docs/quality.md), in a slot left by
	 * VACUUM and ANALYZE, which come first; they have their own switch,
	 * nadia_bgw.quality_count_enabled, not maintenance_enabled.
	 */
	if (!counting)
		nadia_quality_count_launch(nadia_maint_max_concurrent - running,
								   nadia_maint_lock_timeout);
}
