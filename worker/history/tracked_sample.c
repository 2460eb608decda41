/*-------------------------------------------------------------------------
 *
 * tracked_sample.c
 *		One sample of a tracked source (statements, tables, indexes): read
 *		the objects, find their last-seen values, measure the sizes that
 *		are due, compare; then the changes to the hash (tracked_apply.c),
 *		the history rows (tracked_history.c) and the catalog table.
 *
 * See tracked.h for the design.  The phases run in this order; what each
 * leaves for the next is in NadiaTrackedSample.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "core/core.h"
#include "history/history.h"
#include "history/tracked.h"

/*
 * Sizes are measured again when the object was written since they were
 * last measured, but each object only every SIZE_SPREAD-th sample (spread
 * by its key), so the cost is even from one sample to the next.
 */
#define SIZE_SPREAD		10

/* Room for one more row of a reader, in rows->cxt; its values all NULL. */
NadiaTrackedRow *
nadia_tracked_add(const NadiaHistSource *src, NadiaTrackedRows *rows)
{
	NadiaTrackedRow *r;

	if (rows->n >= rows->max)
	{
		rows->max = Max(256, rows->max * 2);
		rows->rows = rows->rows == NULL ?
			MemoryContextAlloc(rows->cxt, rows->max * sizeof(NadiaTrackedRow)) :
			repalloc(rows->rows, rows->max * sizeof(NadiaTrackedRow));
	}
	r = &rows->rows[rows->n++];
	memset(r, 0, sizeof(*r));
	r->vals = MemoryContextAllocZero(rows->cxt, src->ncols * sizeof(Datum));
	r->nulls = MemoryContextAlloc(rows->cxt, src->ncols * sizeof(bool));
	memset(r->nulls, true, src->ncols * sizeof(bool));
	return r;
}

/*
 * A: find each object's entry, and what the marker says (entries of this
 * database change only under our advisory lock, so the pointers stay
 * valid once the lock is released).
 */
static void
find_entries(NadiaTrackedSample *s)
{
	NadiaTrackedKey	key;
	NadiaTrackedEntry *marker;
	int			i;

	nadia_tracked_lock(LW_SHARED);
	for (i = 0; i < s->rows.n; i++)
	{
		tracked_batch_point(i, LW_SHARED);
		nadia_tracked_key(&key, s->src, &s->rows.rows[i]);
		s->rows.rows[i].entry = hash_search(nadia_tracked_hash, &key, HASH_FIND, NULL);
	}
	nadia_tracked_marker_key(&key, s->src);
	marker = hash_search(nadia_tracked_hash, &key, HASH_FIND, NULL);
	if (marker)
		s->live_before = marker->slot[0];
	s->had_marker = marker != NULL;
	nadia_tracked_unlock();
	for (i = 0; i < s->rows.n; i++)
	{
		NadiaTrackedEntry *e = s->rows.rows[i].entry;

		if (e != NULL && e->dropped_at == 0)
			s->seen_live++;
	}
}

/*
 * Which rows read their lazy columns (sizes) now, and read them: those
 * new, back, rebuilt, or due and in turn (SIZE_SPREAD).
 */
static void
measure_due(NadiaTrackedSample *s)
{
	const NadiaHistSource *src = s->src;
	NadiaSourceMap  *m = s->map;
	int			i,
				c;

	for (i = 0; i < s->rows.n; i++)
	{
		NadiaTrackedRow *r = &s->rows.rows[i];
		NadiaTrackedEntry *e = r->entry;
		bool		due;
		bool		rebuilt = false;

		if (src->measure == NULL)
			continue;
		CHECK_FOR_INTERRUPTS();
		NADIA_DEBUG_OBJECT("measure", src->name, i);
		due = e == NULL || e->size_due || e->dropped_at != 0;
		for (c = 0; c < src->ncols && e; c++)
		{
			int			sl = m->slot_of[c];

			if (sl < 0 || !(src->cols[c].flags & HC_TRIGGER) || r->nulls[c])
				continue;
			if (tracked_slot_null(e, sl) || e->slot[sl] != tracked_to_slot(m->type_of[c], r->vals[c]))
			{
				due = true;
				if (strcmp(src->cols[c].name, "relfilenode") == 0)
					rebuilt = true;
			}
		}
		r->measure = due && (e == NULL || rebuilt || e->dropped_at != 0 ||
							 (hash_uint32((uint32) r->k1) + (uint64) s->sample_id) % SIZE_SPREAD == 0);
		r->still_due = due && !r->measure;
		if (r->measure)
			src->measure(src, &s->rows, i);
	}
}

/*
 * Did a column of the row move since its entry (e) was written?  Sets
 * r->restart when a reset marker moved or a counter went backwards.
 */
static bool
columns_moved(const NadiaTrackedSample *s, NadiaTrackedRow *r, const NadiaTrackedEntry *e)
{
	const NadiaHistSource *src = s->src;
	const NadiaSourceMap *m = s->map;
	bool		changed = false;
	int			c;

	for (c = 0; c < src->ncols; c++)
	{
		int			sl = m->slot_of[c];
		int			flags = src->cols[c].flags;
		Oid			t = m->type_of[c];
		int64		v;

		if (sl < 0 || (flags & HC_LAZY))
			continue;
		if (r->nulls[c] != tracked_slot_null(e, sl))
		{
			if (flags & HC_DETECT)
				changed = true;
			if (flags & HC_RESTART)
				r->restart = true;
			continue;
		}
		if (r->nulls[c])
			continue;
		v = tracked_to_slot(t, r->vals[c]);
		if (v == e->slot[sl])
			continue;
		if (flags & HC_DETECT)
			changed = true;
		if (flags & HC_RESTART)
			r->restart = true;
		if ((flags & HC_DELTA) &&
			(t == FLOAT8OID ? tracked_as_double(t, v) < tracked_as_double(t, e->slot[sl]) : v < e->slot[sl]))
			r->restart = true;
	}
	return changed;
}

/*
 * A new measurement makes a history row only when a size moved: most
 * writes leave a table's size as it was.  (An age moves by itself: no
 * change.)
 */
static bool
sizes_moved(const NadiaTrackedSample *s, const NadiaTrackedRow *r, const NadiaTrackedEntry *e)
{
	const NadiaHistSource *src = s->src;
	const NadiaSourceMap *m = s->map;
	int			c;

	for (c = 0; c < src->ncols; c++)
	{
		int			sl = m->slot_of[c];

		if (sl < 0 || (src->cols[c].flags & (HC_LAZY | HC_AGE)) != HC_LAZY)
			continue;
		if (r->nulls[c] != tracked_slot_null(e, sl) ||
			(!r->nulls[c] && tracked_to_slot(m->type_of[c], r->vals[c]) != e->slot[sl]))
			return true;
	}
	return false;
}

/* B: compare each row with its entry: changed, restarted, catalog changed */
static void
compare_rows(NadiaTrackedSample *s)
{
	const NadiaHistSource *src = s->src;
	int			i;

	for (i = 0; i < s->rows.n; i++)
	{
		NadiaTrackedRow *r = &s->rows.rows[i];
		NadiaTrackedEntry *e = r->entry;
		bool		changed = false;

		CHECK_FOR_INTERRUPTS();
		NADIA_DEBUG_OBJECT("compare", src->name, i);

		if (e == NULL || !s->initialized)
			changed = true;
		else if (e->dropped_at != 0)
		{
			/*
			 * Back after it was gone (an evicted statement entered again):
			 * its counters started over, the delta is the whole value.
			 */
			r->stmt_id = e->stmt_id;
			r->excluded = e->excluded;
			changed = true;
			r->restart = true;
			r->cat_changed = true;
		}
		else
		{
			r->stmt_id = e->stmt_id;
			r->excluded = e->excluded;
			changed = columns_moved(s, r, e);
		}
		if (r->measure && e != NULL && !changed)
			changed = sizes_moved(s, r, e);
		r->changed = changed;
		if (r->restart && s->initialized)
			s->restarted++;
		if (e != NULL && r->cat_hash != e->cat_hash)
			r->cat_changed = true;
		if (e == NULL || !s->initialized)
			r->cat_changed = true;
		if (r->cat_changed && src->catalog_ready && !src->catalog_ready(src, &s->rows, i))
		{
			/* written by a later sample: keep the entry's hash stale */
			r->cat_changed = false;
			r->cat_hash = e ? e->cat_hash : 0;
		}
	}
}

/* keys of rows as an array (tables and indexes: one oid) */
static Datum
key_array(Oid *keys, int n)
{
	Datum	   *d = palloc((n + 1) * sizeof(Datum));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = ObjectIdGetDatum(keys[i]);
	return PointerGetDatum(construct_array(d, n, OIDOID, 4, true, TYPALIGN_INT));
}

/* the events of what the sample could not do, or saw */
static void
report_sample(const NadiaTrackedSample *s)
{
	if (s->not_tracked > 0)
	{
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("nadia_bgw: " INT64_FORMAT " objects of source \"%s\" are not tracked: nadia_bgw.max_tracked_objects (%d) is reached",
						s->not_tracked, s->src->name, nadia_bgw_max_tracked_objects),
				 errdetail("They get no history until there is room."),
				 errhint("Raise nadia_bgw.max_tracked_objects and restart the server.")));
		nadia_record_event(s->sample_id, s->ts, s->src->name, "not_tracked", s->not_tracked,
						   nadia_event_details(NULL, NULL, "max_tracked_objects",
											   nadia_bgw_max_tracked_objects, NULL, NULL));
	}
	if (s->restarted > 0)
		nadia_record_event(s->sample_id, s->ts, s->src->name, "counters_restarted",
						   s->restarted, NULL);
}

/*
 * One sample of a tracked source; returns the number of history rows
 * written, *seen_out the number of objects read.
 */
int64
nadia_sample_tracked_source(const NadiaHistSource *src, TimestampTz ts, int64 sample_id,
							bool initialized, const char *pgss_schema, int64 *seen_out)
{
	NadiaTrackedSample s;
	int64		written = 0;

	memset(&s, 0, sizeof(s));
	s.src = src;
	s.map = nadia_tracked_source_map(src);
	s.ts = ts;
	s.sample_id = sample_id;
	s.initialized = initialized;
	s.has_dictionary = src->dictionary != NULL;

	nadia_tracked_require_shmem(src);
	nadia_tracked_undo_start();

	s.rows.cxt = CurrentMemoryContext;
	src->reader(src, &s.rows, pgss_schema);
	*seen_out = s.rows.n;

	find_entries(&s);
	measure_due(&s);
	compare_rows(&s);

	/*
	 * new statements or plans (every one for a baseline): their dictionary
	 * row (text and stmt_id; plans row and plan_ref)
	 */
	if (s.has_dictionary)
		src->dictionary(src, &s.rows, pgss_schema, ts, !initialized);

	/* C: apply to shared memory (undo-logged) */
	nadia_tracked_apply(&s);
	report_sample(&s);

	/* D: history rows of the changed objects, in one statement */
	if (initialized)
		written = nadia_tracked_write_history(&s);

	/* E: the catalog table (names, definitions; dropped objects) */
	if (src->catalog && (s.n_changed > 0 || s.n_dropped > 0))
		src->catalog(src, ts, key_array(s.changed_keys, s.n_changed),
					 key_array(s.dropped_keys ? s.dropped_keys : s.changed_keys, s.n_dropped));

	if (!initialized)
		nadia_source_initialized(src, ts);
	return written;
}
