/*-------------------------------------------------------------------------
 *
 * nadia_bgw.c
 *		The library's entry point: _PG_init asks each module for its
 *		settings and shared memory, and registers the background worker.
 *
 * The worker is registered only when the library is loaded through
 * shared_preload_libraries; a session that loads it on demand (CREATE
 * EXTENSION without preloading) gets the GUCs and the SQL functions, and
 * the extension script warns that no worker is running.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/guc.h"

#include "scheduler/scheduler.h"
#include "maintenance/maintenance.h"
#include "alerts/alerts.h"
#include "rollup/rollup.h"
#include "history/history.h"
#include "plans/plans.h"
#include "advice/advice.h"
#include "quality/quality.h"

PG_MODULE_MAGIC;

/* GUC variables */
char	   *nadia_bgw_database = NULL;
bool		nadia_bgw_enabled = true;
int			nadia_bgw_interval = 60;
int			nadia_bgw_debug_task_delay = 0;

bool		nadia_bgw_preloaded = false;

void		_PG_init(void);

PG_FUNCTION_INFO_V1(nadia_bgw_worker_preloaded);

/*
 * The database name must be usable as a connection target: non-empty and
 * shorter than NAMEDATALEN (a longer name would be silently truncated by
 * the connection code and point at another database).
 */
static bool
check_database(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errmsg("nadia_bgw.database must not be empty");
		GUC_check_errhint("Set it to the name of the database the worker serves.");
		return false;
	}
	if (strlen(*newval) >= NAMEDATALEN)
	{
		GUC_check_errcode(ERRCODE_NAME_TOO_LONG);
		GUC_check_errmsg("nadia_bgw.database is longer than %d bytes",
						 NAMEDATALEN - 1);
		return false;
	}
	return true;
}

/* the scheduler's own settings */
static void
define_gucs(void)
{
	/*
	 * A postmaster-level setting can only be defined while preloading; a
	 * session that loads the library on demand has no worker to aim.
	 */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("nadia_bgw.database",
								   "Database the nadia_bgw worker connects to.",
								   "The extension must be created in this database.",
								   &nadia_bgw_database,
								   "postgres",
								   PGC_POSTMASTER,
								   0,
								   check_database, NULL, NULL);

	DefineCustomBoolVariable("nadia_bgw.enabled",
							 "Runs the worker's tasks; off pauses them all.",
							 NULL,
							 &nadia_bgw_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("nadia_bgw.interval",
							"Time between two cycles of the worker.",
							NULL,
							&nadia_bgw_interval,
							60,
							1,
							86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

#ifdef NADIA_TEST
	DefineCustomIntVariable("nadia_bgw.debug_task_delay",
							"Testing only: extra time each task spends before it runs.",
							"Used by the test suite to simulate a slow task.",
							&nadia_bgw_debug_task_delay,
							0,
							0,
							600000,
							PGC_SUSET,
							GUC_UNIT_MS | GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);
#endif
}

static void
register_worker(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* start on a hot standby too, so it can report that it is idle there */
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	/* restarted by the postmaster a few seconds after a crash */
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "nadia_bgw");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "nadia_bgw_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "nadia_bgw worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "nadia_bgw worker");
	worker.bgw_main_arg = (Datum) 0;
	worker.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&worker);
}

void
_PG_init(void)
{
	nadia_json_init();

	/*
	 * Each module defines its settings in one block; then the prefix is
	 * reserved, so that a misspelt nadia_bgw.* setting is reported instead
	 * of being kept as a placeholder.
	 */
	define_gucs();
	nadia_test_hooks_define_gucs();
	nadia_history_define_gucs();
	nadia_maintenance_define_gucs();
	nadia_alerts_define_gucs();
	nadia_plans_define_gucs();
	nadia_advice_define_gucs();
	nadia_quality_define_gucs();
	MarkGUCPrefixReserved("nadia_bgw");

	if (!process_shared_preload_libraries_in_progress)
		return;

	nadia_bgw_preloaded = true;
	nadia_shmem_register(&nadia_worker_state_shmem);
	nadia_shmem_register(&nadia_rollup_shmem);
	nadia_shmem_register(&nadia_tracked_shmem);
	nadia_shmem_register(&nadia_plans_shmem);
	nadia_shmem_install();

	/* the plan capture watches every backend's executor (docs/plans.md) */
	nadia_plans_install_hooks();

	/*
	 * pg_upgrade starts both clusters in binary upgrade mode (-b) and
	 * restores the schema by dropping and recreating each database: a
	 * worker connected to its database would make that DROP DATABASE fail,
	 * and nothing should be sampled or written meanwhile.  The worker
	 * starts with the server after the upgrade.
	 */
	if (IsBinaryUpgrade)
	{
		ereport(LOG,
				(errmsg("nadia_bgw: worker not started in binary upgrade mode")));
		return;
	}
	register_worker();
}

/*
 * nadia_bgw.worker_preloaded() -- lets the extension script warn when the
 * library was not preloaded (no worker, no shared state).
 */
Datum
nadia_bgw_worker_preloaded(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(nadia_bgw_preloaded);
}
