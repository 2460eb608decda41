/*-------------------------------------------------------------------------
 *
 * status.c
 *		SQL functions that look at or poke the running worker:
 *		nadia_bgw.worker_status() (behind the nadia_bgw.status view) and
 *		nadia_bgw.wake().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "scheduler/scheduler.h"

PG_FUNCTION_INFO_V1(nadia_bgw_worker_status);
PG_FUNCTION_INFO_V1(nadia_bgw_wake);
PG_FUNCTION_INFO_V1(nadia_bgw_server_timezone);

#define STATUS_COLS 16

static void
require_shared_state(void)
{
	if (nadia_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("nadia_bgw is not loaded through shared_preload_libraries"),
				 errhint("Add nadia_bgw to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/*
 * One row per task, each carrying the worker-wide columns too, so that the
 * view answers "is it running and is each task healthy" in one SELECT.
 */
Datum
nadia_bgw_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	NadiaBgwShared snap;
	int			i;

	require_shared_state();
	InitMaterializedSRF(fcinfo, 0);

	/* copy under the lock, build tuples without it */
	LWLockAcquire(nadia_shared->lock, LW_SHARED);
	memcpy(&snap, nadia_shared, sizeof(snap));
	LWLockRelease(nadia_shared->lock);

	for (i = 0; i < snap.ntasks; i++)
	{
		NadiaTaskStatus *t = &snap.tasks[i];
		Datum		values[STATUS_COLS];
		bool		nulls[STATUS_COLS];
		int			c = 0;

		memset(nulls, 0, sizeof(nulls));
		values[c++] = CStringGetTextDatum(t->name);
		values[c] = CStringGetTextDatum(t->outcome);
		nulls[c++] = (t->outcome[0] == '\0');
		values[c] = nadia_timestamp_datum(t->last_start, &nulls[c]);
		c++;
		values[c] = nadia_timestamp_datum(t->last_end, &nulls[c]);
		c++;
		values[c] = Float8GetDatum(t->last_duration_ms);
		nulls[c++] = (t->last_end == 0);
		values[c] = nadia_timestamp_datum(t->last_success, &nulls[c]);
		c++;
		values[c++] = Int64GetDatum(t->runs);
		values[c++] = Int64GetDatum(t->failures);
		values[c] = CStringGetTextDatum(t->last_error);
		nulls[c++] = (t->last_error[0] == '\0');
		values[c] = Int32GetDatum(snap.worker_pid);
		nulls[c++] = (snap.worker_pid == 0);
		values[c++] = CStringGetTextDatum(snap.state);
		values[c] = nadia_timestamp_datum(snap.worker_started_at, &nulls[c]);
		c++;
		values[c++] = Int64GetDatum(snap.cycles);
		values[c] = nadia_timestamp_datum(snap.last_cycle_start, &nulls[c]);
		c++;
		values[c] = nadia_timestamp_datum(snap.last_cycle_end, &nulls[c]);
		c++;
		values[c] = nadia_timestamp_datum(snap.next_cycle_at, &nulls[c]);
		c++;
		Assert(c == STATUS_COLS);

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * nadia_bgw.wake(wait boolean, timeout_ms integer) returns boolean
 *
 * Asks the worker to run a cycle now.  With wait, returns once a cycle
 * that started after this request has finished (true), or false when the
 * worker is not running or the timeout passes first.
 */
Datum
nadia_bgw_wake(PG_FUNCTION_ARGS)
{
	bool		wait = PG_GETARG_BOOL(0);
	int32		timeout_ms = PG_GETARG_INT32(1);
	uint64		ticket;
	Latch	   *latch;
	TimestampTz deadline;
	bool		done = false;

	require_shared_state();
	if (timeout_ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout_ms must not be negative")));

	LWLockAcquire(nadia_shared->lock, LW_EXCLUSIVE);
	latch = nadia_shared->worker_latch;
	ticket = ++nadia_shared->wake_requested;
	LWLockRelease(nadia_shared->lock);

	if (latch == NULL)
	{
		ereport(NOTICE,
				(errmsg("the nadia_bgw worker is not running"),
				 errhint("Check the server log and nadia_bgw.status.")));
		PG_RETURN_BOOL(false);
	}
	SetLatch(latch);

	if (!wait)
		PG_RETURN_BOOL(true);

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	ConditionVariablePrepareToSleep(&nadia_shared->cycle_done);
	for (;;)
	{
		uint64		served;
		pid_t		pid;
		long		remaining;

		LWLockAcquire(nadia_shared->lock, LW_SHARED);
		served = nadia_shared->wake_served;
		pid = nadia_shared->worker_pid;
		LWLockRelease(nadia_shared->lock);

		if (served >= ticket)
		{
			done = true;
			break;
		}
		if (pid == 0)
			break;
		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
													deadline);
		if (remaining <= 0)
			break;
		/* short sleeps: a worker that dies never broadcasts */
		ConditionVariableTimedSleep(&nadia_shared->cycle_done,
									Min(remaining, 100),
									nadia_wait_event(NADIA_WAIT_CYCLE));
	}
	ConditionVariableCancelSleep();
	PG_RETURN_BOOL(done);
}

/*
 * nadia_bgw.server_timezone(): the server's TimeZone as the worker last
 * published it, or NULL when no worker has run since the server started.
 * SQL that must agree with the worker (the maintenance window) uses it
 * instead of the session's TimeZone.
 */
Datum
nadia_bgw_server_timezone(PG_FUNCTION_ARGS)
{
	char		tz[NADIA_BGW_TZ_LEN];

	if (nadia_shared == NULL)
		PG_RETURN_NULL();		/* not preloaded: no worker to agree with */
	LWLockAcquire(nadia_shared->lock, LW_SHARED);
	strlcpy(tz, nadia_shared->server_timezone, sizeof(tz));
	LWLockRelease(nadia_shared->lock);
	if (tz[0] == '\0')
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(tz));
}
