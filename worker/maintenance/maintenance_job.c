/*-------------------------------------------------------------------------
 *
 * maintenance_job.c
 *		The job worker: a dynamic background worker that runs one VACUUM or
 *		ANALYZE planned by the maintenance task and records how it ended.
 *
 * VACUUM cannot run through SPI (it must be the top-level statement of
 * its transaction and manages transactions itself), so the worker parses
 * the statement and hands it to ProcessUtility as a top-level command,
 * the way exec_simple_query would.  What keeps it from ever blocking the
 * application:
 *	- SKIP_LOCKED: a table whose lock is taken is skipped, not waited for
 *	  (VACUUM reports it with a WARNING, code 55P03, which we catch in
 *	  emit_log_hook and record as skipped-locked);
 *	- the statement is bound to the table's OID, not its name (a table
 *	  renamed and replaced meanwhile is not confused with the new one);
 *	- lock_timeout (nadia_bgw.maintenance_lock_timeout) for any other lock
 *	  the statement needs (indexes, TOAST);
 *	- the process is flagged like an autovacuum worker
 *	  (PROC_IS_AUTOVACUUM), so a session that then waits deadlock_timeout
 *	  for a lock our job holds (an ALTER TABLE, a LOCK TABLE) cancels it,
 *	  exactly as PostgreSQL does with autovacuum;
 *	- its own cost delay and limit (nadia_bgw.maintenance_cost_*).
 *
 * A VACUUM job that falls behind the application (the maintenance task
 * sees more new dead tuples in the table than its vacuum threshold since
 * the job started) is sent SIGUSR2 once per cycle, and doubles its cost
 * limit each time, up to nadia_bgw.maintenance_cost_limit_max.  This is
 * what keeps one VACUUM from running for minutes under heavy churn: a
 * VACUUM not run by autovacuum cleans a GIN index's pending list to its
 * very end (ginInsertCleanup with full_clean), and while the application
 * appends to the list faster than a throttled VACUUM merges it, that
 * never ends; a higher cost limit lets it catch up.  The limit in effect
 * when the job ended is recorded in its history row.
 *
 * Up to PostgreSQL 15, vacuum_delay_point() reads VacuumCostLimit (the
 * vacuum_cost_limit setting's variable) at every call.  From 16 on it reads
 * vacuum_cost_limit, a copy that vacuum() takes at its start
 * (VacuumUpdateCosts()) and that only autovacuum workers refresh while they
 * run, on a configuration reload: a raise of VacuumCostLimit alone would
 * then wait for the next statement.  The SIGUSR2 handler therefore sets
 * both.
 *
 * SIGTERM (fast shutdown, pg_terminate_backend) during the statement is
 * turned into a query cancel: the statement stops at its next interrupt
 * check, the job is recorded as cancelled in a short transaction and the
 * process exits, so a shutdown waits milliseconds, not for the VACUUM.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/vacuum.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "parser/parser.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/dest.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "maintenance/maintenance.h"
#include "core/core.h"

#define JOB_ERROR_LEN 1024

static volatile sig_atomic_t terminate_requested = false;
static volatile sig_atomic_t in_statement = false;

/* How many times SIGUSR2 raised the cost limit of the running statement. */
static volatile sig_atomic_t speedups = 0;

/*
 * Make "limit" the cost limit of the running (or next) VACUUM or ANALYZE:
 * plain int stores, nothing else, because the SIGUSR2 handler calls this
 * (see job_speedup() for why it must).
 *
 * On 15 vacuum_delay_point() reads VacuumCostLimit itself: one store.  On
 * 16+ it reads vacuum_cost_limit, the copy vacuum() takes of
 * VacuumCostLimit when it starts; both are stored, so that a raise that
 * arrives before vacuum() takes its copy (during the test build's delay,
 * or while the statement is parsed) is not overwritten by it.  The copy
 * is set directly rather than through VacuumUpdateCosts(), which also
 * re-decides VacuumCostActive: from a signal handler that could race the
 * wraparound failsafe switching the delay off (VacuumFailsafeActive), and
 * the limit is all we change.
 */
static inline void
set_cost_limit(int limit)
{
	VacuumCostLimit = limit;
#if PG_VERSION_NUM >= 160000
	vacuum_cost_limit = limit;
#endif
}

/* The cost limit vacuum_delay_point() uses (see the file header). */
static int
cost_limit_in_effect(void)
{
#if PG_VERSION_NUM >= 160000
	return vacuum_cost_limit;
#else
	return VacuumCostLimit;
#endif
}

/*
 * Set by the log hook when the statement skipped the relation: SKIP_LOCKED
 * found it locked (55P03), or it was dropped since the job was claimed
 * (42P01; the statement is bound to the OID, see run_toplevel()).
 */
static bool lock_skipped = false;
static int	skipped_code = 0;
static char lock_skipped_msg[JOB_ERROR_LEN];
static emit_log_hook_type prev_emit_log_hook = NULL;

/*
 * SIGTERM: during the statement, cancel it so that the job can record its
 * end; otherwise behave like PostgreSQL's die().
 */
static void
job_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	terminate_requested = true;
	if (in_statement)
	{
		InterruptPending = true;
		QueryCancelPending = true;
		SetLatch(MyLatch);
	}
	else
		die(postgres_signal_arg);
	errno = save_errno;
}

/*
 * SIGUSR2: the maintenance task found this job falling behind; double the
 * cost limit of the running statement.
 *
 * The one handler of ours that does more than set a flag and the latch,
 * and why: the statement it must speed up is a VACUUM, which runs no code
 * of ours until it ends, and PostgreSQL calls no hook on its way that we
 * could act from -- vacuum_delay_point() re-reads the configuration in
 * autovacuum workers only, and a CHECK_FOR_INTERRUPTS() runs nothing of an
 * extension's.  A flag would be seen only after the VACUUM, too late to
 * matter.  So the handler stores the new limit itself, and does nothing
 * more: it reads two ints and makes the int stores of set_cost_limit(),
 * which are as async-signal-safe as setting a flag.  vacuum_delay_point()
 * divides by the limit and compares with it, so any positive value is
 * safe at any moment of the statement.
 */
static void
job_speedup(SIGNAL_ARGS)
{
	int			save_errno = errno;

	if (in_statement && VacuumCostLimit < nadia_maint_cost_limit_max)
	{
		set_cost_limit(Min(VacuumCostLimit * 2, nadia_maint_cost_limit_max));
		speedups++;
	}
	SetLatch(MyLatch);
	errno = save_errno;
}

static void
job_log_hook(ErrorData *edata)
{
	if (in_statement && edata->elevel == WARNING &&
		(edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ||
		 edata->sqlerrcode == ERRCODE_UNDEFINED_TABLE))
	{
		lock_skipped = true;
		skipped_code = edata->sqlerrcode;
		strlcpy(lock_skipped_msg, edata->message ? edata->message : "relation skipped",
				sizeof(lock_skipped_msg));
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/* Settings of this session: ours, and out of everyone's statistics. */
static void
configure_session(void)
{
	char		buf[64];

	nadia_session_pin();		/* search_path: see session.c */
	SetConfigOption("pg_stat_statements.track", "none", PGC_SUSET, PGC_S_SESSION);
	snprintf(buf, sizeof(buf), "%g", nadia_maint_cost_delay);
	SetConfigOption("vacuum_cost_delay", buf, PGC_SUSET, PGC_S_SESSION);
	snprintf(buf, sizeof(buf), "%d", nadia_maint_cost_limit);
	SetConfigOption("vacuum_cost_limit", buf, PGC_SUSET, PGC_S_SESSION);
	/* 16+: so that a job that ends before vacuum() starts records it too */
	set_cost_limit(VacuumCostLimit);
	snprintf(buf, sizeof(buf), "%d", nadia_maint_lock_timeout);
	SetConfigOption("lock_timeout", buf, PGC_SUSET, PGC_S_SESSION);
	SetConfigOption("statement_timeout", "0", PGC_SUSET, PGC_S_SESSION);

	/* the skip is reported as a WARNING: make sure it reaches our hook */
	if (log_min_messages == LOG || log_min_messages > WARNING)
		SetConfigOption("log_min_messages", "warning", PGC_SUSET, PGC_S_SESSION);
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = job_log_hook;

	/*
	 * Be an autovacuum worker in the eyes of the lock manager: a session
	 * that waits for a lock we hold cancels us after deadlock_timeout.
	 * The flag is set once at process start and never cleared, as
	 * autovacuum does.
	 */
	LWLockAcquire(ProcArrayLock, LW_EXCLUSIVE);
	MyProc->statusFlags |= PROC_IS_AUTOVACUUM;
	ProcGlobal->statusFlags[MyProc->pgxactoff] = MyProc->statusFlags;
	LWLockRelease(ProcArrayLock);
}

/* the VACUUM actions of the plan, and the options each adds */
static const struct
{
	const char *action;
	const char *options;
}			vacuum_actions[] =
{
	{"vacuum", ""},
	{"vacuum analyze", "ANALYZE, "},
	{"vacuum freeze", "FREEZE, "},
	{"vacuum freeze analyze", "FREEZE, ANALYZE, "},
};

static const char *
statement_for(const char *action, const char *qualname, StringInfo sql)
{
	size_t		i;

	if (strcmp(action, "analyze") == 0)
	{
		appendStringInfo(sql, "ANALYZE (SKIP_LOCKED) %s", qualname);
		return sql->data;
	}
	for (i = 0; i < lengthof(vacuum_actions); i++)
	{
		if (strcmp(action, vacuum_actions[i].action) == 0)
		{
			appendStringInfo(sql, "VACUUM (SKIP_LOCKED, %sPARALLEL %d) %s",
							 vacuum_actions[i].options,
							 nadia_maint_parallel_workers, qualname);
			return sql->data;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("unknown maintenance action \"%s\"", action)));
	return NULL;				/* keep the compiler quiet */
}

/*
 * Run one utility statement as the top-level command of the current
 * transaction.  VACUUM commits it and starts its own; whatever transaction
 * is current afterwards is the caller's to commit.
 */
static void
run_toplevel(const char *sql, Oid relid)
{
	List	   *parsed = raw_parser(sql, RAW_PARSE_DEFAULT);
	RawStmt    *raw;
	PlannedStmt *pstmt;
	VacuumStmt *vac;

	if (list_length(parsed) != 1)
		elog(ERROR, "expected one statement in \"%s\"", sql);
	raw = linitial_node(RawStmt, parsed);

	/*
	 * Bind the statement to the planned table's OID, as autovacuum does:
	 * the name (kept for messages and the history) would be looked up
	 * again, and a table renamed since the job was claimed, with another
	 * one created under its old name, would be the one processed.
	 * Given an OID, VACUUM and ANALYZE neither resolve the name nor expand
	 * it; a table dropped meanwhile is reported by a WARNING (42P01).
	 */
	vac = castNode(VacuumStmt, raw->stmt);
	if (list_length(vac->rels) != 1)
		elog(ERROR, "expected one relation in \"%s\"", sql);
	linitial_node(VacuumRelation, vac->rels)->oid = relid;

	pstmt = makeNode(PlannedStmt);
	pstmt->commandType = CMD_UTILITY;
	pstmt->canSetTag = true;
	pstmt->utilityStmt = raw->stmt;
	pstmt->stmt_location = raw->stmt_location;
	pstmt->stmt_len = raw->stmt_len;

	/* as PortalRunUtility does; VACUUM pops it before its own transactions */
	PushActiveSnapshot(GetTransactionSnapshot());
	ProcessUtility(pstmt, sql, false, PROCESS_UTILITY_TOPLEVEL, NULL, NULL,
				   None_Receiver, NULL);
	if (ActiveSnapshotSet())
		PopActiveSnapshot();
}

/*
 * Hooks of the test build (their settings exist only there; elsewhere the
 * delay is 0 and the failure setting NULL): wait before the statement,
 * interruptibly, a reload cutting the wait short; then fail if
 * nadia_bgw.debug_fail_task names "maintenance job".
 */
static void
debug_hooks(void)
{
	TimestampTz start = GetCurrentTimestamp();

	while (nadia_maint_debug_job_delay > 0 &&
		   TimestampDifferenceMilliseconds(start, GetCurrentTimestamp()) <
		   nadia_maint_debug_job_delay)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100, nadia_wait_event(NADIA_WAIT_JOB));
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}
	nadia_debug_fail_point(nadia_bgw_debug_fail_task, "nadia_bgw.debug_fail_task",
						   "task", "maintenance job");
}

/*
 * The job's bookkeeping runs in short transactions of its own, around the
 * statement's (which VACUUM manages itself): begin one, SPI connected with
 * a snapshot taken after "wait_for" (if valid) has ended, and commit it.
 */
static void
begin_bookkeeping(TransactionId wait_for)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (TransactionIdIsValid(wait_for))
		XactLockTableWait(wait_for, NULL, NULL, XLTW_None);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
end_bookkeeping(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/* Record the end of the job in its own short transaction. */
static void
record_outcome(int64 job_id, const char *outcome, const char *error,
			   int64 changes_at_start)
{
	Oid			argtypes[5] = {INT8OID, TEXTOID, TEXTOID, INT8OID, INT4OID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int			rc;

	begin_bookkeeping(InvalidTransactionId);
	pgstat_report_activity(STATE_RUNNING, "recording the outcome");

	values[0] = Int64GetDatum(job_id);
	values[1] = CStringGetTextDatum(outcome);
	if (error != NULL)
		values[2] = CStringGetTextDatum(error);
	else
		nulls[2] = 'n';
	values[3] = Int64GetDatum(changes_at_start);
	if (changes_at_start < 0)
		nulls[3] = 'n';
	/* the limit the statement really ran with at its end, not the setting */
	values[4] = Int32GetDatum(cost_limit_in_effect());
	rc = nadia_spi_exec("UPDATE nadia_bgw.maintenance_history h"
						"   SET outcome = $2, error = $3,"
						"       ended_at = pg_catalog.clock_timestamp(),"
						"       started_at = COALESCE(started_at, pg_catalog.clock_timestamp()),"
						"       dead_tuples_after = a.dead,"
						"       dead_tuples_removed = GREATEST(h.dead_tuples_before + a.changes - $4 - a.dead, 0),"
						"       cost_limit = $5"
						"  FROM (SELECT CASE WHEN $2 = 'skipped-dropped' THEN NULL"
						"                    ELSE pg_catalog.pg_stat_get_dead_tuples(relid) END AS dead,"
						"               pg_catalog.pg_stat_get_tuples_updated(relid)"
						"             + pg_catalog.pg_stat_get_tuples_deleted(relid) AS changes"
						"          FROM nadia_bgw.maintenance_history WHERE id = $1) a"
						" WHERE h.id = $1",
						5, argtypes, values, nulls, false, 0);
	nadia_spi_check(rc, SPI_OK_UPDATE, "recording the job outcome");
	end_bookkeeping();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Wait for the planning transaction, then read and claim the job.  Returns
 * false when there is nothing to do (the planner rolled back, or the job
 * was settled already).  Fills the statement, or leaves it empty when the
 * table is gone, and the table's updates + deletes so far, from which
 * record_outcome() estimates how many dead tuples the job removed.
 */
static bool
claim_job(const NadiaMaintJobArg *arg, StringInfo sql, int64 *changes_at_start)
{
	Oid			argtypes[5] = {INT8OID, TEXTOID, OIDOID, INT4OID, INT4OID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	char	   *action;
	char	   *relname;
	char	   *nspname;
	bool		isnull;
	int			rc;

	begin_bookkeeping(arg->planner_xid);

	values[0] = Int64GetDatum(arg->job_id);
	rc = nadia_spi_exec("SELECT action FROM nadia_bgw.maintenance_history"
						" WHERE id = $1 AND outcome = 'queued' FOR UPDATE",
						1, argtypes, values, NULL, false, 0);
	nadia_spi_check(rc, SPI_OK_SELECT, "reading the job");
	if (SPI_processed != 1)
	{
		end_bookkeeping();
		return false;
	}
	action = nadia_spi_getstring(0, 1);

	relname = get_rel_name(arg->relid);
	nspname = relname ? get_namespace_name(get_rel_namespace(arg->relid)) : NULL;
	if (relname != NULL && nspname != NULL)
		statement_for(action, quote_qualified_identifier(nspname, relname), sql);

	values[1] = CStringGetTextDatum(sql->data);
	nulls[1] = (sql->len > 0) ? ' ' : 'n';
	values[2] = ObjectIdGetDatum(arg->relid);
	values[3] = Int32GetDatum(MyProcPid);
	values[4] = Int32GetDatum(cost_limit_in_effect());
	rc = nadia_spi_exec("UPDATE nadia_bgw.maintenance_history"
						"   SET outcome = 'running', started_at = pg_catalog.clock_timestamp(),"
						"       pid = $4, statement = $2, cost_limit = $5,"
						"       dead_tuples_before = pg_catalog.pg_stat_get_dead_tuples($3)"
						" WHERE id = $1"
						" RETURNING pg_catalog.pg_stat_get_tuples_updated($3)"
						"         + pg_catalog.pg_stat_get_tuples_deleted($3)",
						5, argtypes, values, nulls, false, 0);
	if (rc != SPI_OK_UPDATE_RETURNING || SPI_processed != 1)
		elog(ERROR, "claiming the job failed: %s", SPI_result_code_string(rc));
	*changes_at_start = nadia_spi_getint8(0, 1, &isnull);
	end_bookkeeping();
	return true;
}

/*
 * The outcome of a statement that raised "edata" (already in the log), and
 * the error text the history shows, into "error".
 */
static const char *
outcome_of_error(const ErrorData *edata, char *error, size_t len)
{
	const char *outcome;

	if (terminate_requested)
	{
		snprintf(error, len,
				 "terminated during the job (server shutdown or pg_terminate_backend)");
		return "cancelled";
	}
	switch (edata->sqlerrcode)
	{
		case ERRCODE_QUERY_CANCELED:
			outcome = "cancelled";
			break;
		case ERRCODE_LOCK_NOT_AVAILABLE:
			outcome = "skipped-locked";
			break;
		case ERRCODE_UNDEFINED_TABLE:
			outcome = "skipped-dropped";
			break;
		default:
			outcome = "failed";
			break;
	}

	/*
	 * maintenance_history is readable by nadia_bgw_reader, and the message
	 * of a failure can quote a data value (an expression index evaluated by
	 * ANALYZE): the SQLSTATE only, the message is in the log.  Cancels,
	 * skips and drops keep their message, which names the relation only.
	 */
	if (strcmp(outcome, "failed") == 0)
		nadia_public_error(edata->sqlerrcode, error, len);
	else
		snprintf(error, len, "%s: %s", unpack_sql_state(edata->sqlerrcode),
				 edata->message ? edata->message : "unknown error");
	return outcome;
}

/*
 * The job worker's main.  The statement runs under PG_TRY at the top
 * level, not through nadia_guarded_call(): VACUUM cannot run inside a
 * subtransaction, so an error aborts the whole transaction here, as
 * PostgreSQL's own top-level error recovery does.
 */
void
nadia_maintenance_job_main(Datum main_arg)
{
	NadiaMaintJobArg arg;
	StringInfoData sql;
	MemoryContext job_context;
	const char *volatile outcome = "done";
	char		error[JOB_ERROR_LEN];
	volatile bool has_error = false;
	int64		changes_at_start = -1;

	memcpy(&arg, MyBgworkerEntry->bgw_extra, sizeof(arg));

	pqsignal(SIGTERM, job_sigterm);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGUSR2, job_speedup);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(arg.dbid, InvalidOid, 0);
	pgstat_report_appname("nadia_bgw maintenance");
	configure_session();

	job_context = AllocSetContextCreate(TopMemoryContext, "nadia_bgw maintenance job",
										ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(job_context);
	initStringInfo(&sql);

	if (!claim_job(&arg, &sql, &changes_at_start))
		proc_exit(0);
	if (sql.len == 0)
	{
		record_outcome(arg.job_id, "skipped-dropped", "the table was dropped before the job started", -1);
		proc_exit(0);
	}

	/* VACUUM allocates its working memory under PortalContext */
	PortalContext = AllocSetContextCreate(TopMemoryContext, "nadia_bgw maintenance portal",
										  ALLOCSET_DEFAULT_SIZES);
	error[0] = '\0';
	lock_skipped = false;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		in_statement = true;
		if (terminate_requested)
		{
			/* SIGTERM came before the statement: stop here, recorded */
			InterruptPending = true;
			QueryCancelPending = true;
		}
		CHECK_FOR_INTERRUPTS();
		debug_hooks();

		MemoryContextSwitchTo(PortalContext);
		pgstat_report_activity(STATE_RUNNING, sql.data);
		run_toplevel(sql.data, arg.relid);
		in_statement = false;
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		in_statement = false;
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(job_context);
		edata = CopyErrorData();
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextReset(PortalContext);

		has_error = true;
		outcome = outcome_of_error(edata, error, sizeof(error));
		FreeErrorData(edata);
		/* a second SIGTERM from here on ends the process at once */
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();

	/* a cancel that arrived as the statement ended has nothing left to stop */
	QueryCancelPending = false;
	MemoryContextSwitchTo(job_context);
	if (!has_error && lock_skipped)
	{
		outcome = skipped_code == ERRCODE_UNDEFINED_TABLE ? "skipped-dropped" : "skipped-locked";
		snprintf(error, sizeof(error), "%s: %s", unpack_sql_state(skipped_code), lock_skipped_msg);
		has_error = true;
	}
	record_outcome(arg.job_id, outcome, has_error ? error : NULL, changes_at_start);
	if (speedups > 0)
		ereport(LOG,
				(errmsg("nadia_bgw: maintenance job " INT64_FORMAT " (%s): %s, cost limit raised %d times to %d, in effect %d",
						arg.job_id, sql.data, outcome, (int) speedups, VacuumCostLimit,
						cost_limit_in_effect())));
	else
		ereport(LOG,
				(errmsg("nadia_bgw: maintenance job " INT64_FORMAT " (%s): %s",
						arg.job_id, sql.data, outcome)));
	proc_exit(0);
}
