/*-------------------------------------------------------------------------
 *
 * plan_walk.c
 *		The nodes of a plan in pre-order, and what EXPLAIN calls them.
 *
 * Every describer numbers the nodes the same way, so that the facts of
 * a plan (plan_nodes) and the rows of a sampled execution
 * (sampled_nodes) speak of the same node by the same id: a node, then
 * the subplans hanging on it (its initplans and the SubPlans of its
 * expressions), then its children.  A subplan nothing refers to any
 * more comes last, with no parent.
 *
 * Labels follow EXPLAIN's header wording ("Index Scan using idx on t",
 * "Hash Left Join", "HashAggregate"), with relations and indexes
 * schema-qualified, as VERBOSE prints them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "plans/plan_walk.h"

typedef struct WalkState
{
	const PlannedStmt *ps;
	NadiaPlanNodes *nodes;
	bool	   *subplan_seen;	/* by plan_id - 1 */
} WalkState;

static void walk_plan(WalkState *w, const Plan *plan, int parent, bool under_limit);

/* SubPlan expressions found in an expression tree */
static bool
find_subplans(Node *node, List **found)
{
	if (node == NULL)
		return false;
	if (IsA(node, SubPlan))
	{
		*found = lappend(*found, node);
		/* its testexpr and args may hold more */
	}
	return expression_tree_walker(node, find_subplans, (void *) found);
}

/* the expressions of a node that may hold SubPlans */
static List *
node_subplans(const Plan *plan)
{
	List	   *found = NIL;

	find_subplans((Node *) plan->initPlan, &found);
	find_subplans((Node *) plan->targetlist, &found);
	find_subplans((Node *) plan->qual, &found);
	switch (nodeTag(plan))
	{
		case T_NestLoop:
		case T_MergeJoin:
		case T_HashJoin:
			find_subplans((Node *) ((const Join *) plan)->joinqual, &found);
			break;
		case T_Result:
			find_subplans(((const Result *) plan)->resconstantqual, &found);
			break;
		case T_IndexScan:
			find_subplans((Node *) ((const IndexScan *) plan)->indexqualorig, &found);
			break;
		case T_BitmapHeapScan:
			find_subplans((Node *) ((const BitmapHeapScan *) plan)->bitmapqualorig, &found);
			break;
		default:
			break;
	}
	return found;
}

static void
walk_list(WalkState *w, const List *plans, int parent, bool under_limit)
{
	ListCell   *lc;

	foreach(lc, plans)
		walk_plan(w, (const Plan *) lfirst(lc), parent, under_limit);
}

/*
 * A node keeps "under a Limit" for its children when it passes rows
 * through in the Limit's order without cutting them: a sort under a
 * LIMIT is the candidate for an index that gives that order.
 */
static bool
passes_limit(const Plan *plan)
{
	switch (nodeTag(plan))
	{
		case T_Limit:
		case T_Sort:
		case T_IncrementalSort:
		case T_Result:
		case T_Gather:
		case T_GatherMerge:
		case T_Material:
		case T_SubqueryScan:
		case T_Append:
		case T_MergeAppend:
			return true;
		default:
			return false;
	}
}

static void
walk_subplan(WalkState *w, int plan_id, int parent)
{
	if (plan_id < 1 || plan_id > list_length(w->ps->subplans) ||
		w->subplan_seen[plan_id - 1])
		return;
	w->subplan_seen[plan_id - 1] = true;
	walk_plan(w, (const Plan *) list_nth(w->ps->subplans, plan_id - 1), parent, false);
}

static void
walk_plan(WalkState *w, const Plan *plan, int parent, bool under_limit)
{
	NadiaPlanNodes *nodes = w->nodes;
	int			id;
	bool		child_limit;
	ListCell   *lc;
	List	   *subplans;

	if (plan == NULL)
		return;
	check_stack_depth();
	CHECK_FOR_INTERRUPTS();

	if (nodes->count == nodes->allocated)
	{
		nodes->allocated *= 2;
		nodes->nodes = repalloc(nodes->nodes, nodes->allocated * sizeof(NadiaPlanNode));
	}
	id = nodes->count++;
	nodes->nodes[id].plan = plan;
	nodes->nodes[id].parent = parent;
	nodes->nodes[id].under_limit = under_limit;

	subplans = node_subplans(plan);
	foreach(lc, subplans)
		walk_subplan(w, ((const SubPlan *) lfirst(lc))->plan_id, id);
	list_free(subplans);

	child_limit = IsA(plan, Limit) || (under_limit && passes_limit(plan));
	switch (nodeTag(plan))
	{
		case T_Append:
			walk_list(w, ((const Append *) plan)->appendplans, id, child_limit);
			break;
		case T_MergeAppend:
			walk_list(w, ((const MergeAppend *) plan)->mergeplans, id, child_limit);
			break;
		case T_BitmapAnd:
			walk_list(w, ((const BitmapAnd *) plan)->bitmapplans, id, child_limit);
			break;
		case T_BitmapOr:
			walk_list(w, ((const BitmapOr *) plan)->bitmapplans, id, child_limit);
			break;
		case T_SubqueryScan:
			walk_plan(w, ((const SubqueryScan *) plan)->subplan, id, child_limit);
			break;
		case T_CustomScan:
			walk_list(w, ((const CustomScan *) plan)->custom_plans, id, child_limit);
			break;
		default:
			break;
	}
	walk_plan(w, plan->lefttree, id, child_limit);
	walk_plan(w, plan->righttree, id, child_limit);
}

/* The nodes of a plan, numbered in pre-order (ids are indexes). */
NadiaPlanNodes *
nadia_plan_walk(const PlannedStmt *ps)
{
	WalkState	w;
	int			nsub = list_length(ps->subplans);

	w.ps = ps;
	w.nodes = palloc0(sizeof(NadiaPlanNodes));
	w.nodes->allocated = 16;
	w.nodes->nodes = palloc(w.nodes->allocated * sizeof(NadiaPlanNode));
	w.subplan_seen = palloc0(sizeof(bool) * (nsub + 1));

	walk_plan(&w, ps->planTree, -1, false);
	/* subplans nothing refers to (left over after simplification) */
	for (int i = 1; i <= nsub; i++)
		walk_subplan(&w, i, -1);
	pfree(w.subplan_seen);
	return w.nodes;
}

/* The id of a plan node, -1 if it is not in the plan. */
int
nadia_plan_node_id(const NadiaPlanNodes *nodes, const Plan *plan)
{
	for (int i = 0; i < nodes->count; i++)
		if (nodes->nodes[i].plan == plan)
			return i;
	return -1;
}

/* EXPLAIN's node type name (JSON format's "Node Type"). */
const char *
nadia_plan_node_name(const Plan *plan)
{
	switch (nodeTag(plan))
	{
		case T_Result:
			return "Result";
		case T_ProjectSet:
			return "ProjectSet";
		case T_ModifyTable:
			switch (((const ModifyTable *) plan)->operation)
			{
				case CMD_INSERT:
					return "Insert";
				case CMD_UPDATE:
					return "Update";
				case CMD_DELETE:
					return "Delete";
				case CMD_MERGE:
					return "Merge";
				default:
					return "ModifyTable";
			}
		case T_Append:
			return "Append";
		case T_MergeAppend:
			return "Merge Append";
		case T_RecursiveUnion:
			return "Recursive Union";
		case T_BitmapAnd:
			return "BitmapAnd";
		case T_BitmapOr:
			return "BitmapOr";
		case T_NestLoop:
			return "Nested Loop";
		case T_MergeJoin:
			return "Merge Join";
		case T_HashJoin:
			return "Hash Join";
		case T_SeqScan:
			return "Seq Scan";
		case T_SampleScan:
			return "Sample Scan";
		case T_Gather:
			return "Gather";
		case T_GatherMerge:
			return "Gather Merge";
		case T_IndexScan:
			return "Index Scan";
		case T_IndexOnlyScan:
			return "Index Only Scan";
		case T_BitmapIndexScan:
			return "Bitmap Index Scan";
		case T_BitmapHeapScan:
			return "Bitmap Heap Scan";
		case T_TidScan:
			return "Tid Scan";
		case T_TidRangeScan:
			return "Tid Range Scan";
		case T_SubqueryScan:
			return "Subquery Scan";
		case T_FunctionScan:
			return "Function Scan";
		case T_TableFuncScan:
			return "Table Function Scan";
		case T_ValuesScan:
			return "Values Scan";
		case T_CteScan:
			return "CTE Scan";
		case T_NamedTuplestoreScan:
			return "Named Tuplestore Scan";
		case T_WorkTableScan:
			return "WorkTable Scan";
		case T_ForeignScan:
			return "Foreign Scan";
		case T_CustomScan:
			return "Custom Scan";
		case T_Material:
			return "Materialize";
		case T_Memoize:
			return "Memoize";
		case T_Sort:
			return "Sort";
		case T_IncrementalSort:
			return "Incremental Sort";
		case T_Group:
			return "Group";
		case T_Agg:
			return "Aggregate";
		case T_WindowAgg:
			return "WindowAgg";
		case T_Unique:
			return "Unique";
		case T_SetOp:
			return "SetOp";
		case T_LockRows:
			return "LockRows";
		case T_Limit:
			return "Limit";
		case T_Hash:
			return "Hash";
		default:
			return "???";
	}
}

/* "Inner", "Left", ... for a join node, NULL otherwise. */
const char *
nadia_plan_join_type(const Plan *plan)
{
	if (!IsA(plan, NestLoop) && !IsA(plan, MergeJoin) && !IsA(plan, HashJoin))
		return NULL;
	switch (((const Join *) plan)->jointype)
	{
		case JOIN_INNER:
			return "Inner";
		case JOIN_LEFT:
			return "Left";
		case JOIN_FULL:
			return "Full";
		case JOIN_RIGHT:
			return "Right";
		case JOIN_SEMI:
			return "Semi";
		case JOIN_ANTI:
			return "Anti";
#if PG_VERSION_NUM >= 160000
		case JOIN_RIGHT_ANTI:
			return "Right Anti";
#endif
#if PG_VERSION_NUM >= 180000
		case JOIN_RIGHT_SEMI:
			return "Right Semi";
#endif
		default:
			return "Other";
	}
}

bool
nadia_plan_is_scan_or_join(const Plan *plan)
{
	switch (nodeTag(plan))
	{
		case T_NestLoop:
		case T_MergeJoin:
		case T_HashJoin:
		case T_SeqScan:
		case T_SampleScan:
		case T_IndexScan:
		case T_IndexOnlyScan:
		case T_BitmapIndexScan:
		case T_BitmapHeapScan:
		case T_TidScan:
		case T_TidRangeScan:
		case T_SubqueryScan:
		case T_FunctionScan:
		case T_TableFuncScan:
		case T_ValuesScan:
		case T_CteScan:
		case T_NamedTuplestoreScan:
		case T_WorkTableScan:
		case T_ForeignScan:
		case T_CustomScan:
			return true;
		default:
			return false;
	}
}

/* The range table index a node scans (or modifies), 0 if none. */
static Index
node_scanrelid(const Plan *plan)
{
	if (IsA(plan, ModifyTable))
		return ((const ModifyTable *) plan)->nominalRelation;
	if (nadia_plan_is_scan_or_join(plan) && !IsA(plan, NestLoop) &&
		!IsA(plan, MergeJoin) && !IsA(plan, HashJoin))
		return ((const Scan *) plan)->scanrelid;
	return 0;
}

/* The relation a node scans, InvalidOid if it scans no relation. */
Oid
nadia_plan_node_relid(const PlannedStmt *ps, const Plan *plan)
{
	Index		rti = node_scanrelid(plan);
	RangeTblEntry *rte;

	if (rti == 0 || rti > (Index) list_length(ps->rtable))
		return InvalidOid;
	rte = rt_fetch(rti, ps->rtable);
	return rte->rtekind == RTE_RELATION ? rte->relid : InvalidOid;
}

Oid
nadia_plan_node_indexid(const Plan *plan)
{
	switch (nodeTag(plan))
	{
		case T_IndexScan:
			return ((const IndexScan *) plan)->indexid;
		case T_IndexOnlyScan:
			return ((const IndexOnlyScan *) plan)->indexid;
		case T_BitmapIndexScan:
			return ((const BitmapIndexScan *) plan)->indexid;
		default:
			return InvalidOid;
	}
}

/* schema.name of a relation or index, quoted where needed; NULL if gone */
char *
nadia_plan_relation_name(Oid relid)
{
	char	   *name = get_rel_name(relid);
	char	   *nsp;

	if (name == NULL)
		return NULL;
	nsp = get_namespace_name(get_rel_namespace(relid));
	return pstrdup(quote_qualified_identifier(nsp, name));
}

/* what a non-relation scan reads: its alias in the range table */
static const char *
scan_target_name(const PlannedStmt *ps, const Plan *plan)
{
	Index		rti = node_scanrelid(plan);
	RangeTblEntry *rte;
	Oid			relid = nadia_plan_node_relid(ps, plan);

	if (OidIsValid(relid))
	{
		char	   *name = nadia_plan_relation_name(relid);

		if (name != NULL)
			return name;
	}
	if (rti == 0 || rti > (Index) list_length(ps->rtable))
		return NULL;
	rte = rt_fetch(rti, ps->rtable);
	if (rte->rtekind == RTE_CTE)
		return quote_identifier(rte->ctename);
	if (rte->eref != NULL)
		return quote_identifier(rte->eref->aliasname);
	return NULL;
}

/* EXPLAIN's header of a node, without its costs. */
char *
nadia_plan_node_label(const PlannedStmt *ps, const Plan *plan)
{
	StringInfoData buf;
	const char *jt = nadia_plan_join_type(plan);
	const char *target;
	Oid			indexid = nadia_plan_node_indexid(plan);

	initStringInfo(&buf);
	if (plan->parallel_aware)
		appendStringInfoString(&buf, "Parallel ");

	if (IsA(plan, Agg))
	{
		const Agg  *agg = (const Agg *) plan;

		if (DO_AGGSPLIT_SKIPFINAL(agg->aggsplit))
			appendStringInfoString(&buf, "Partial ");
		else if (DO_AGGSPLIT_COMBINE(agg->aggsplit))
			appendStringInfoString(&buf, "Finalize ");
		appendStringInfoString(&buf,
							   agg->aggstrategy == AGG_SORTED ? "GroupAggregate" :
							   agg->aggstrategy == AGG_HASHED ? "HashAggregate" :
							   agg->aggstrategy == AGG_MIXED ? "MixedAggregate" :
							   "Aggregate");
	}
	else if (IsA(plan, SetOp))
		appendStringInfoString(&buf, ((const SetOp *) plan)->strategy == SETOP_HASHED ?
							   "HashSetOp" : "SetOp");
	else
		appendStringInfoString(&buf, nadia_plan_node_name(plan));

	if (jt != NULL && strcmp(jt, "Inner") != 0)
	{
		/* "Nested Loop Left Join", "Hash Anti Join" */
		if (IsA(plan, NestLoop))
			appendStringInfo(&buf, " %s Join", jt);
		else
		{
			buf.len -= strlen(" Join");
			buf.data[buf.len] = '\0';
			appendStringInfo(&buf, " %s Join", jt);
		}
	}

	if (OidIsValid(indexid))
	{
		/* unqualified, as EXPLAIN VERBOSE: an index is in its table's schema */
		char	   *iname = get_rel_name(indexid);

		if ((IsA(plan, IndexScan) &&
			 ScanDirectionIsBackward(((const IndexScan *) plan)->indexorderdir)) ||
			(IsA(plan, IndexOnlyScan) &&
			 ScanDirectionIsBackward(((const IndexOnlyScan *) plan)->indexorderdir)))
			appendStringInfoString(&buf, " Backward");
		if (IsA(plan, BitmapIndexScan))
			appendStringInfo(&buf, " on %s", iname ? quote_identifier(iname) : "?");
		else
			appendStringInfo(&buf, " using %s", iname ? quote_identifier(iname) : "?");
	}
	if (!IsA(plan, BitmapIndexScan) && (target = scan_target_name(ps, plan)) != NULL)
		appendStringInfo(&buf, " on %s", target);
	return buf.data;
}
