/*-------------------------------------------------------------------------
 *
 * shmem.c
 *		The one place where nadia_bgw asks for shared memory: each module
 *		registers its part from _PG_init, and one pair of hooks reserves
 *		and attaches them all.
 *
 * PostgreSQL 15 introduced shmem_request_hook, the only place where a
 * preloaded library may call RequestAddinShmemSpace() and
 * RequestNamedLWLockTranche(); attaching happens in shmem_startup_hook,
 * in the postmaster and (EXEC_BACKEND) in each process.  One hook pair
 * for the whole library keeps the order of the parts fixed and the
 * previous hooks chained once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "core/core.h"

#define MAX_SHMEM_PARTS 8

static const NadiaShmemPart *parts[MAX_SHMEM_PARTS];
static int	n_parts = 0;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Called from _PG_init, while preloading, before nadia_shmem_install(). */
void
nadia_shmem_register(const NadiaShmemPart *part)
{
	if (!process_shared_preload_libraries_in_progress)
		elog(ERROR, "nadia_bgw: shared memory can only be registered while preloading");
	if (n_parts >= MAX_SHMEM_PARTS)
		elog(ERROR, "nadia_bgw: too many shared memory parts");
	parts[n_parts++] = part;
}

static void
shmem_request(void)
{
	int			i;

	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	for (i = 0; i < n_parts; i++)
	{
		if (parts[i]->size)
			RequestAddinShmemSpace(MAXALIGN(parts[i]->size()));
		if (parts[i]->lwlocks > 0)
			RequestNamedLWLockTranche(parts[i]->name, parts[i]->lwlocks);
	}
}

static void
shmem_startup(void)
{
	int			i;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	for (i = 0; i < n_parts; i++)
		parts[i]->startup();
	LWLockRelease(AddinShmemInitLock);
}

/* Install the hook pair; called once from _PG_init after the registrations. */
void
nadia_shmem_install(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shmem_startup;
}
