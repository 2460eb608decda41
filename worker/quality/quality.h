/*-------------------------------------------------------------------------
 *
 * quality.h
 *		The quality module: data quality, business-metric anomalies and
 *		capacity forecasts (docs/quality.md, docs/capacity.md).
 *
 *		quality.c		the tasks "distribution", "anomalies",
 *						"capacity": each a SQL function of the
 *						extension, a task of its own
 *		quality_checks.c	the task "quality_checks": the catalog facts,
 *						read for the relations that changed
 *		quality_guc.c	its settings
 *		quality_count.c	the counted facts: the count worker (violating
 *						and orphaned rows), started by the maintenance
 *						task
 *
 * It uses core and reads history through SQL; alerts and scheduler may
 * use it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_QUALITY_H
#define NADIA_QUALITY_H

#include "fmgr.h"

/* quality_guc.c: called from _PG_init, before the prefix is reserved */
extern void nadia_quality_define_gucs(void);

/* quality_checks.c, quality.c: the tasks of the worker's cycle */
extern void nadia_quality_checks_task(void);
extern void nadia_distribution_task(void);
extern void nadia_anomalies_task(void);
extern void nadia_capacity_task(void);

/* GUC variables of the counted facts (quality_guc.c) */
extern bool nadia_quality_count_enabled;
extern int	nadia_quality_count_exact_max_size;	/* blocks */
extern double nadia_quality_count_sample_percent;
extern int	nadia_quality_count_timeout;	/* ms */
extern double nadia_quality_count_duty_cycle;	/* share of the wall time */
extern int	nadia_quality_count_interval;	/* s */
extern int	nadia_quality_count_max_per_cycle;

/* bgw_type of the count worker, as pg_stat_activity.backend_type shows it */
#define NADIA_QUALITY_COUNT_TYPE	"nadia_bgw quality count"

/*
 * quality_count.c: called by the maintenance task with the job slots left
 * (nadia_bgw.maintenance_max_concurrent less the jobs running) and the
 * lock_timeout of its jobs; starts the count worker when counts are due,
 * the window is open and a slot is free.  nadia_quality_count_running()
 * says whether a count worker runs (it takes one slot); the task calls
 * the launcher only when none does.
 */
extern bool nadia_quality_count_running(void);
extern void nadia_quality_count_launch(int free_slots, int lock_timeout_ms);
extern PGDLLEXPORT void nadia_quality_count_main(Datum main_arg);

#endif							/* NADIA_QUALITY_H */
