/*-------------------------------------------------------------------------
 *
 * plan_conds.c
 *		The column conditions of one plan node, for plan_nodes.
 *
 * A condition is kept when it has the form "column op value", where the
 * column resolves to a column of a base relation and the value is a
 * constant, a parameter, an expression of neither columns, or (in a join)
 * another relation's column.  Anything else (OR lists, expressions over
 * columns, row comparisons) is skipped: index advice works from
 * conditions an index could serve, and a wrong column is worse than none.
 *
 * Columns are resolved the way EXPLAIN VERBOSE deparses them: a Var of a
 * scan names the range table entry; OUTER_VAR and INNER_VAR name an entry
 * of the outer or inner child's target list, followed down until a scan;
 * INDEX_VAR of an index-only scan names an index column (indextlist); a
 * subquery scan's Var names an entry of its subplan's target list.
 *
 * Only the column, the operator's name and its class are written: never
 * the value, so no constant or parameter value can reach plan_nodes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>

#include "access/stratnum.h"
#include "catalog/pg_am.h"
#include "catalog/pg_operator.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"

#include "plans/plan_walk.h"

/* a resolved column */
typedef struct BaseColumn
{
	Oid			relid;
	AttrNumber	attnum;
	Oid			type;
} BaseColumn;

/* how deep OUTER_VAR/INNER_VAR references are followed */
#define MAX_RESOLVE_DEPTH	64

static Node *
strip_relabel(Node *node)
{
	while (node != NULL && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node;
}

static const Plan *
outer_child(const Plan *plan)
{
	if (IsA(plan, Append))
		return linitial_node(Plan, ((const Append *) plan)->appendplans);
	if (IsA(plan, MergeAppend))
		return linitial_node(Plan, ((const MergeAppend *) plan)->mergeplans);
	return plan->lefttree;
}

/*
 * Resolve "expr", seen in node "plan", to a base relation's column.
 */
static bool
resolve_column(const PlannedStmt *ps, const Plan *plan, Node *expr,
			   BaseColumn *col, int depth)
{
	Var		   *var;
	const Plan *child = NULL;
	List	   *tlist = NIL;
	TargetEntry *tle;

	expr = strip_relabel(expr);
	if (expr == NULL || !IsA(expr, Var) || depth > MAX_RESOLVE_DEPTH || plan == NULL)
		return false;
	var = (Var *) expr;

	if (var->varno == OUTER_VAR)
	{
		if (IsA(plan, Append) && ((const Append *) plan)->appendplans == NIL)
			return false;
		if (IsA(plan, MergeAppend) && ((const MergeAppend *) plan)->mergeplans == NIL)
			return false;
		child = outer_child(plan);
	}
	else if (var->varno == INNER_VAR)
		child = plan->righttree;
	else if (var->varno == INDEX_VAR)
	{
		if (!IsA(plan, IndexOnlyScan))
			return false;
		/* an index column: its entry names the table's column */
		tle = get_tle_by_resno(((const IndexOnlyScan *) plan)->indextlist, var->varattno);
		if (tle == NULL)
			return false;
		return resolve_column(ps, plan, (Node *) tle->expr, col, depth + 1);
	}
	else if (var->varno > 0 && var->varno <= list_length(ps->rtable))
	{
		RangeTblEntry *rte = rt_fetch(var->varno, ps->rtable);

		if (rte->rtekind == RTE_RELATION && var->varattno > 0)
		{
			col->relid = rte->relid;
			col->attnum = var->varattno;
			col->type = var->vartype;
			return true;
		}
		if (rte->rtekind == RTE_SUBQUERY && IsA(plan, SubqueryScan) &&
			((const SubqueryScan *) plan)->scan.scanrelid == (Index) var->varno)
		{
			const Plan *sub = ((const SubqueryScan *) plan)->subplan;

			tle = get_tle_by_resno(sub->targetlist, var->varattno);
			return tle != NULL &&
				resolve_column(ps, sub, (Node *) tle->expr, col, depth + 1);
		}
		return false;
	}
	else
		return false;

	if (child == NULL)
		return false;
	tlist = child->targetlist;
	tle = get_tle_by_resno(tlist, var->varattno);
	return tle != NULL && resolve_column(ps, child, (Node *) tle->expr, col, depth + 1);
}

/*
 * "eq", "range" or "other", and whether a btree index on the column could
 * serve the operator: the default btree operator class of the column's
 * type has a family that contains it.
 */
static void
classify(Oid opno, Oid coltype, const char **cls, bool *btree)
{
	Oid			opclass = GetDefaultOpClass(coltype, BTREE_AM_OID);
	int			strategy = 0;
	char	   *name;

	if (OidIsValid(opclass) && OidIsValid(opno))
		strategy = get_op_opfamily_strategy(opno, get_opclass_family(opclass));
	*btree = strategy != 0;
	if (strategy == BTEqualStrategyNumber)
		*cls = "eq";
	else if (strategy != 0)
		*cls = "range";
	else
	{
		/* not a btree operator: its name says what it is like */
		name = OidIsValid(opno) ? get_opname(opno) : NULL;
		if (name != NULL && strcmp(name, "=") == 0)
			*cls = "eq";
		else if (name != NULL && (strcmp(name, "<") == 0 || strcmp(name, "<=") == 0 ||
								  strcmp(name, ">") == 0 || strcmp(name, ">=") == 0))
			*cls = "range";
		else
			*cls = "other";
	}
}

static void
add_cond(cJSON *conds, const char *kind, const BaseColumn *col,
		 const char *op, const char *cls, bool btree)
{
	cJSON	   *c;
	char	   *colname = get_attname(col->relid, col->attnum, true);

	if (colname == NULL || op == NULL)
		return;
	c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "kind", kind);
	cJSON_AddNumberToObject(c, "relid", (double) col->relid);
	cJSON_AddNumberToObject(c, "attnum", (double) col->attnum);
	cJSON_AddStringToObject(c, "column", colname);
	cJSON_AddStringToObject(c, "op", op);
	cJSON_AddStringToObject(c, "class", cls);
	cJSON_AddBoolToObject(c, "btree", btree);
	cJSON_AddItemToArray(conds, c);
}

/* a value side: no column of any relation in it */
static bool
is_value(Node *expr)
{
	return expr != NULL && !contain_var_clause(expr);
}

/* a column compared with a value or another column through "opno" */
static void
add_operator_cond(cJSON *conds, const char *kind, Oid opno, const BaseColumn *col)
{
	const char *cls;
	bool		btree;

	classify(opno, col->type, &cls, &btree);
	add_cond(conds, kind, col, get_opname(opno), cls, btree);
}

static void
clause_conds(const PlannedStmt *ps, const Plan *plan, const char *kind,
			 Node *clause, cJSON *conds)
{
	BaseColumn	lcol,
				rcol;
	bool		join = strcmp(kind, "filter") != 0 && strcmp(kind, "index_cond") != 0 &&
		strcmp(kind, "recheck") != 0;

	if (clause == NULL)
		return;
	if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *l = linitial(op->args);
		Node	   *r = lsecond(op->args);
		bool		lok = resolve_column(ps, plan, l, &lcol, 0);
		bool		rok = resolve_column(ps, plan, r, &rcol, 0);

		if (lok && (rok ? (join || lcol.relid != rcol.relid) : is_value(r)))
			add_operator_cond(conds, kind, op->opno, &lcol);
		/* the column on the right: the operator seen from its side */
		if (rok && (lok ? (join || lcol.relid != rcol.relid) : is_value(l)) &&
			OidIsValid(get_commutator(op->opno)))
			add_operator_cond(conds, kind, get_commutator(op->opno), &rcol);
	}
	else if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *saop = (ScalarArrayOpExpr *) clause;
		const char *cls;
		bool		btree;
		char	   *name = get_opname(saop->opno);

		if (list_length(saop->args) == 2 && name != NULL &&
			resolve_column(ps, plan, linitial(saop->args), &lcol, 0) &&
			is_value(lsecond(saop->args)))
		{
			classify(saop->opno, lcol.type, &cls, &btree);
			/* "= ALL" is no equality; "< ALL" still a range */
			if (!saop->useOr && strcmp(cls, "eq") == 0)
				cls = "other";
			add_cond(conds, kind, &lcol,
					 psprintf("%s %s", name, saop->useOr ? "ANY" : "ALL"), cls, btree);
		}
	}
	else if (IsA(clause, NullTest))
	{
		NullTest   *nt = (NullTest *) clause;

		/* a btree finds NULLs (IS NULL is an equality to it) */
		if (!nt->argisrow && resolve_column(ps, plan, (Node *) nt->arg, &lcol, 0))
			add_cond(conds, kind, &lcol,
					 nt->nulltesttype == IS_NULL ? "IS NULL" : "IS NOT NULL",
					 nt->nulltesttype == IS_NULL ? "eq" : "other",
					 OidIsValid(GetDefaultOpClass(lcol.type, BTREE_AM_OID)));
	}
	else if (IsA(strip_relabel(clause), Var) &&
			 resolve_column(ps, plan, clause, &lcol, 0) && lcol.type == BOOLOID)
	{
		/* WHERE flag: an index matches it as flag = true */
		add_operator_cond(conds, kind, BooleanEqualOperator, &lcol);
	}
}

static void
list_conds(const PlannedStmt *ps, const Plan *plan, const char *kind,
		   List *clauses, cJSON *conds)
{
	ListCell   *lc;

	foreach(lc, clauses)
		clause_conds(ps, plan, kind, (Node *) lfirst(lc), conds);
}

/* the sort keys of a Sort or Incremental Sort, as "sort_key" conditions */
static void
sort_conds(const PlannedStmt *ps, const Sort *sort, cJSON *conds)
{
	for (int i = 0; i < sort->numCols; i++)
	{
		TargetEntry *tle = get_tle_by_resno(sort->plan.targetlist, sort->sortColIdx[i]);
		BaseColumn	col;

		if (tle != NULL && resolve_column(ps, &sort->plan, (Node *) tle->expr, &col, 0))
			add_operator_cond(conds, "sort_key", sort->sortOperators[i], &col);
	}
}

/* The "conds" array of one node. */
cJSON *
nadia_plan_node_conds(const PlannedStmt *ps, const Plan *plan)
{
	cJSON	   *conds = cJSON_CreateArray();

	check_stack_depth();
	switch (nodeTag(plan))
	{
		case T_IndexScan:
			list_conds(ps, plan, "index_cond", ((const IndexScan *) plan)->indexqualorig, conds);
			break;
		case T_IndexOnlyScan:
			list_conds(ps, plan, "index_cond", ((const IndexOnlyScan *) plan)->indexqual, conds);
			break;
		case T_BitmapIndexScan:
			list_conds(ps, plan, "index_cond", ((const BitmapIndexScan *) plan)->indexqualorig, conds);
			break;
		case T_BitmapHeapScan:
			list_conds(ps, plan, "recheck", ((const BitmapHeapScan *) plan)->bitmapqualorig, conds);
			break;
		case T_HashJoin:
			list_conds(ps, plan, "hash_cond", ((const HashJoin *) plan)->hashclauses, conds);
			break;
		case T_MergeJoin:
			list_conds(ps, plan, "merge_cond", ((const MergeJoin *) plan)->mergeclauses, conds);
			break;
		case T_Sort:
		case T_IncrementalSort:
			sort_conds(ps, (const Sort *) plan, conds);
			break;
		default:
			break;
	}
	if (IsA(plan, NestLoop) || IsA(plan, MergeJoin) || IsA(plan, HashJoin))
		list_conds(ps, plan, "join_filter", ((const Join *) plan)->joinqual, conds);
	list_conds(ps, plan, "filter", plan->qual, conds);
	return conds;
}
