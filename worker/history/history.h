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

/* tracked_hash.c: the tracked sources' last-seen values */
extern const NadiaShmemPart nadia_tracked_shmem;

#endif							/* NADIA_HISTORY_H */
