/*-------------------------------------------------------------------------
 *
 * plan_nodes.c
 *		A plan's one-line summary, its per-node facts (plan_nodes) and
 *		the rows of a sampled execution (sampled_nodes), as JSON.
 *
 * The shapes are those of docs/plans.md, "Plan nodes".  Node ids are the
 * pre-order numbering of plan_walk.c in both, so a sampled node is found
 * in plan_nodes by its id.  The JSON is built with cJSON in the current
 * memory context (core/json.c) and printed once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>

#include "executor/instrument.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"

#include "core/core.h"
#include "plans/plan_describe.h"
#include "plans/plan_walk.h"

/* One line: the labels of the scan and join nodes, in pre-order. */
char *
nadia_plan_summary(const PlannedStmt *ps)
{
	NadiaPlanNodes *nodes = nadia_plan_walk(ps);
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < nodes->count; i++)
	{
		const Plan *plan = nodes->nodes[i].plan;

		if (!nadia_plan_is_scan_or_join(plan))
			continue;
		if (buf.len > 0)
			appendStringInfoString(&buf, " / ");
		appendStringInfoString(&buf, nadia_plan_node_label(ps, plan));
	}
	return buf.data;
}

static void
add_string_or_null(cJSON *obj, const char *key, const char *value)
{
	if (value != NULL)
		cJSON_AddStringToObject(obj, key, value);
	else
		cJSON_AddNullToObject(obj, key);
}

static void
add_oid_or_null(cJSON *obj, const char *key, Oid value)
{
	if (OidIsValid(value))
		cJSON_AddNumberToObject(obj, key, (double) value);
	else
		cJSON_AddNullToObject(obj, key);
}

/* The facts of every node: what it is, what it reads, on which columns. */
char *
nadia_plan_nodes_json(const PlannedStmt *ps)
{
	NadiaPlanNodes *nodes = nadia_plan_walk(ps);
	cJSON	   *array = cJSON_CreateArray();
	char	   *printed;

	for (int i = 0; i < nodes->count; i++)
	{
		const NadiaPlanNode *n = &nodes->nodes[i];
		const Plan *plan = n->plan;
		cJSON	   *obj = cJSON_CreateObject();
		Oid			relid = nadia_plan_node_relid(ps, plan);
		Oid			indexid = nadia_plan_node_indexid(plan);

		cJSON_AddNumberToObject(obj, "id", i);
		if (n->parent >= 0)
			cJSON_AddNumberToObject(obj, "parent", n->parent);
		else
			cJSON_AddNullToObject(obj, "parent");
		cJSON_AddStringToObject(obj, "node", nadia_plan_node_name(plan));
		cJSON_AddStringToObject(obj, "label", nadia_plan_node_label(ps, plan));
		add_oid_or_null(obj, "relid", relid);
		add_string_or_null(obj, "relation",
						   OidIsValid(relid) ? nadia_plan_relation_name(relid) : NULL);
		add_oid_or_null(obj, "indexid", indexid);
		add_string_or_null(obj, "index",
						   OidIsValid(indexid) ? nadia_plan_relation_name(indexid) : NULL);
		add_string_or_null(obj, "join_type", nadia_plan_join_type(plan));
		cJSON_AddNumberToObject(obj, "est_rows", plan->plan_rows);
		cJSON_AddNumberToObject(obj, "total_cost", plan->total_cost);
		cJSON_AddBoolToObject(obj, "under_limit", n->under_limit);
		cJSON_AddItemToObject(obj, "conds", nadia_plan_node_conds(ps, plan));
		cJSON_AddItemToArray(array, obj);
	}
	printed = nadia_json_print(array);
	cJSON_Delete(array);
	return printed;
}

typedef struct SampleWalk
{
	const PlannedStmt *ps;
	NadiaPlanNodes *nodes;
	cJSON	   *array;
} SampleWalk;

/* |value| = the factor, sign: + under-estimated, - over-estimated */
static double
misestimate(double est, double actual)
{
	double		e = Max(est, 1.0);
	double		a = Max(actual, 1.0);

	return actual >= est ? a / e : -(e / a);
}

static void
sample_node(PlanState *planstate, SampleWalk *w)
{
	Instrumentation *instr = planstate->instrument;
	const Plan *plan = planstate->plan;
	int			id;
	double		rows;
	bool		join;
	cJSON	   *obj;

	if (instr == NULL)
		return;
	/* a node still counting (an execution stopped half-way) is not read */
	if (!INSTR_TIME_IS_ZERO(instr->starttime))
		return;
	/* fold the last loop into the totals, as EXPLAIN ANALYZE does */
	InstrEndLoop(instr);
	if (instr->nloops <= 0)
		return;
	id = nadia_plan_node_id(w->nodes, plan);
	if (id < 0)
		return;

	rows = instr->ntuples / instr->nloops;
	join = IsA(plan, NestLoop) || IsA(plan, MergeJoin) || IsA(plan, HashJoin);

	obj = cJSON_CreateObject();
	cJSON_AddNumberToObject(obj, "id", id);
	cJSON_AddStringToObject(obj, "label", nadia_plan_node_label(w->ps, plan));
	cJSON_AddNumberToObject(obj, "est_rows", plan->plan_rows);
	cJSON_AddNumberToObject(obj, "actual_rows", rows);
	cJSON_AddNumberToObject(obj, "loops", instr->nloops);
	/* a join counts its join filter in nfiltered1, its filter in nfiltered2 */
	cJSON_AddNumberToObject(obj, "removed_by_filter",
							join ? instr->nfiltered2 : instr->nfiltered1);
	cJSON_AddNumberToObject(obj, "removed_by_join_filter",
							join ? instr->nfiltered1 : 0.0);
	cJSON_AddNumberToObject(obj, "misestimate", misestimate(plan->plan_rows, rows));
	cJSON_AddItemToArray(w->array, obj);
}

static bool
sample_walker(PlanState *planstate, void *context)
{
	SampleWalk *w = (SampleWalk *) context;

	if (planstate == NULL)
		return false;
	CHECK_FOR_INTERRUPTS();
	sample_node(planstate, w);
	return planstate_tree_walker(planstate, sample_walker, context);
}

/*
 * After an execution with row instrumentation: per executed node the
 * estimated and actual rows per loop, the loops and the rows filters
 * removed (totals), and the misestimate factor.
 */
char *
nadia_plan_sampled_json(QueryDesc *qd)
{
	SampleWalk	w;
	char	   *printed;

	w.ps = qd->plannedstmt;
	w.nodes = nadia_plan_walk(qd->plannedstmt);
	w.array = cJSON_CreateArray();
	if (qd->planstate != NULL)
		sample_walker(qd->planstate, &w);
	printed = nadia_json_print(w.array);
	cJSON_Delete(w.array);
	return printed;
}
