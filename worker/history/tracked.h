/*-------------------------------------------------------------------------
 *
 * tracked.h
 *		Internal to the per-object sources of statistics history
 *		(statements, tables, indexes): what their files share.  The rest of
 *		the module sees the engine's entry points in history_internal.h.
 *
 *		tracked_hash.c		the shared hash of last-seen values, its lock
 *		tracked_undo.c		the undo log: the hash follows the transaction
 *		tracked_map.c		a source's columns as slots of an entry
 *		tracked_sample.c	one sample of a source: read, compare
 *		tracked_dict.c		statements: the text dictionary (stmt_id)
 *		tracked_plans.c		plans: the plans table (plan_ref)
 *		tracked_apply.c		one sample's changes to the hash, gone objects
 *		tracked_history.c	one sample's history rows, in one statement
 *		tracked_state.c		nadia_bgw.tracked_state(): the last-seen values
 *
 * How it works, in short.  A source's reader (sampler_readers.c) returns
 * one row per object.  Each row is looked up in a shared hash table keyed
 * by (sampling database, source, object), which holds the cumulative
 * values of the previous sample.  Rows whose detect columns moved get a
 * history row (deltas, minima/maxima, gauges, as the column table of
 * catalog.c says) and their entry is updated; the history rows are
 * inserted with one statement (INSERT ... SELECT FROM unnest(arrays)).
 * Nothing is read from or written to a state table, so the cost of a
 * sample is that of reading the statistics plus writing the changed rows.
 *
 * The hash is sized by nadia_bgw.max_tracked_objects (allocated at server
 * start).  When it is full, objects that do not fit are not tracked: no
 * history for them, a WARNING and a 'not_tracked' event in the sample;
 * nothing else is affected.
 *
 * Shared memory is not transactional, but history is: every change made
 * to the hash is logged (old entry) and undone when the source's
 * subtransaction or the sample's transaction aborts, so the next sample
 * computes its deltas against what history actually holds.  Samples of
 * one database are serialized by the sampler's advisory lock; the LWLock
 * protects the hash itself against samplers of other databases and the
 * readers of nadia_bgw.tracked_state().
 *
 * After a server restart the hash is empty: a per-source marker entry is
 * missing, the sampler records 'state_lost' and takes a new baseline.
 *
 * The .c file that includes this must include postgres.h first.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_TRACKED_H
#define NADIA_TRACKED_H

#include "catalog/pg_type.h"
#include "storage/lwlock.h"
#include "utils/hsearch.h"

#include "history/history_internal.h"

#define TRACK_SLOTS		40		/* numeric state columns per object */
#define MARKER_SOURCE	0x8000	/* key.source bit of a source's marker entry */
#define MAX_SOURCES		8		/* tracked sources: positions in nadia_delta_sources */
#define MAX_COLUMNS		64		/* columns of a tracked source */

/* tracked_hash.c --------------------------------------------------------*/

typedef struct NadiaTrackedKey
{
	Oid			db;				/* database the sample runs in */
	uint16		source;			/* index in nadia_delta_sources (| marker) */
	uint16		extra;			/* statements: toplevel */
	Oid			k2;
	Oid			k3;
	int64		k1;
	int64		k4;				/* plans: planid */
} NadiaTrackedKey;

typedef struct NadiaTrackedEntry
{
	NadiaTrackedKey	key;
	int64		seen;			/* sample id of the last sample that saw it */
	TimestampTz changed_at;
	TimestampTz dropped_at;		/* not seen since (dropped, evicted), or 0 */
	uint32		cat_hash;
	int32		stmt_id;		/* the dictionary row (stmt_id, plan_ref) */
	bool		excluded;
	bool		size_due;		/* written since its sizes were measured */
	uint64		nulls;			/* bit i: slot i is NULL */
	int64		slot[TRACK_SLOTS];	/* float8 values stored bit for bit */
} NadiaTrackedEntry;

/* NULL unless nadia_bgw is in shared_preload_libraries */
extern HTAB *nadia_tracked_hash;

extern void nadia_tracked_require_shmem(const NadiaHistSource *src);
extern void nadia_tracked_lock(LWLockMode mode);
extern void nadia_tracked_unlock(void);
extern void nadia_tracked_yield(LWLockMode mode);
extern void nadia_tracked_key(NadiaTrackedKey *key, const NadiaHistSource *src, const NadiaTrackedRow *r);
extern void nadia_tracked_marker_key(NadiaTrackedKey *key, const NadiaHistSource *src);

/*
 * Loops over many objects with the hash's lock held give it up every
 * TRACK_BATCH objects (see nadia_tracked_yield()): call this with the
 * object's number before handling it.
 */
#define TRACK_BATCH		1024

static inline void
tracked_batch_point(int i, LWLockMode mode)
{
	if (i == 0 || i % TRACK_BATCH != 0)
		return;
	nadia_tracked_yield(mode);
}

/* key.source of a source's entries (without the marker bit) */
static inline uint16
tracked_source_index(const NadiaHistSource *src)
{
	return (uint16) (src - nadia_delta_sources);
}

/* tracked_undo.c --------------------------------------------------------*/

extern void nadia_tracked_undo_start(void);
extern void nadia_tracked_undo_push(const NadiaTrackedKey *key, const NadiaTrackedEntry *old);

/* tracked_map.c ---------------------------------------------------------*/

typedef struct NadiaSourceMap
{
	bool		done;
	int			slot_of[MAX_COLUMNS];	/* column -> slot, or -1 */
	Oid			type_of[MAX_COLUMNS];
	int			nslots;
	int			nhist;
	int			hist_cols[MAX_COLUMNS];
} NadiaSourceMap;

extern NadiaSourceMap *nadia_tracked_source_map(const NadiaHistSource *src);

/*
 * A slot holds any value of a state column in an int64: float8 bit for
 * bit, the other types widened.  Inline: the compare loop converts every
 * column of every object.
 */
static inline int64
tracked_to_slot(Oid type, Datum d)
{
	switch (type)
	{
		case FLOAT8OID:
			{
				double		f = DatumGetFloat8(d);
				int64		v;

				memcpy(&v, &f, sizeof(v));
				return v;
			}
		case INT4OID:
			return DatumGetInt32(d);
		case OIDOID:
			return DatumGetObjectId(d);
		case XIDOID:
			return DatumGetTransactionId(d);
		case BOOLOID:
			return DatumGetBool(d);
		default:
			return DatumGetInt64(d);
	}
}

static inline Datum
tracked_from_slot(Oid type, int64 v)
{
	switch (type)
	{
		case FLOAT8OID:
			{
				double		f;

				memcpy(&f, &v, sizeof(f));
				return Float8GetDatum(f);
			}
		case INT4OID:
			return Int32GetDatum((int32) v);
		case OIDOID:
			return ObjectIdGetDatum((Oid) v);
		case XIDOID:
			return TransactionIdGetDatum((TransactionId) v);
		case BOOLOID:
			return BoolGetDatum(v != 0);
		default:
			return Int64GetDatum(v);
	}
}

static inline double
tracked_as_double(Oid type, int64 v)
{
	double		f;

	if (type != FLOAT8OID)
		return (double) v;
	memcpy(&f, &v, sizeof(f));
	return f;
}

static inline bool
tracked_slot_null(const NadiaTrackedEntry *e, int s)
{
	return (e->nulls & (UINT64CONST(1) << s)) != 0;
}

/* tracked_sample.c, tracked_apply.c, tracked_history.c ------------------*/

/* one sample of one tracked source, as it goes through its phases */
typedef struct NadiaTrackedSample
{
	const NadiaHistSource *src;
	NadiaSourceMap  *map;
	TimestampTz ts;
	int64		sample_id;
	bool		initialized;	/* false: this sample takes a baseline */
	bool		has_dictionary;	/* statements, plans: src->dictionary */
	NadiaTrackedRows rows;			/* what the reader read; entry = the shared
								 * entry, after apply: a copy of its
								 * previous content (NULL: new object) */

	/* what the hash held before this sample */
	bool		had_marker;
	int64		live_before;	/* live objects the marker counted */
	int64		seen_live;		/* of them, read again by this sample */

	/* counts and keys of the changes */
	int64		restarted;
	int64		not_tracked;
	int64		tracked_now;
	Oid		   *changed_keys;	/* catalog changed (tables, indexes) */
	int			n_changed;
	Oid		   *dropped_keys;	/* not seen any more */
	int			n_dropped;
	int			max_dropped;
} NadiaTrackedSample;

extern void nadia_tracked_apply(NadiaTrackedSample *s);
extern int64 nadia_tracked_write_history(NadiaTrackedSample *s);

/* tracked_dict.c --------------------------------------------------------*/

/* (nadia_tracked_dictionary() is in history_internal.h: catalog.c names it) */

/* a row without a (current) dictionary row: new, back after it was gone */
static inline bool
tracked_needs_dictionary(const NadiaTrackedRow *r, bool all)
{
	const NadiaTrackedEntry *e = r->entry;

	return all || e == NULL || e->dropped_at != 0;
}

#endif							/* NADIA_TRACKED_H */
