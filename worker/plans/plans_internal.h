/*-------------------------------------------------------------------------
 *
 * plans_internal.h
 *		What the files of the plan capture share: the settings, the shared
 *		store of plans (entries, counters, text area) and the backend-local
 *		memo of plan ids.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_PLANS_INTERNAL_H
#define NADIA_PLANS_INTERNAL_H

#include "datatype/timestamp.h"
#include "nodes/plannodes.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "utils/hsearch.h"

#include "plans/plans.h"

/* plans_guc.c: the settings (docs/gucs.md, "Plan capture") */
extern bool nadia_plan_capture;
extern int	nadia_plan_max;
extern int	nadia_plan_text_max;	/* kB */
extern double nadia_plan_sample_rate;
extern int	nadia_plan_sample_min_duration;	/* ms, -1 = off */
extern int	nadia_plan_sample_refresh;	/* s, 0 = every sample */

#define NADIA_PLAN_MAX_MIN		100

/* one plan of one statement of one user in one database */
typedef struct NadiaPlanKey
{
	Oid			dbid;
	Oid			userid;
	int64		queryid;
	int64		planid;
} NadiaPlanKey;

/* a piece of the text area: offset, used length, reserved length */
typedef struct NadiaPlanText
{
	uint32		off;
	uint32		len;
	uint32		cap;
} NadiaPlanText;

/* where an entry's texts are */
typedef enum NadiaPlanTextState
{
	NADIA_PLAN_TEXT_NONE = 0,	/* not produced yet */
	NADIA_PLAN_TEXT_PENDING,	/* one backend is producing them */
	NADIA_PLAN_TEXT_STORED,		/* in the text area */
	NADIA_PLAN_TEXT_DROPPED,	/* did not fit: counters only */
	NADIA_PLAN_TEXT_FAILED		/* producing them failed (logged once) */
} NadiaPlanTextState;

/*
 * The counters of a plan as readers see them (plan_store_sql.c, the
 * history drain): a copy taken from an entry's atomics.
 */
typedef struct NadiaPlanCounters
{
	int64		calls;
	double		total_time;		/* ms */
	double		min_time;
	double		max_time;
	int64		rows;
	int64		shared_blks_hit;
	int64		shared_blks_read;
	int64		sampled_calls;
	TimestampTz first_seen;
	TimestampTz last_seen;
} NadiaPlanCounters;

/*
 * An entry of the shared hash.  The counters are atomics, added to with no
 * lock (plan_store.c, "Counting"): times in nanoseconds, min_ns starting at
 * PG_UINT64_MAX, first_seen at 0.  text_state is claimed by a
 * compare-and-swap from NONE to PENDING (one backend produces the texts);
 * the text pieces, sampled_at and the later changes of text_state are made
 * under the store's lock held exclusively (sampled_at is an atomic so that
 * a sampled execution can read it without the lock, to decide whether its
 * description is due: nadia_plan_store_sample_due).  Entries are never removed while
 * the server runs, so a pointer to one stays valid.
 */
typedef struct NadiaPlanEntry
{
	NadiaPlanKey key;
	pg_atomic_uint64 calls;
	pg_atomic_uint64 total_ns;
	pg_atomic_uint64 min_ns;
	pg_atomic_uint64 max_ns;
	pg_atomic_uint64 rows;
	pg_atomic_uint64 shared_blks_hit;
	pg_atomic_uint64 shared_blks_read;
	pg_atomic_uint64 sampled_calls;
	pg_atomic_uint64 first_seen;	/* TimestampTz, 0 = not yet */
	pg_atomic_uint64 last_seen;	/* TimestampTz */
	pg_atomic_uint32 text_state;	/* NadiaPlanTextState */
	pg_atomic_uint64 sampled_at;	/* TimestampTz, 0 when never sampled */
	NadiaPlanText plan_text;
	NadiaPlanText summary;
	NadiaPlanText plan_nodes;
	NadiaPlanText sampled_nodes;
} NadiaPlanEntry;

/* what a reader gets of one entry (nadia_plan_store_visit) */
typedef struct NadiaPlanSnapshot
{
	NadiaPlanKey key;
	NadiaPlanCounters c;
	TimestampTz sampled_at;
	int			text_state;
	NadiaPlanText plan_text;
	NadiaPlanText summary;
	NadiaPlanText plan_nodes;
	NadiaPlanText sampled_nodes;
} NadiaPlanSnapshot;

/* what one execution adds to its entry */
typedef struct NadiaPlanExec
{
	double		time_ms;
	int64		rows;
	int64		shared_blks_hit;
	int64		shared_blks_read;
	bool		sampled;
	TimestampTz now;			/* the statement's start */
} NadiaPlanExec;

/* the texts of a plan, produced the first time it is seen */
typedef struct NadiaPlanTexts
{
	const char *plan_text;
	const char *summary;
	const char *plan_nodes;
} NadiaPlanTexts;

/* plan_store.c */
extern bool nadia_plan_store_ready(void);
extern NadiaPlanEntry *nadia_plan_store_count(const NadiaPlanKey *key,
											  const NadiaPlanExec *exec,
											  bool *produce_texts,
											  double *mean_ms);
extern void nadia_plan_store_texts(NadiaPlanEntry *entry,
								   const NadiaPlanTexts *texts);
extern void nadia_plan_store_text_failed(NadiaPlanEntry *entry, bool retry);
extern void nadia_plan_store_sample(NadiaPlanEntry *entry, const char *json);
extern bool nadia_plan_store_sample_due(NadiaPlanEntry *entry, TimestampTz now);
extern void nadia_plan_store_count_hash(void);

/* plan_store_sql.c needs to walk the store */
typedef struct NadiaPlanStoreInfo
{
	int			entries;
	int			max_entries;
	int64		text_bytes;
	int64		max_text_bytes;
	int64		not_tracked;
	int64		texts_dropped;
	int64		plan_ids_computed;
	TimestampTz created_at;
} NadiaPlanStoreInfo;

typedef void (*NadiaPlanVisitFn) (const NadiaPlanSnapshot *copy,
								  const char *texts, void *arg);
extern void nadia_plan_store_info(NadiaPlanStoreInfo *info);
extern void nadia_plan_store_visit(NadiaPlanVisitFn fn, void *arg);

/* plan_memo.c: the plan id of a plan tree, computed once per tree */
extern HTAB *nadia_plans_local_hash(const char *name, Size keysize,
									 Size entrysize);
extern bool nadia_plan_id_of(PlannedStmt *ps, int64 *planid);
extern bool nadia_plan_is_slow(const NadiaPlanKey *key);
extern void nadia_plan_note_duration(const NadiaPlanKey *key, double mean_ms);

#endif							/* NADIA_PLANS_INTERNAL_H */
