/*-------------------------------------------------------------------------
 *
 * quality.h
 *		The quality module: data quality, business-metric anomalies and
 *		capacity forecasts (docs/quality.md, docs/capacity.md).
 *
 *		quality.c		the tasks "quality_checks", "distribution",
 *						"anomalies", "capacity": each a SQL function of
 *						the extension, a task of its own
 *		quality_guc.c	its settings
 *
 * It uses core and reads history through SQL; alerts and scheduler may
 * use it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_QUALITY_H
#define NADIA_QUALITY_H

/* quality_guc.c: called from _PG_init, before the prefix is reserved */
extern void nadia_quality_define_gucs(void);

/* quality.c: the tasks of the worker's cycle, one per step */
extern void nadia_quality_checks_task(void);
extern void nadia_distribution_task(void);
extern void nadia_anomalies_task(void);
extern void nadia_capacity_task(void);

#endif							/* NADIA_QUALITY_H */
