/*-------------------------------------------------------------------------
 *
 * advice_guc.c
 *		The settings of the advice module (docs/gucs.md, "Index advice").
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "advice/advice.h"
#include "advice/advice_internal.h"

int			nadia_advice_interval = 3600;
int			nadia_advice_min_rows = 10000;
double		nadia_advice_min_gain = 0.2;
int			nadia_advice_window = 7 * 1440;
int			nadia_advice_plan_timeout = 5000;

void
nadia_advice_define_gucs(void)
{
	DefineCustomIntVariable("nadia_bgw.advice_interval",
							"Time between two runs of the index advice task.",
							"-1 turns the advice off; 0 runs it at every cycle.",
							&nadia_advice_interval,
							3600, -1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("nadia_bgw.advice_min_rows",
							"Smallest table (live rows) an index is advised for.",
							NULL,
							&nadia_advice_min_rows,
							10000, 0, INT_MAX,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomRealVariable("nadia_bgw.advice_min_gain",
							 "Smallest share of its statements' execution time a verified index must save to be advised.",
							 "The share is estimated from the planner's costs with and without the hypothetical index.",
							 &nadia_advice_min_gain,
							 0.2, 0.0, 1.0,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("nadia_bgw.advice_window",
							"How far back the advice looks at plans, statement and table history.",
							NULL,
							&nadia_advice_window,
							7 * 1440, 60, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MIN,
							NULL, NULL, NULL);
	DefineCustomIntVariable("nadia_bgw.advice_plan_timeout",
							"Longest what-if planning of one statement.",
							"A statement whose planning takes longer is recorded as failed.",
							&nadia_advice_plan_timeout,
							5000, 100, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
}
