/*-------------------------------------------------------------------------
 *
 * plan_describe.h
 *		Pure functions that walk a plan tree: its id, its masked EXPLAIN
 *		text, a one-line summary and the per-node facts (JSON).  Used by
 *		the plan capture (plans/) only.
 *
 *		plan_id.c		the plan id: a jumble of the tree's shape
 *		plan_text.c		EXPLAIN text with every constant masked
 *		plan_mask.c		the masking tokenizer behind plan_text.c
 *		plan_nodes.c	summary, per-node facts and sampled rows (JSON)
 *
 * Everything returned is palloc'd in CurrentMemoryContext.
 *
 * The .c file that includes this must include postgres.h first.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_PLAN_DESCRIBE_H
#define NADIA_PLAN_DESCRIBE_H

#include "executor/execdesc.h"
#include "nodes/plannodes.h"

/* plan_id.c: jumble of node tags, scan/join kinds, relation and index
 * OIDs, scan direction, agg strategy, set-op kinds, subplans; never
 * costs, rows, widths, constants or parameter values */
extern uint64 nadia_plan_id(const PlannedStmt *ps);

/* plan_text.c: EXPLAIN (COSTS on, FORMAT TEXT, VERBOSE off) of
 * qd->planstate with every constant masked */
extern char *nadia_plan_masked_text(QueryDesc *qd);

/* plan_mask.c: mask every literal of a deparsed text ('...' strings,
 * E'' strings, numbers); "..." identifiers are kept */
extern char *nadia_plan_mask_literals(const char *text);

/* plan_nodes.c */
extern char *nadia_plan_summary(const PlannedStmt *ps);
extern char *nadia_plan_nodes_json(const PlannedStmt *ps);
extern char *nadia_plan_sampled_json(QueryDesc *qd);

#endif							/* NADIA_PLAN_DESCRIBE_H */
