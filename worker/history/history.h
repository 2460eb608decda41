/*-------------------------------------------------------------------------
 *
 * history.h
 *		The history module as the other modules see it: the "sample" task,
 *		take_sample(), the module's settings and its part of shared memory.
 *		What its files share among themselves is in history_internal.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_HISTORY_H
#define NADIA_HISTORY_H

#include "core/core.h"

/* sampler.c */
extern int64 nadia_take_sample(bool from_worker);
extern void nadia_sample_task(void);
extern void nadia_history_define_gucs(void);

/*
 * The old name, still called by _PG_init (scheduler/nadia_bgw.c) until
 * that call is renamed.
 */
#define nadia_sampler_init() nadia_history_define_gucs()

/*
 * The block below is sampler_tracked.c's, being split apart in parallel:
 * it needs the internal types, and moves to history_internal.h (all but
 * nadia_tracked_shmem) with that split, which removes this include.
 */
#include "history/history_internal.h"

/* tracked_*.c: the tracked sources' engine (internals: tracked.h) */
extern int	nadia_bgw_max_tracked_objects;
extern const NadiaShmemPart nadia_tracked_shmem;
extern bool nadia_tracked_has_baseline(const HistSource *src);
extern int64 nadia_sample_tracked_source(const HistSource *src, TimestampTz ts, int64 sample_id,
										 bool initialized, const char *pgss_schema, int64 *seen);

#endif							/* NADIA_HISTORY_H */
