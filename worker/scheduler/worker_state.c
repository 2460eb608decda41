/*-------------------------------------------------------------------------
 *
 * worker_state.c
 *		The worker's state in shared memory (cycles, wake tickets, task
 *		outcomes), and the helpers the worker publishes it with.
 *
 * The state lives in shared memory rather than in a table so that it can
 * be read on a standby, survives an aborted task transaction, and costs no
 * write per cycle.  It is reset when the server restarts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgtime.h"
#include "storage/ipc.h"
#include "storage/shmem.h"

#include "scheduler/scheduler.h"

NadiaBgwShared *nadia_shared = NULL;

static Size
worker_state_size(void)
{
	return sizeof(NadiaBgwShared);
}

static void
worker_state_startup(void)
{
	bool		found;

	StaticAssertStmt(NADIA_BGW_MAX_TASKS >= 1, "need room for tasks");
	nadia_shared = ShmemInitStruct(NADIA_BGW_NAME, sizeof(NadiaBgwShared),
								   &found);
	if (!found)
	{
		int			i;

		memset(nadia_shared, 0, sizeof(NadiaBgwShared));
		nadia_shared->lock = &(GetNamedLWLockTranche(NADIA_BGW_NAME))->lock;
		ConditionVariableInit(&nadia_shared->cycle_done);
		strlcpy(nadia_shared->state, "not started", NADIA_BGW_STATE_LEN);
		/* optimistic: the first start connects directly */
		nadia_shared->database_seen = true;
		nadia_shared->ntasks = Min(nadia_ntasks, NADIA_BGW_MAX_TASKS);
		for (i = 0; i < nadia_shared->ntasks; i++)
			strlcpy(nadia_shared->tasks[i].name, nadia_tasks[i].name,
					NAMEDATALEN);
	}
}

/* registered from _PG_init (core/shmem.c) */
const NadiaShmemPart nadia_worker_state_shmem = {
	NADIA_BGW_NAME, worker_state_size, 1, worker_state_startup
};

/* Publish the worker's current state, shown by nadia_bgw.status. */
void
nadia_set_state(const char *state)
{
	LWLockAcquire(nadia_shared->lock, LW_EXCLUSIVE);
	strlcpy(nadia_shared->state, state, NADIA_BGW_STATE_LEN);
	LWLockRelease(nadia_shared->lock);
}

/*
 * Publish the worker's TimeZone.  A background worker takes its settings
 * from the configuration only, so this is the server's zone, the one the
 * worker judges the maintenance window in; a backend cannot tell it apart
 * from its client's own setting (PGTZ, SET TimeZone), hence shared memory.
 */
void
nadia_publish_timezone(void)
{
	const char *tz = pg_get_timezone_name(session_timezone);

	LWLockAcquire(nadia_shared->lock, LW_EXCLUSIVE);
	strlcpy(nadia_shared->server_timezone, tz ? tz : "", NADIA_BGW_TZ_LEN);
	LWLockRelease(nadia_shared->lock);
}
