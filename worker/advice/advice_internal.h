/*-------------------------------------------------------------------------
 *
 * advice_internal.h
 *		What the files of the advice module share (not for other modules).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_ADVICE_INTERNAL_H
#define NADIA_ADVICE_INTERNAL_H

/* settings (advice_guc.c) */
extern int	nadia_advice_interval;
extern int	nadia_advice_min_rows;
extern double nadia_advice_min_gain;
extern int	nadia_advice_window;
extern int	nadia_advice_plan_timeout;

/*
 * One affected statement of a candidate, planned without and with the
 * candidate index (advice_whatif.c).  The caller fills the first part;
 * nadia_advice_whatif() fills the rest.
 */
typedef struct NadiaAdviceCheck
{
	int64		queryid;
	Oid			userid;
	const char *rolname;		/* NULL: the role is gone */
	bool		rolsuper;
	const char *query;			/* normalized text, NULL when none stored */
	bool		cut;			/* the stored text is shorter than the original */
	const char *create_sql;		/* the candidate's CREATE INDEX */
	const char *hypopg_schema;	/* where hypopg's functions are */

	const char *outcome;		/* "planned", "refused" or "failed" */
	char	   *reason;			/* why refused or failed, NULL when planned */
	double		cost_before;	/* planner total cost, generic plan */
	double		cost_after;
	int64		index_bytes;	/* hypopg_relation_size() */
} NadiaAdviceCheck;

extern void nadia_advice_whatif(NadiaAdviceCheck *check);

#endif							/* NADIA_ADVICE_INTERNAL_H */
