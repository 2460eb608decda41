/*-------------------------------------------------------------------------
 *
 * plan_text.c
 *		The EXPLAIN text of an executing plan, every constant masked.
 *
 * The text is printed the way auto_explain prints it (ExplainPrintPlan
 * on the QueryDesc the executor is running: no re-planning, the plan the
 * statement really got), with costs and without VERBOSE, ANALYZE or
 * buffers, then passed through the masking of plan_mask.c, which
 * replaces every literal of the deparsed expressions.  docs/plans.md,
 * "Masking", says why the masking works on the text.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/explain.h"
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#include "commands/explain_state.h"
#endif

#include "plans/plan_describe.h"

char *
nadia_plan_masked_text(QueryDesc *qd)
{
	ExplainState *es = NewExplainState();
	char	   *masked;

	es->analyze = false;
	es->verbose = false;
	es->costs = true;
	es->buffers = false;
	es->timing = false;
	es->summary = false;
	es->format = EXPLAIN_FORMAT_TEXT;

	ExplainBeginOutput(es);
	ExplainPrintPlan(es, qd);
	ExplainEndOutput(es);

	/* as auto_explain: no trailing newline */
	if (es->str->len > 0 && es->str->data[es->str->len - 1] == '\n')
		es->str->data[--es->str->len] = '\0';

	masked = nadia_plan_mask_literals(es->str->data);
	pfree(es->str->data);
	return masked;
}
