/*-------------------------------------------------------------------------
 *
 * plan_hooks.c
 *		The executor hooks of the plan capture: which executions are
 *		captured, which are sampled, and what is recorded when one ends.
 *
 * Only top-level statements are captured -- those the client sent,
 * including EXECUTE of a prepared statement -- like pg_stat_statements
 * with track = top: the executor and utility hooks count the nesting
 * level, and statements run by functions, procedures, DO blocks or
 * EXPLAIN are nested.  Also left out: statements without a queryId
 * (compute_query_id off), parallel workers (their leader is counted),
 * the background workers of nadia_bgw, EXPLAIN without ANALYZE, and
 * sessions or transactions with nadia_bgw.plan_capture off.
 *
 * At ExecutorStart the plan id is looked up (computed once per plan tree,
 * plan_memo.c) and the execution is chosen for sampling or not; a sampled
 * one runs with row instrumentation only (INSTRUMENT_ROWS: rows and loops
 * per node, no per-node clock).  At ExecutorEnd the execution is counted
 * in the shared store, and, the first time a plan is seen or when it was
 * sampled, the plan is described (plan_describe.c) -- see describe() for
 * why that cannot fail the application's statement.  A sampled execution
 * is described only when the plan's stored sample is missing or older
 * than plan_sample_refresh: history keeps the latest one only, so
 * describing every sampled execution of a busy plan (hundreds a second)
 * would be work thrown away.  It is still counted in sampled_calls, which
 * counts the executions run with row instrumentation.
 *
 * Which QueryDesc is captured is remembered in a small fixed array (no
 * allocation): a statement that fails never reaches ExecutorEnd, so its
 * slot is freed when its (sub)transaction aborts.  The array is searched
 * only up to its highest slot in use (usually one slot: one top-level
 * portal at a time), and the transaction callbacks do nothing when no
 * slot is in use -- they run for every transaction of the backend.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "executor/instrument.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "tcop/utility.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "plans/plans_internal.h"
#include "plans/plan_describe.h"

/* top-level portals open at once in one backend: more are not captured */
#define MAX_CAPTURED 32

typedef struct CaptureSlot
{
	QueryDesc  *qd;				/* NULL: free */
	NadiaPlanKey key;
	SubTransactionId subid;
} CaptureSlot;

static CaptureSlot slots[MAX_CAPTURED];
static int	slots_used = 0;			/* slots[slots_used..] are all free */
static int	nesting_level = 0;

static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/*
 * A background worker of nadia_bgw: its statements are not the users'.
 * Known for the backend's whole life once its entry is set, so worked out
 * once rather than with a strcmp per execution.
 */
static bool
own_worker(void)
{
	static int	own = -1;		/* -1: not worked out yet */

	if (own < 0)
		own = MyBgworkerEntry != NULL &&
			strcmp(MyBgworkerEntry->bgw_library_name, NADIA_BGW_NAME) == 0;
	return own == 1;
}

/*
 * The store, once attached, stays attached for the backend's life (a
 * crash restart ends every backend): asked until it is, then remembered.
 */
static bool
store_ready(void)
{
	static bool ready = false;

	if (!ready)
		ready = nadia_plan_store_ready();
	return ready;
}

/* the cheapest and most often decisive checks first */
static bool
capture_wanted(QueryDesc *qd, int eflags)
{
	return nesting_level == 0 &&
		nadia_plan_capture &&
		qd->plannedstmt->queryId != 0 &&
		(eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0 &&
		!IsParallelWorker() &&
		!own_worker() &&
		store_ready();
}

/* sampled: at the sample rate, and always once the plan is known slow */
static bool
sample_wanted(const NadiaPlanKey *key)
{
	if (nadia_plan_sample_rate > 0 &&
		(nadia_plan_sample_rate >= 1.0 ||
		 pg_prng_double(&pg_global_prng_state) < nadia_plan_sample_rate))
		return true;
	return nadia_plan_is_slow(key);
}

static CaptureSlot *
free_slot(void)
{
	int			i;

	for (i = 0; i < slots_used; i++)
		if (slots[i].qd == NULL)
			return &slots[i];
	if (slots_used < MAX_CAPTURED)
		return &slots[slots_used++];
	return NULL;
}

static CaptureSlot *
slot_of(QueryDesc *qd)
{
	int			i;

	for (i = 0; i < slots_used; i++)
		if (slots[i].qd == qd)
			return &slots[i];
	return NULL;
}

/* slots_used back down past the free slots at its end */
static void
trim_slots(void)
{
	while (slots_used > 0 && slots[slots_used - 1].qd == NULL)
		slots_used--;
}

static void
release_slot(CaptureSlot *slot)
{
	slot->qd = NULL;
	trim_slots();
}

/* a capture begins: the plan's id, and whether to sample this execution */
static bool
begin_capture(QueryDesc *qd)
{
	CaptureSlot *slot = free_slot();
	int64		planid;

	if (slot == NULL)
		return false;
	if (!nadia_plan_id_of(qd->plannedstmt, &planid))
	{
		release_slot(slot);
		return false;
	}
	memset(&slot->key, 0, sizeof(slot->key));
	slot->key.dbid = MyDatabaseId;
	slot->key.userid = GetUserId();
	slot->key.queryid = (int64) qd->plannedstmt->queryId;
	slot->key.planid = planid;
	slot->subid = GetCurrentSubTransactionId();
	slot->qd = qd;
	if (sample_wanted(&slot->key))
		qd->instrument_options |= INSTRUMENT_ROWS;
	return true;
}

static void
plans_ExecutorStart(QueryDesc *qd, int eflags)
{
	bool		captured = false;

	if (capture_wanted(qd, eflags))
		captured = begin_capture(qd);

	if (prev_ExecutorStart)
		prev_ExecutorStart(qd, eflags);
	else
		standard_ExecutorStart(qd, eflags);

	/*
	 * The statement's time and blocks, measured by the executor itself
	 * when queryDesc->totaltime is set (pg_stat_statements and auto_explain
	 * share it the same way; it is usually set already).  Allocated in
	 * the query's own memory like the executor's own state.
	 */
	if (captured && qd->totaltime == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(qd->estate->es_query_cxt);

		qd->totaltime = InstrAlloc(1, INSTRUMENT_TIMER | INSTRUMENT_BUFFERS, false);
		MemoryContextSwitchTo(oldcxt);
	}
}

#if PG_VERSION_NUM >= 180000
static void
plans_ExecutorRun(QueryDesc *qd, ScanDirection direction, uint64 count)
#else
static void
plans_ExecutorRun(QueryDesc *qd, ScanDirection direction, uint64 count,
				  bool execute_once)
#endif
{
	nesting_level++;
	PG_TRY();
	{
#if PG_VERSION_NUM >= 180000
		if (prev_ExecutorRun)
			prev_ExecutorRun(qd, direction, count);
		else
			standard_ExecutorRun(qd, direction, count);
#else
		if (prev_ExecutorRun)
			prev_ExecutorRun(qd, direction, count, execute_once);
		else
			standard_ExecutorRun(qd, direction, count, execute_once);
#endif
	}
	PG_FINALLY();
	{
		nesting_level--;
	}
	PG_END_TRY();
}

static void
plans_ExecutorFinish(QueryDesc *qd)
{
	nesting_level++;
	PG_TRY();
	{
		if (prev_ExecutorFinish)
			prev_ExecutorFinish(qd);
		else
			standard_ExecutorFinish(qd);
	}
	PG_FINALLY();
	{
		nesting_level--;
	}
	PG_END_TRY();
}

/* what describe_plan() produces, in the caller's private memory */
typedef struct DescribeArg
{
	QueryDesc  *qd;
	bool		texts;
	bool		sample;
	NadiaPlanTexts out;
	char	   *sampled_nodes;
} DescribeArg;

static void
describe_plan(void *arg)
{
	DescribeArg *d = (DescribeArg *) arg;

	if (d->texts)
	{
		d->out.plan_text = nadia_plan_masked_text(d->qd);
		d->out.summary = nadia_plan_summary(d->qd->plannedstmt);
		d->out.plan_nodes = nadia_plan_nodes_json(d->qd->plannedstmt);
	}
	if (d->sample)
		d->sampled_nodes = nadia_plan_sampled_json(d->qd);
	/* the test build fails here, after the catalogs were read */
	nadia_debug_fail_point(nadia_bgw_debug_fail_task, "nadia_bgw.debug_fail_task",
						   "task", "plan description");
}

/*
 * Describe the plan of a captured execution: its texts the first time
 * (texts) and its sampled nodes (sample).
 *
 * Describing reads the plan tree and the catalogs (names of relations,
 * indexes, operators).  Reading catalogs pins buffers, takes LWLocks and
 * relcache references that only a (sub)transaction abort releases, so an
 * error there cannot safely be caught and ignored in the application's
 * transaction as it is: it runs in its own subtransaction
 * (nadia_guarded_call), which the error rolls back, releasing exactly
 * what it took, while the application's statement -- already executed --
 * goes on.  The failure is logged at LOG with its SQLSTATE only (its
 * message could quote what the plan was describing), and the
 * plan is not described again.  Such a subtransaction assigns no
 * transaction id (it writes nothing) and happens once per new plan and
 * per sampled execution whose description is due.  Without a transaction
 * to start it in, or in parallel mode, the texts are left for a later
 * execution.
 *
 * Everything is produced in a private memory context, copied into the
 * store, and freed.
 */
static void
describe(QueryDesc *qd, NadiaPlanEntry *entry, bool texts, bool sample)
{
	DescribeArg d;
	MemoryContext cxt;
	MemoryContext oldcxt;
	NadiaGuardError err;
	bool		ok;

	if (!IsTransactionState() || IsInParallelMode())
	{
		if (texts)
			nadia_plan_store_text_failed(entry, true);
		return;
	}
	memset(&d, 0, sizeof(d));
	d.qd = qd;
	d.texts = texts;
	d.sample = sample;
	cxt = AllocSetContextCreate(CurrentMemoryContext, "nadia_bgw plan description",
								ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	ok = nadia_guarded_call("plan description", NULL, describe_plan, &d,
							NADIA_GUARD_QUIET, &err);
	MemoryContextSwitchTo(oldcxt);
	if (ok)
	{
		if (texts)
			nadia_plan_store_texts(entry, &d.out);
		if (sample && d.sampled_nodes != NULL)
			nadia_plan_store_sample(entry, d.sampled_nodes);
	}
	else
	{
		if (texts)
			nadia_plan_store_text_failed(entry, false);
		ereport(LOG,
				(errcode(err.sqlerrcode),
				 errmsg("nadia_bgw: could not describe plan " INT64_FORMAT " of query " INT64_FORMAT " (SQLSTATE %s)",
						entry->key.planid, entry->key.queryid,
						unpack_sql_state(err.sqlerrcode)),
				 errhint("The plan's counters are kept; its text is missing from the plan store.")));
	}
	MemoryContextDelete(cxt);
}

/* a captured execution ends: count it, describe its plan when needed */
static void
end_capture(QueryDesc *qd, const NadiaPlanKey *key)
{
	NadiaPlanExec exec;
	NadiaPlanEntry *entry;
	bool		texts;
	bool		sample;
	double		mean_ms;

	if (qd->totaltime == NULL)
		return;
	InstrEndLoop(qd->totaltime);
	memset(&exec, 0, sizeof(exec));
	exec.time_ms = qd->totaltime->total * 1000.0;
	exec.rows = (int64) qd->estate->es_processed;
	exec.shared_blks_hit = qd->totaltime->bufusage.shared_blks_hit;
	exec.shared_blks_read = qd->totaltime->bufusage.shared_blks_read;
	/* instrumented by us, or by someone else (auto_explain): a sample */
	exec.sampled = (qd->instrument_options & INSTRUMENT_ROWS) != 0 &&
		qd->planstate != NULL && qd->planstate->instrument != NULL;
	/*
	 * When the statement started (pg_stat_activity's query_start): set by
	 * PostgreSQL for each statement already, where a clock read per
	 * execution is a measurable part of the capture's cost on the
	 * cheapest statements.
	 */
	exec.now = GetCurrentStatementStartTimestamp();

	entry = nadia_plan_store_count(key, &exec, &texts, &mean_ms);
	if (entry == NULL)
		return;
	nadia_plan_note_duration(key, mean_ms);
	/* one description per plan_sample_refresh: only the latest is kept */
	sample = exec.sampled && nadia_plan_store_sample_due(entry, exec.now);
	if (texts || sample)
		describe(qd, entry, texts, sample);
}

static void
plans_ExecutorEnd(QueryDesc *qd)
{
	CaptureSlot *slot = slot_of(qd);

	if (slot != NULL)
	{
		NadiaPlanKey key = slot->key;

		release_slot(slot);
		end_capture(qd, &key);
	}
	if (prev_ExecutorEnd)
		prev_ExecutorEnd(qd);
	else
		standard_ExecutorEnd(qd);
}

/*
 * Utility statements nest the statements they run (EXPLAIN ANALYZE, CALL,
 * DO, CREATE TABLE AS ...), except EXECUTE: the prepared statement it runs
 * is the client's top-level statement, as in pg_stat_statements.
 */
static void
plans_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					 bool readOnlyTree, ProcessUtilityContext context,
					 ParamListInfo params, QueryEnvironment *queryEnv,
					 DestReceiver *dest, QueryCompletion *qc)
{
	bool		nest = !IsA(pstmt->utilityStmt, ExecuteStmt);

	if (nest)
		nesting_level++;
	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		if (nest)
			nesting_level--;
	}
	PG_END_TRY();
}

/* statements that failed never reached ExecutorEnd: free their slots */
static void
plans_xact_callback(XactEvent event, void *arg)
{
	/* (nesting_level is restored by the hooks themselves, even on error) */
	if (slots_used == 0)
		return;
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PREPARE)
	{
		memset(slots, 0, sizeof(CaptureSlot) * slots_used);
		slots_used = 0;
	}
}

static void
plans_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	int			i;

	/* a committed subtransaction's portals now belong to its parent */
	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;
	for (i = 0; i < slots_used; i++)
	{
		if (slots[i].qd == NULL || slots[i].subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_ABORT_SUB)
			slots[i].qd = NULL;
		else
			slots[i].subid = parentSubid;
	}
	trim_slots();
}

void
nadia_plans_install_hooks(void)
{
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = plans_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = plans_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = plans_ExecutorFinish;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = plans_ExecutorEnd;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = plans_ProcessUtility;
	RegisterXactCallback(plans_xact_callback, NULL);
	RegisterSubXactCallback(plans_subxact_callback, NULL);
}
