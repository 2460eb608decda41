/*-------------------------------------------------------------------------
 *
 * plan_walk.h
 *		Internal to the plan describers (plan_nodes.c): the numbering of a
 *		plan's nodes, their labels and their conditions.
 *
 *		plan_walk.c		pre-order numbering (subplans included) and labels
 *		plan_conds.c	the column conditions of one node
 *
 * The .c file that includes this must include postgres.h first.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_PLAN_WALK_H
#define NADIA_PLAN_WALK_H

#include "nodes/plannodes.h"

struct cJSON;

/* one node of a plan, in pre-order */
typedef struct NadiaPlanNode
{
	const Plan *plan;
	int			parent;			/* its id, -1 for a root */
	bool		under_limit;	/* below a Limit through Sort/Result/... only */
} NadiaPlanNode;

typedef struct NadiaPlanNodes
{
	int			count;
	int			allocated;
	NadiaPlanNode *nodes;		/* nodes[id] */
} NadiaPlanNodes;

extern NadiaPlanNodes *nadia_plan_walk(const PlannedStmt *ps);
extern int	nadia_plan_node_id(const NadiaPlanNodes *nodes, const Plan *plan);
extern const char *nadia_plan_node_name(const Plan *plan);
extern char *nadia_plan_node_label(const PlannedStmt *ps, const Plan *plan);
extern bool nadia_plan_is_scan_or_join(const Plan *plan);
extern Oid	nadia_plan_node_relid(const PlannedStmt *ps, const Plan *plan);
extern Oid	nadia_plan_node_indexid(const Plan *plan);
extern const char *nadia_plan_join_type(const Plan *plan);
extern char *nadia_plan_relation_name(Oid relid);

extern struct cJSON *nadia_plan_node_conds(const PlannedStmt *ps, const Plan *plan);

#endif							/* NADIA_PLAN_WALK_H */
