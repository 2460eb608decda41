/*-------------------------------------------------------------------------
 *
 * maintenance.h
 *		Declarations of the maintenance module: the planning task, the
 *		job worker that runs one VACUUM / ANALYZE, and their settings.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_MAINTENANCE_H
#define NADIA_MAINTENANCE_H


#include "fmgr.h"

/* bgw_type of the job workers, as pg_stat_activity.backend_type shows it */
#define NADIA_MAINT_JOB_TYPE	"nadia_bgw maintenance"

/* GUC variables (maintenance_guc.c) */
extern bool nadia_maint_enabled;
extern char *nadia_maint_window;
extern char *nadia_maint_timezone;
extern bool nadia_maint_emergency_anytime;
extern int	nadia_maint_max_jobs_per_cycle;
extern int	nadia_maint_max_concurrent;
extern double nadia_maint_vacuum_ratio;
extern int	nadia_maint_vacuum_min;
extern double nadia_maint_analyze_ratio;
extern int	nadia_maint_analyze_min;
extern int	nadia_maint_freeze_age;
extern int	nadia_maint_cooldown;
extern double nadia_maint_cost_delay;
extern int	nadia_maint_cost_limit;
extern int	nadia_maint_cost_limit_max;
extern int	nadia_maint_parallel_workers;
extern int	nadia_maint_analyze_interval;
extern double nadia_maint_duty_cycle;
extern int	nadia_maint_lock_timeout;
extern int	nadia_maint_history_days;
extern int	nadia_maint_debug_job_delay;

/*
 * What the planning task hands to a job worker through bgw_extra: the job
 * (a row of nadia_bgw.maintenance_history) and the planning transaction,
 * which the job waits for so that it sees that row committed.
 */
typedef struct NadiaMaintJobArg
{
	int64		job_id;
	Oid			dbid;
	Oid			relid;
	TransactionId planner_xid;
} NadiaMaintJobArg;

/* maintenance_guc.c: called from _PG_init, before the prefix is reserved */
extern void nadia_maintenance_define_gucs(void);

/* maintenance.c: the task of the worker's cycle */
extern void nadia_maintenance_task(void);

/* maintenance_job.c: entry point of a job worker */
extern PGDLLEXPORT void nadia_maintenance_job_main(Datum main_arg);

#endif							/* NADIA_MAINTENANCE_H */
