/*-------------------------------------------------------------------------
 *
 * scheduler.c
 *		The nadia_bgw background worker: connection, main loop, timing and
 *		per-task error isolation.
 *
 * Life cycle:
 *	1. It connects to nadia_bgw.database.  If that fails (the database does
 *	   not exist: one FATAL in the log), the restarted worker connects to no
 *	   database (shared catalogs only), polls pg_database every interval
 *	   (a database left invalid by an interrupted DROP DATABASE counts as
 *	   missing) and, once the database appears, exits with code 1 so that the
 *	   postmaster restarts it a few seconds later to connect.  A process
 *	   cannot switch databases, and retrying the connection would be a
 *	   crash loop.
 *	2. Connected to the database, it runs a cycle every nadia_bgw.interval
 *	   seconds on a drift-free schedule (next = previous scheduled time +
 *	   interval; missed slots are skipped, never queued).  nadia_bgw.wake()
 *	   runs a cycle at once without moving the schedule.
 *	3. A cycle runs nothing while the server is in recovery, while
 *	   nadia_bgw.enabled is off, or while the extension is not created in
 *	   the database; each of these is logged once when it starts.
 *	4. Otherwise each task runs in its own transaction inside PG_TRY: an
 *	   ERROR is logged with the task's name, recorded in shared memory (the
 *	   nadia_bgw.status view) and the next task runs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "scheduler/scheduler.h"

/* Conditions that are logged once when they begin, not every cycle. */
typedef enum
{
	IDLE_UNKNOWN,				/* no cycle yet */
	IDLE_NONE,
	IDLE_RECOVERY,
	IDLE_DISABLED,
	IDLE_NO_EXTENSION
} IdleReason;

static IdleReason last_idle = IDLE_UNKNOWN;
static MemoryContext cycle_context = NULL;

static uint64 begin_cycle(void);
static void end_cycle(uint64 ticket, TimestampTz end, TimestampTz next);
static long interval_ms(void);

static void
worker_detach(int code, Datum arg)
{
	LWLockAcquire(nadia_shared->lock, LW_EXCLUSIVE);
	nadia_shared->worker_pid = 0;
	nadia_shared->worker_latch = NULL;
	strlcpy(nadia_shared->state, "stopped", NADIA_BGW_STATE_LEN);
	LWLockRelease(nadia_shared->lock);
	/* let waiters in wake() notice that nobody will serve them */
	ConditionVariableBroadcast(&nadia_shared->cycle_done);
}

static void
worker_attach(void)
{
	LWLockAcquire(nadia_shared->lock, LW_EXCLUSIVE);
	nadia_shared->worker_pid = MyProcPid;
	nadia_shared->worker_latch = MyLatch;
	nadia_shared->worker_started_at = GetCurrentTimestamp();
	nadia_shared->cycles = 0;
	nadia_shared->next_cycle_at = 0;
	LWLockRelease(nadia_shared->lock);
	nadia_publish_timezone();
	before_shmem_exit(worker_detach, (Datum) 0);
}

/*
 * Does the database exist, and can it be connected to?  Connected to no
 * database, the worker may read shared catalogs only, and not through
 * their indexes (whose relcache entries need pg_class), so scan pg_database
 * like the autovacuum launcher.  A database left invalid by an interrupted
 * DROP DATABASE (datconnlimit = DATCONNLIMIT_INVALID_DB) refuses every
 * connection: it counts as missing, or the worker would exit to connect,
 * fail and come back every few seconds.
 */
typedef enum DatabaseState
{
	DATABASE_MISSING,
	DATABASE_INVALID,
	DATABASE_EXISTS
} DatabaseState;

static DatabaseState
database_state(const char *name)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	DatabaseState state = DATABASE_MISSING;

	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (state == DATABASE_MISSING &&
		   HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (strcmp(NameStr(db->datname), name) != 0)
			continue;
		state = DATABASE_EXISTS;
#ifdef DATCONNLIMIT_INVALID_DB
		/* 15.4 and later mark a half-dropped database so */
		if (database_is_invalid_form(db))
			state = DATABASE_INVALID;
#endif
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	return state;
}

static void
process_interrupts(void)
{
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
		nadia_publish_timezone();
	}
}

/*
 * Phase 1: no database yet.  Connected to shared catalogs only, look the
 * database up each interval; exit(1) once it exists so that the restarted
 * process can connect to it.
 */
static void
wait_for_database(void)
{
	DatabaseState logged = DATABASE_EXISTS;

	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	nadia_set_state("waiting for database");

	for (;;)
	{
		DatabaseState state;
		uint64		ticket;

		process_interrupts();
		ticket = begin_cycle();

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		state = database_state(nadia_bgw_database);
		CommitTransactionCommand();

		if (state == DATABASE_EXISTS)
		{
			ereport(LOG,
					(errmsg("nadia_bgw: database \"%s\" exists now; restarting the worker to connect to it",
							nadia_bgw_database)));
			LWLockAcquire(nadia_shared->lock, LW_EXCLUSIVE);
			nadia_shared->database_seen = true;
			LWLockRelease(nadia_shared->lock);
			proc_exit(1);
		}
		/* log once per condition, again only when it changes */
		if (state != logged && state == DATABASE_MISSING)
			ereport(LOG,
					(errmsg("nadia_bgw: database \"%s\" does not exist; waiting for it",
							nadia_bgw_database),
					 errhint("Create the database, or set nadia_bgw.database and restart the server.")));
		else if (state != logged && state == DATABASE_INVALID)
			ereport(LOG,
					(errmsg("nadia_bgw: database \"%s\" is invalid (an interrupted DROP DATABASE); waiting for it",
							nadia_bgw_database),
					 errhint("Finish with DROP DATABASE and create it again, or set nadia_bgw.database and restart the server.")));
		logged = state;
		end_cycle(ticket, GetCurrentTimestamp(),
				  TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
											  interval_ms()));

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 nadia_bgw_interval * 1000L,
						 nadia_wait_event(NADIA_WAIT_DATABASE));
		ResetLatch(MyLatch);
	}
}

/* Log a reason for idling once, when it starts. */
static void
enter_idle(IdleReason reason)
{
	if (reason == last_idle)
		return;
	last_idle = reason;
	switch (reason)
	{
		case IDLE_RECOVERY:
			nadia_set_state("standby: idle");
			ereport(LOG,
					(errmsg("nadia_bgw: server is in recovery; the worker writes nothing until promotion")));
			break;
		case IDLE_DISABLED:
			nadia_set_state("paused");
			ereport(LOG,
					(errmsg("nadia_bgw: nadia_bgw.enabled is off; tasks are paused")));
			break;
		case IDLE_NO_EXTENSION:
			nadia_set_state("waiting for extension");
			ereport(LOG,
					(errmsg("nadia_bgw: extension \"nadia_bgw\" is not created in database \"%s\"; waiting for it",
							nadia_bgw_database),
					 errhint("Run CREATE EXTENSION nadia_bgw in database \"%s\".",
							 nadia_bgw_database)));
			break;
		case IDLE_NONE:
			nadia_set_state("running");
			if (nadia_shared->cycles > 0)
				ereport(LOG, (errmsg("nadia_bgw: tasks resumed")));
			break;
		case IDLE_UNKNOWN:
			break;
	}
}

static bool
extension_exists(void)
{
	bool		exists;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	exists = OidIsValid(get_extension_oid(NADIA_BGW_NAME, true));
	CommitTransactionCommand();
	return exists;
}

static void
task_error_context(void *arg)
{
	errcontext("nadia_bgw task \"%s\"", (const char *) arg);
}

/*
 * Testing hooks: a delay that stays responsive to shutdown, and an
 * injected error, both named by GUCs that only superusers can set.
 */
static void
apply_debug_hooks(const char *task)
{
	TimestampTz start = GetCurrentTimestamp();

	/* re-read on reload, so that a test can cut a long delay short */
	while (nadia_bgw_debug_task_delay > 0 &&
		   TimestampDifferenceMilliseconds(start, GetCurrentTimestamp()) <
		   nadia_bgw_debug_task_delay)
	{
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100, nadia_wait_event(NADIA_WAIT_TEST_DELAY));
		ResetLatch(MyLatch);
		process_interrupts();
	}
	nadia_debug_fail_point(nadia_bgw_debug_fail_task, "nadia_bgw.debug_fail_task",
						   "task", task);
}

static void
record_task(int i, TimestampTz start, bool ok, const char *error)
{
	NadiaTaskStatus *t = &nadia_shared->tasks[i];
	TimestampTz end = GetCurrentTimestamp();

	LWLockAcquire(nadia_shared->lock, LW_EXCLUSIVE);
	t->last_start = start;
	t->last_end = end;
	t->last_duration_ms = (double) (end - start) / 1000.0;
	t->runs++;
	if (ok)
	{
		strlcpy(t->outcome, "ok", sizeof(t->outcome));
		t->last_success = end;
	}
	else
	{
		strlcpy(t->outcome, "error", sizeof(t->outcome));
		strlcpy(t->last_error, error, NADIA_BGW_ERRMSG_LEN);
		t->failures++;
	}
	LWLockRelease(nadia_shared->lock);
}

/*
 * Hold the extension for one task's transaction, as any use of an object
 * does (AccessShareLock on it): a DROP EXTENSION then waits for the task
 * to end instead of taking our schema from under it, which failed every
 * statement left in the cycle.  False when it was dropped before we got
 * the lock: taking it processed the invalidations, so the second lookup
 * sees the drop.
 */
static bool
hold_extension(void)
{
	Oid			ext = get_extension_oid(NADIA_BGW_NAME, true);

	if (!OidIsValid(ext))
		return false;
	LockDatabaseObject(ExtensionRelationId, ext, 0, AccessShareLock);
	return get_extension_oid(NADIA_BGW_NAME, true) == ext;
}

/*
 * Run one task in its own transaction.  An ERROR aborts only that
 * transaction: it is reported to the log (with the task named in the
 * context line) and recorded for nadia_bgw.status.  Returns false, the
 * task not run, when the extension was dropped since the cycle began.
 */
static bool
run_task(int i)
{
	const NadiaTask *task = &nadia_tasks[i];
	TimestampTz start = GetCurrentTimestamp();
	ErrorContextCallback errcb;
	char		error[NADIA_BGW_ERRMSG_LEN];
	bool		ok = false;
	bool		dropped = false;

	error[0] = '\0';
	MemoryContextSwitchTo(cycle_context);
	pgstat_report_activity(STATE_RUNNING, task->name);

	PG_TRY();
	{
		errcb.callback = task_error_context;
		errcb.arg = (void *) task->name;
		errcb.previous = error_context_stack;
		error_context_stack = &errcb;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());

		dropped = !hold_extension();
		if (!dropped)
		{
			apply_debug_hooks(task->name);
			task->run();
		}

		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		error_context_stack = errcb.previous;
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(cycle_context);
		edata = CopyErrorData();
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		error_context_stack = errcb.previous;
		/*
		 * nadia_bgw.status is readable by nadia_bgw_reader, and a message
		 * can quote a data value: it shows the SQLSTATE, the message is in
		 * the log (EmitErrorReport above).
		 */
		nadia_public_error(edata->sqlerrcode, error, sizeof(error));
		FreeErrorData(edata);
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();

	if (!dropped)
		record_task(i, start, ok, error);
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextReset(cycle_context);
	return !dropped;
}

/* Take the wake ticket a cycle serves and note when the cycle starts. */
static uint64
begin_cycle(void)
{
	uint64		ticket;

	LWLockAcquire(nadia_shared->lock, LW_EXCLUSIVE);
	ticket = nadia_shared->wake_requested;
	nadia_shared->last_cycle_start = GetCurrentTimestamp();
	LWLockRelease(nadia_shared->lock);
	return ticket;
}

/*
 * Publish the end of a cycle: its count, the wake ticket it served and the
 * next scheduled cycle, together, so a reader of nadia_bgw.status (or a
 * caller of wake()) never sees one without the others.
 */
static void
end_cycle(uint64 ticket, TimestampTz end, TimestampTz next)
{
	LWLockAcquire(nadia_shared->lock, LW_EXCLUSIVE);
	nadia_shared->cycles++;
	nadia_shared->last_cycle_end = end;
	nadia_shared->wake_served = ticket;
	nadia_shared->next_cycle_at = next;
	LWLockRelease(nadia_shared->lock);
	ConditionVariableBroadcast(&nadia_shared->cycle_done);
}

/* One cycle: every task in order, unless something says to stay idle. */
static void
run_cycle(void)
{
	int			i;

	if (RecoveryInProgress())
		enter_idle(IDLE_RECOVERY);
	else if (!nadia_bgw_enabled)
		enter_idle(IDLE_DISABLED);
	else if (!extension_exists())
		enter_idle(IDLE_NO_EXTENSION);
	else
	{
		enter_idle(IDLE_NONE);
		for (i = 0; i < nadia_ntasks && i < NADIA_BGW_MAX_TASKS; i++)
		{
			process_interrupts();
			/* a reload may have paused us between two tasks */
			if (!nadia_bgw_enabled)
				break;
			/* dropped mid-cycle: the next cycle waits for it */
			if (!run_task(i))
				break;
		}
	}
}

static bool
wake_pending(void)
{
	bool		pending;

	LWLockAcquire(nadia_shared->lock, LW_SHARED);
	pending = nadia_shared->wake_requested != nadia_shared->wake_served;
	LWLockRelease(nadia_shared->lock);
	return pending;
}

static long
interval_ms(void)
{
	return nadia_bgw_interval * 1000L;
}

/*
 * Move "slot" along the drift-free schedule past the slots that are already
 * over: a cycle that overran skips them instead of running them back to
 * back.  The result is the last slot not after "now".
 */
static TimestampTz
skip_missed(TimestampTz slot, TimestampTz now)
{
	while (TimestampTzPlusMilliseconds(slot, interval_ms()) <= now)
		slot = TimestampTzPlusMilliseconds(slot, interval_ms());
	return slot;
}

void
nadia_bgw_main(Datum main_arg)
{
	bool		database_seen;
	bool		first = true;
	TimestampTz slot;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	worker_attach();

	LWLockAcquire(nadia_shared->lock, LW_EXCLUSIVE);
	database_seen = nadia_shared->database_seen;
	/* if the connection below fails, the next start waits for the database */
	nadia_shared->database_seen = false;
	LWLockRelease(nadia_shared->lock);

	if (!database_seen)
		wait_for_database();	/* does not return */

	BackgroundWorkerInitializeConnection(nadia_bgw_database, NULL, 0);

	LWLockAcquire(nadia_shared->lock, LW_EXCLUSIVE);
	nadia_shared->database_seen = true;
	LWLockRelease(nadia_shared->lock);

	pgstat_report_appname(NADIA_BGW_NAME);
	nadia_session_pin();		/* search_path: see session.c */
	/* keep the worker's own statements out of pg_stat_statements */
	SetConfigOption("pg_stat_statements.track", "none",
					PGC_SUSET, PGC_S_SESSION);

	cycle_context = AllocSetContextCreate(TopMemoryContext,
										  "nadia_bgw cycle",
										  ALLOCSET_DEFAULT_SIZES);
	ereport(LOG,
			(errmsg("nadia_bgw: worker started in database \"%s\" (interval %d s)",
					nadia_bgw_database, nadia_bgw_interval)));
	nadia_set_state("starting");

	/*
	 * "slot" is the scheduled time of the last regular cycle; the next one
	 * is due at slot + interval, however long the last one took and
	 * whenever wake() ran extra cycles in between.  The interval is read
	 * afresh each time, so a reload takes effect at the next wake-up.
	 */
	slot = GetCurrentTimestamp();
	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		TimestampTz due = TimestampTzPlusMilliseconds(slot, interval_ms());
		long		timeout;

		if (first || now >= due || wake_pending())
		{
			uint64		ticket = begin_cycle();
			TimestampTz end;

			if (!first && now >= due)
				slot = due;
			first = false;
			run_cycle();
			end = GetCurrentTimestamp();
			slot = skip_missed(slot, end);
			end_cycle(ticket, end, TimestampTzPlusMilliseconds(slot, interval_ms()));
			continue;
		}

		timeout = TimestampDifferenceMilliseconds(now, due);
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout,
						 nadia_wait_event(NADIA_WAIT_MAIN));
		ResetLatch(MyLatch);
		process_interrupts();
	}
}
