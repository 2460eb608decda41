/*-------------------------------------------------------------------------
 *
 * advice.h
 *		The advice module: index advice with evidence, computed from the
 *		captured plans and verified by what-if planning (hypopg) as each
 *		statement's own role.
 *
 *		advice_guc.c	its settings
 *		advice.c		the "advice" task: candidates, their checks, storage
 *		advice_whatif.c	one statement planned with and without a candidate
 *
 * It uses core and reads history through SQL; alerts and scheduler may
 * use it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_ADVICE_H
#define NADIA_ADVICE_H

/* advice_guc.c: called from _PG_init, before the prefix is reserved */
extern void nadia_advice_define_gucs(void);

/* advice.c: the task of the worker's cycle */
extern void nadia_advice_task(void);

#endif							/* NADIA_ADVICE_H */
