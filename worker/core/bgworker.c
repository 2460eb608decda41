/*-------------------------------------------------------------------------
 *
 * bgworker.c
 *		What the dynamic background workers nadia_bgw starts have in
 *		common: a maintenance job worker, the quality count worker.
 *
 * Each is started by the worker's maintenance task, in the task's
 * database, after recovery, never restarted by the postmaster (the next
 * cycle decides again), and reports its end to the task (bgw_notify_pid)
 * so that the task's handle sees it stop.  Its argument travels in
 * bgw_extra; the caller checks at compile time that it fits.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/bgworker.h"

#include "core/core.h"

void
nadia_dynamic_worker_init(BackgroundWorker *worker, const char *function,
						  const char *type, const void *extra, Size extralen)
{
	Assert(extralen <= BGW_EXTRALEN);
	memset(worker, 0, sizeof(*worker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker->bgw_library_name, NADIA_BGW_NAME, BGW_MAXLEN);
	strlcpy(worker->bgw_function_name, function, BGW_MAXLEN);
	/* the caller may name this one worker more precisely */
	strlcpy(worker->bgw_name, type, BGW_MAXLEN);
	strlcpy(worker->bgw_type, type, BGW_MAXLEN);
	worker->bgw_notify_pid = MyProcPid;
	memcpy(worker->bgw_extra, extra, extralen);
}
