/*-------------------------------------------------------------------------
 *
 * rollup.h
 *		The rollup module as the rest of the worker sees it: the rollup
 *		task of the cycle and the module's part of shared memory.
 *
 *		rollup.c			the worker's "rollup" task
 *		rollup_capture.c	the change-capture trigger of a rollup's source
 *		rollup_shmem.c		shared slots: thresholds and hot-writer epochs
 *		rollup_owner.c		running a rollup's statements as its owner
 *		rollup_definition.c	a definition parsed once, deparsed from its tree
 *
 * What the files of the module share with each other only is in
 * rollup_internal.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_ROLLUP_H
#define NADIA_ROLLUP_H

#include "nodes/pg_list.h"

#include "core/core.h"

/* rollup_shmem.c: registered from _PG_init */
extern const NadiaShmemPart nadia_rollup_shmem;

/* rollup.c: the task of the worker's cycle */
extern void nadia_rollup_task(void);

#endif							/* NADIA_ROLLUP_H */
