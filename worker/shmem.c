/*-------------------------------------------------------------------------
 *
 * shmem.c
 *		Shared memory of nadia_bgw: allocation, initialisation and the small
 *		helpers the worker uses to publish its state.
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

#include "nadia_bgw.h"

NadiaBgwShared *nadia_shared = NULL;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
nadia_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(MAXALIGN(sizeof(NadiaBgwShared)));
	RequestNamedLWLockTranche(NADIA_BGW_NAME, 1);
}

static void
nadia_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
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
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Called from _PG_init when preloading: install the hooks that reserve and
 * initialise our shared memory.
 */
void
nadia_shmem_init(void)
{
	StaticAssertStmt(NADIA_BGW_MAX_TASKS >= 1, "need room for tasks");

#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = nadia_shmem_request;
#else
	nadia_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = nadia_shmem_startup;
}

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
