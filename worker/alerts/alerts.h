/*-------------------------------------------------------------------------
 *
 * alerts.h
 *		The alerts module: regression detection, the alert life cycle and
 *		its NOTIFY announcements.  What the rest of the worker (the
 *		scheduler) uses of it; the files of the module share
 *		alerts_internal.h.
 *
 * The .c file that includes this must include postgres.h first.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_ALERTS_H
#define NADIA_ALERTS_H

/* alerts_guc.c: every setting of the module, from _PG_init */
extern void nadia_alerts_define_gucs(void);

/* detect.c: the "regressions" task, one detection run per cycle */
extern void nadia_regressions_task(void);

#endif							/* NADIA_ALERTS_H */
