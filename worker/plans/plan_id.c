/*-------------------------------------------------------------------------
 *
 * plan_id.c
 *		The plan id: a 64-bit hash of a plan tree's shape.
 *
 * Two executions have the same plan id when the planner chose the same
 * shape: the same node types, the same relations and indexes, the same
 * join, scan, aggregation and set-operation kinds, the same subplans.
 * What varies between executions of one shape never enters the hash:
 * costs, row estimates, widths, constants and parameter values, and the
 * number of parallel workers (a matter of settings, not of shape).
 *
 * The facts are appended to one byte buffer in a fixed walk order (the
 * "jumble", as pg_stat_statements does for query ids) and hashed once
 * with PostgreSQL's hash_bytes_extended.  Relations are identified by
 * OID through the range table, so the id is stable as long as the
 * objects are (a dropped and recreated index makes a new plan id, which
 * is what a plan change is).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parsetree.h"

#include "plans/plan_describe.h"

/* a seed of our own, so our ids never equal another hash of the same bytes */
#define NADIA_PLAN_ID_SEED	UINT64CONST(0x6e616469615f706c)

typedef struct PlanJumble
{
	StringInfoData buf;
	const PlannedStmt *ps;
} PlanJumble;

static void jumble_plan(PlanJumble *j, const Plan *plan);

/* every fact is jumbled as 4 bytes (tags, enums, OIDs, flags, numbers) */
static void
jumble_int(PlanJumble *j, uint32 v)
{
	appendBinaryStringInfo(&j->buf, (const char *) &v, sizeof(v));
}

/* A scanned range table entry: the relation's OID, or the kind of RTE. */
static void
jumble_scanrel(PlanJumble *j, Index scanrelid)
{
	RangeTblEntry *rte;

	if (scanrelid == 0 || scanrelid > (Index) list_length(j->ps->rtable))
	{
		jumble_int(j, (uint32) 0);
		return;
	}
	rte = rt_fetch(scanrelid, j->ps->rtable);
	jumble_int(j, (uint32) rte->rtekind);
	if (rte->rtekind == RTE_RELATION)
		jumble_int(j, (uint32) rte->relid);
}

static void
jumble_plan_list(PlanJumble *j, const List *plans)
{
	ListCell   *lc;

	jumble_int(j, (uint32) list_length(plans));
	foreach(lc, plans)
		jumble_plan(j, (const Plan *) lfirst(lc));
}

/* The initplans hanging on a node: which of the statement's subplans. */
static void
jumble_initplans(PlanJumble *j, const List *initPlan)
{
	ListCell   *lc;

	jumble_int(j, (uint32) list_length(initPlan));
	foreach(lc, initPlan)
	{
		const Node *sp = lfirst(lc);

		if (IsA(sp, SubPlan))
			jumble_int(j, (uint32) ((const SubPlan *) sp)->plan_id);
	}
}

/* The facts of one node that make its shape, then its children. */
static void
jumble_plan(PlanJumble *j, const Plan *plan)
{
	/* deep trees come from deep queries: recursion must be bounded */
	check_stack_depth();
	CHECK_FOR_INTERRUPTS();

	if (plan == NULL)
	{
		jumble_int(j, (uint32) T_Invalid);
		return;
	}
	jumble_int(j, (uint32) nodeTag(plan));
	jumble_int(j, (uint32) plan->parallel_aware);

	switch (nodeTag(plan))
	{
		case T_SeqScan:
		case T_SampleScan:
		case T_BitmapHeapScan:
		case T_TidScan:
		case T_TidRangeScan:
		case T_SubqueryScan:
		case T_FunctionScan:
		case T_ValuesScan:
		case T_TableFuncScan:
		case T_CteScan:
		case T_NamedTuplestoreScan:
		case T_WorkTableScan:
		case T_ForeignScan:
		case T_CustomScan:
			jumble_scanrel(j, ((const Scan *) plan)->scanrelid);
			break;
		case T_IndexScan:
			jumble_scanrel(j, ((const IndexScan *) plan)->scan.scanrelid);
			jumble_int(j, (uint32) ((const IndexScan *) plan)->indexid);
			jumble_int(j, (uint32) ((const IndexScan *) plan)->indexorderdir);
			break;
		case T_IndexOnlyScan:
			jumble_scanrel(j, ((const IndexOnlyScan *) plan)->scan.scanrelid);
			jumble_int(j, (uint32) ((const IndexOnlyScan *) plan)->indexid);
			jumble_int(j, (uint32) ((const IndexOnlyScan *) plan)->indexorderdir);
			break;
		case T_BitmapIndexScan:
			jumble_scanrel(j, ((const BitmapIndexScan *) plan)->scan.scanrelid);
			jumble_int(j, (uint32) ((const BitmapIndexScan *) plan)->indexid);
			break;
		case T_NestLoop:
		case T_MergeJoin:
		case T_HashJoin:
			jumble_int(j, (uint32) ((const Join *) plan)->jointype);
			break;
		case T_Agg:
			jumble_int(j, (uint32) ((const Agg *) plan)->aggstrategy);
			jumble_int(j, (uint32) ((const Agg *) plan)->aggsplit);
			break;
		case T_SetOp:
			jumble_int(j, (uint32) ((const SetOp *) plan)->cmd);
			jumble_int(j, (uint32) ((const SetOp *) plan)->strategy);
			break;
		case T_ModifyTable:
			{
				const ModifyTable *mt = (const ModifyTable *) plan;
				ListCell   *lc;

				jumble_int(j, (uint32) mt->operation);
				foreach(lc, mt->resultRelations)
					jumble_scanrel(j, (Index) lfirst_int(lc));
				jumble_int(j, (uint32) mt->onConflictAction);
			}
			break;
		default:
			/* the tag says it all (Sort, Limit, Hash, Material, ...) */
			break;
	}

	/* the children a node has besides lefttree/righttree */
	switch (nodeTag(plan))
	{
		case T_Append:
			jumble_plan_list(j, ((const Append *) plan)->appendplans);
			break;
		case T_MergeAppend:
			jumble_plan_list(j, ((const MergeAppend *) plan)->mergeplans);
			break;
		case T_BitmapAnd:
			jumble_plan_list(j, ((const BitmapAnd *) plan)->bitmapplans);
			break;
		case T_BitmapOr:
			jumble_plan_list(j, ((const BitmapOr *) plan)->bitmapplans);
			break;
		case T_SubqueryScan:
			jumble_plan(j, ((const SubqueryScan *) plan)->subplan);
			break;
		case T_CustomScan:
			jumble_plan_list(j, ((const CustomScan *) plan)->custom_plans);
			break;
		default:
			break;
	}

	jumble_initplans(j, plan->initPlan);
	jumble_plan(j, plan->lefttree);
	jumble_plan(j, plan->righttree);
}

uint64
nadia_plan_id(const PlannedStmt *ps)
{
	PlanJumble	j;
	uint64		id;

	initStringInfo(&j.buf);
	j.ps = ps;

	jumble_int(&j, (uint32) ps->commandType);
	jumble_plan(&j, ps->planTree);
	/* the subplans (SubPlan and InitPlan expressions refer to them by number) */
	jumble_plan_list(&j, ps->subplans);

	id = hash_bytes_extended((const unsigned char *) j.buf.data, j.buf.len,
							 NADIA_PLAN_ID_SEED);
	pfree(j.buf.data);
	return id;
}
