/*-------------------------------------------------------------------------
 *
 * plans.h
 *		The plan capture as the rest of the library sees it: its settings,
 *		its part of shared memory and its executor hooks (docs/plans.md).
 *		What its files share among themselves is in plans_internal.h.
 *
 * Other modules read the capture through SQL (nadia_bgw._plan_store()),
 * not through this header.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_PLANS_H
#define NADIA_PLANS_H

#include "core/core.h"

/* plans_guc.c */
extern void nadia_plans_define_gucs(void);

/* plan_store.c */
extern const NadiaShmemPart nadia_plans_shmem;

/* plan_hooks.c: only while preloading */
extern void nadia_plans_install_hooks(void);

#endif							/* NADIA_PLANS_H */
