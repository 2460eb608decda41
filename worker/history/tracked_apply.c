/*-------------------------------------------------------------------------
 *
 * tracked_apply.c
 *		One sample's changes to the tracked objects' shared hash: the new
 *		content of the entries of changed objects, the source's marker, the
 *		objects not seen any more (marked dropped, then forgotten).  Every
 *		change is undo-logged (tracked_undo.c).
 *
 * All of it runs under the hash's exclusive lock, given up between
 * batches (tracked_batch_point()); a whole-hash scan runs under the
 * shared lock instead.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "history/history.h"
#include "history/tracked.h"

/*
 * This database's entries of the source that this sample has not seen
 * (seen != sample_id): all of them, or only those marked gone.  Called
 * without the lock.
 */
static NadiaTrackedEntry **
collect_unseen(const NadiaHistSource *src, int64 sample_id, bool only_gone, int *n_out)
{
	HASH_SEQ_STATUS hs;
	NadiaTrackedEntry *e;
	NadiaTrackedEntry **out;
	int			n = 0,
				max = 64;
	int64		n_visited = 0;

	out = palloc(max * sizeof(NadiaTrackedEntry *));
	nadia_tracked_lock(LW_SHARED);
	hash_seq_init(&hs, nadia_tracked_hash);
	while ((e = hash_seq_search(&hs)) != NULL)
	{
		/* every entry, of every database: what the scan costs */
		NADIA_DEBUG_OBJECT("scan", src->name, n_visited++);
		if (e->key.db != MyDatabaseId ||
			e->key.source != tracked_source_index(src) ||
			e->seen == sample_id ||
			(only_gone && e->dropped_at == 0))
			continue;
		if (n >= max)
		{
			max *= 2;
			out = repalloc_huge(out, (Size) max * sizeof(NadiaTrackedEntry *));
		}
		out[n++] = e;
	}
	nadia_tracked_unlock();
	*n_out = n;
	return out;
}

/*
 * Forget every object of a source that is marked gone, except those this
 * sample saw again (seen = sample_id).  Called and returns with the lock
 * held exclusively, released in between.
 */
static void
forget_dropped(const NadiaHistSource *src, int64 sample_id)
{
	NadiaTrackedEntry **gone;
	int			n,
				i;

	nadia_tracked_unlock();
	gone = collect_unseen(src, sample_id, true, &n);
	nadia_tracked_lock(LW_EXCLUSIVE);
	for (i = 0; i < n; i++)
	{
		NadiaTrackedKey	key;

		tracked_batch_point(i, LW_EXCLUSIVE);
		NADIA_DEBUG_OBJECT("forget", src->name, i);
		memcpy(&key, &gone[i]->key, sizeof(key));
		nadia_tracked_undo_push(&key, gone[i]);
		(void) hash_search(nadia_tracked_hash, &key, HASH_REMOVE, NULL);
	}
	pfree(gone);
}

/*
 * Objects this sample read keep their entry (one back after it was gone
 * included): forget_dropped() must not free it under them.  "seen" is
 * bookkeeping of this sample only, never undone.
 */
static void
mark_seen(NadiaTrackedSample *s)
{
	int			i;

	for (i = 0; i < s->rows.n; i++)
	{
		NadiaTrackedRow *r = &s->rows.rows[i];

		tracked_batch_point(i, LW_EXCLUSIVE);
		NADIA_DEBUG_OBJECT("seen", s->src->name, i);
		if (!r->skip && r->entry != NULL)
			((NadiaTrackedEntry *) r->entry)->seen = s->sample_id;
	}
}

/*
 * The source's marker says it has a baseline: it gets room first, if
 * need be by forgetting the objects gone from the source (*forgot_all).
 */
static NadiaTrackedEntry *
enter_marker(NadiaTrackedSample *s, bool *forgot_all)
{
	NadiaTrackedKey	key;
	NadiaTrackedEntry *marker;

	nadia_tracked_marker_key(&key, s->src);
	marker = hash_search(nadia_tracked_hash, &key, HASH_FIND, NULL);
	if (marker != NULL)
	{
		nadia_tracked_undo_push(&key, marker);
		return marker;
	}
	marker = hash_search(nadia_tracked_hash, &key, HASH_ENTER_NULL, NULL);
	if (marker == NULL)
	{
		forget_dropped(s->src, s->sample_id);
		*forgot_all = true;
		marker = hash_search(nadia_tracked_hash, &key, HASH_ENTER_NULL, NULL);
	}
	if (marker == NULL)
	{
		nadia_tracked_unlock();
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("nadia_bgw: no room to track source \"%s\"", s->src->name),
				 errhint("Raise nadia_bgw.max_tracked_objects (currently %d) and restart the server.",
						 nadia_bgw_max_tracked_objects)));
	}
	nadia_tracked_undo_push(&key, NULL);
	memset(marker, 0, sizeof(NadiaTrackedEntry));
	memcpy(&marker->key, &key, sizeof(key));
	return marker;
}

/* the new content of a row's entry (e: its current one, or NULL) */
static void
build_entry(const NadiaTrackedSample *s, const NadiaTrackedRow *r, const NadiaTrackedEntry *e,
			NadiaTrackedEntry *next)
{
	const NadiaHistSource *src = s->src;
	const NadiaSourceMap *m = s->map;
	int			c;

	if (e)
		memcpy(next, e, sizeof(*next));
	else
	{
		memset(next, 0, sizeof(*next));
		next->nulls = ~UINT64CONST(0);
	}
	nadia_tracked_key(&next->key, src, r);
	next->seen = s->sample_id;
	next->dropped_at = 0;
	next->cat_hash = r->cat_hash;
	if (r->changed)
		next->changed_at = s->ts;
	if (s->has_dictionary)
	{
		next->stmt_id = r->stmt_id;
		next->excluded = r->excluded;
	}
	next->size_due = r->still_due;
	for (c = 0; c < src->ncols; c++)
	{
		int			sl = m->slot_of[c];

		if (sl < 0)
			continue;
		if ((src->cols[c].flags & HC_LAZY) && !r->measure)
			continue;			/* keeps the previous measurement */
		if (r->nulls[c])
			next->nulls |= (UINT64CONST(1) << sl);
		else
		{
			next->nulls &= ~(UINT64CONST(1) << sl);
			next->slot[sl] = tracked_to_slot(m->type_of[c], r->vals[c]);
		}
	}
}

/*
 * Write the rows that changed into their entries (new objects get one if
 * there is room, else they stay untracked); r->entry then points to a copy
 * of the previous content, for the history rows.
 */
static void
apply_rows(NadiaTrackedSample *s, bool *forgot_all)
{
	NadiaTrackedEntry next;
	int			i;

	for (i = 0; i < s->rows.n; i++)
	{
		NadiaTrackedRow *r = &s->rows.rows[i];
		NadiaTrackedEntry *e = r->entry;

		tracked_batch_point(i, LW_EXCLUSIVE);
		NADIA_DEBUG_OBJECT("apply", s->src->name, i);
		if (r->skip)
			continue;
		if (e != NULL && !r->changed && !r->cat_changed && !r->measure)
		{
			e->seen = s->sample_id;
			s->tracked_now++;
			continue;
		}
		build_entry(s, r, e, &next);
		if (e == NULL)
		{
			bool		found;

			e = hash_search(nadia_tracked_hash, &next.key, HASH_ENTER_NULL, &found);
			if (e == NULL && !*forgot_all)
			{
				/* full: forget the objects gone from this source, try again */
				forget_dropped(s->src, s->sample_id);
				*forgot_all = true;
				e = hash_search(nadia_tracked_hash, &next.key, HASH_ENTER_NULL, &found);
			}
			if (e == NULL)
			{
				r->skip = true;
				s->not_tracked++;
				continue;
			}
			nadia_tracked_undo_push(&next.key, NULL);
		}
		else
			nadia_tracked_undo_push(&next.key, e);
		/* keep the previous values for the history rows */
		if (r->entry)
		{
			NadiaTrackedEntry *prev = palloc(sizeof(NadiaTrackedEntry));

			memcpy(prev, e, sizeof(NadiaTrackedEntry));
			r->entry = prev;
		}
		memcpy(e, &next, sizeof(NadiaTrackedEntry));
		s->tracked_now++;
		if (r->cat_changed && s->src->catalog != NULL)
			s->changed_keys[s->n_changed++] = (Oid) r->k1;
	}
}

static void
add_dropped_key(NadiaTrackedSample *s, Oid key)
{
	if (s->dropped_keys == NULL)
	{
		s->max_dropped = 64;
		s->dropped_keys = palloc(s->max_dropped * sizeof(Oid));
	}
	else if (s->n_dropped >= s->max_dropped)
	{
		s->max_dropped *= 2;
		s->dropped_keys = repalloc_huge(s->dropped_keys, (Size) s->max_dropped * sizeof(Oid));
	}
	s->dropped_keys[s->n_dropped++] = key;
}

/*
 * Objects not seen any more (dropped tables, evicted statements) are
 * marked dropped: an evicted statement that comes back is a restart, not
 * a new object.  They are forgotten after nadia_bgw.raw_retention (at
 * once when the hash is full).  Returns how many are marked gone.
 */
static int64
mark_gone(NadiaTrackedSample *s)
{
	NadiaTrackedEntry **unseen;
	int			n_unseen,
				j;
	int64		n_gone = 0;
	TimestampTz forget_before = s->not_tracked > 0 ? DT_NOEND :
		s->ts - (int64) nadia_bgw_raw_retention * USECS_PER_MINUTE;

	nadia_tracked_unlock();
	unseen = collect_unseen(s->src, s->sample_id, false, &n_unseen);
	nadia_tracked_lock(LW_EXCLUSIVE);
	for (j = 0; j < n_unseen; j++)
	{
		NadiaTrackedEntry *e = unseen[j];

		tracked_batch_point(j, LW_EXCLUSIVE);
		NADIA_DEBUG_OBJECT("gone", s->src->name, j);
		if (e->dropped_at == 0)
		{
			add_dropped_key(s, (Oid) e->key.k1);
			nadia_tracked_undo_push(&e->key, e);
			e->dropped_at = s->ts;
			n_gone++;
		}
		else if (e->dropped_at < forget_before)
		{
			NadiaTrackedKey	gone_key;

			memcpy(&gone_key, &e->key, sizeof(gone_key));
			nadia_tracked_undo_push(&gone_key, e);
			(void) hash_search(nadia_tracked_hash, &gone_key, HASH_REMOVE, NULL);
		}
		else
			n_gone++;
	}
	pfree(unseen);
	return n_gone;
}

/*
 * C: apply the sample to the hash, under its exclusive lock.  Fills
 * s->tracked_now, s->not_tracked and the keys whose catalog entry changed
 * or that were dropped.
 */
void
nadia_tracked_apply(NadiaTrackedSample *s)
{
	NadiaTrackedEntry *marker;
	bool		forgot_all = false;

	s->changed_keys = palloc((s->rows.n + 1) * sizeof(Oid));
	s->dropped_keys = NULL;
	nadia_tracked_lock(LW_EXCLUSIVE);
	mark_seen(s);
	marker = enter_marker(s, &forgot_all);
	apply_rows(s, &forgot_all);

	/*
	 * The marker counts the live objects (slot 0), the gone ones (slot 1)
	 * and when they were last looked for (slot 2), so the hash is scanned
	 * only when some were not seen, or to forget.  (The marker's entry
	 * cannot move while the lock is released in mark_gone(): only a
	 * sample of this database changes it.)
	 */
	if (!s->had_marker || s->seen_live < s->live_before ||
		(marker->slot[1] > 0 &&
		 (s->not_tracked > 0 || s->ts - marker->slot[2] >= USECS_PER_HOUR)))
	{
		marker->slot[1] = mark_gone(s);
		marker->slot[2] = s->ts;
	}
	marker->slot[0] = s->tracked_now;
	marker->seen = s->sample_id;
	nadia_tracked_unlock();
}
