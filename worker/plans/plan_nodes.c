/* placeholder so that the branch links; replaced by the real walker */
#include "postgres.h"

#include "plans/plan_describe.h"

char *
nadia_plan_summary(const PlannedStmt *ps)
{
	return pstrdup("");
}

char *
nadia_plan_nodes_json(const PlannedStmt *ps)
{
	return pstrdup("[]");
}

char *
nadia_plan_sampled_json(QueryDesc *qd)
{
	return pstrdup("[]");
}
