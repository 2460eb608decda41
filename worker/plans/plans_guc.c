/*-------------------------------------------------------------------------
 *
 * plans_guc.c
 *		The settings of the plan capture (docs/gucs.md, "Plan capture").
 *
 * The sizes of the store are fixed when the server starts (shared
 * memory); the switch and the sampling can change at any time, the switch
 * by any user for the own session or transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "plans/plans_internal.h"

bool		nadia_plan_capture = true;
int			nadia_plan_max = 5000;
int			nadia_plan_text_max = 4096;
double		nadia_plan_sample_rate = 0.01;
int			nadia_plan_sample_min_duration = 1000;
int			nadia_plan_sample_refresh = 10;

void
nadia_plans_define_gucs(void)
{
	DefineCustomBoolVariable("nadia_bgw.plan_capture",
							 "Captures the plans of this session's top-level statements.",
							 "Off for a session or a transaction (SET LOCAL) leaves its statements out of the plan store.",
							 &nadia_plan_capture,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	/* the sizes of shared memory exist only when preloaded */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomIntVariable("nadia_bgw.plan_max",
								"Number of plans (database, user, statement, plan) the plan store keeps.",
								"Executions of further plans are counted in not_tracked only.",
								&nadia_plan_max,
								5000,
								NADIA_PLAN_MAX_MIN,
								1000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);

		DefineCustomIntVariable("nadia_bgw.plan_text_max",
								"Shared memory for the texts of captured plans.",
								"Plan text, summary and nodes of each plan, and its latest sample; 0 keeps counters only.",
								&nadia_plan_text_max,
								4096,
								0,
								1024 * 1024,
								PGC_POSTMASTER,
								GUC_UNIT_KB,
								NULL, NULL, NULL);
	}

	DefineCustomRealVariable("nadia_bgw.plan_sample_rate",
							 "Fraction of executions run with row instrumentation.",
							 "Sampled executions record estimated against actual rows per plan node; never per-node timing.",
							 &nadia_plan_sample_rate,
							 0.01,
							 0.0,
							 1.0,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("nadia_bgw.plan_sample_min_duration",
							"Plans whose mean execution time reaches this are sampled at every execution.",
							"-1 turns this rule off.",
							&nadia_plan_sample_min_duration,
							1000,
							-1,
							INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("nadia_bgw.plan_sample_refresh",
							"Minimum age of a plan's sampled nodes before a sampled execution describes them again.",
							"Sampled executions in between are counted but not described; 0 describes every sampled execution.",
							&nadia_plan_sample_refresh,
							10,
							0,
							86400,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);
}
