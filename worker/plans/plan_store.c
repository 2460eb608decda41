/*-------------------------------------------------------------------------
 *
 * plan_store.c
 *		The shared store of captured plans: a fixed-size hash of entries
 *		with their counters, and a bounded area for their texts.
 *
 * Nothing here raises an error in the executor path: an entry is created
 * with HASH_ENTER_NULL in a hash of fixed size, and when the hash is full
 * the execution is only counted in not_tracked.  Creating an entry or
 * writing texts takes the lock exclusively.
 *
 * Counting an execution takes no lock at all (see "Counting" below).
 * Entries are never removed while the server runs, so once a backend has found an
 * entry its address stays valid for the backend's whole life (a crash
 * restart, which re-creates the store, ends every backend): each backend
 * remembers the entries it found in a local hash (key -> address, at
 * most plan_max of them, allocated without error: when memory is short
 * the entry is simply looked up again), with the last one in front of
 * it.  Only the first execution of a plan in a backend takes the lock
 * (shared) and searches the shared hash.  pg_stat_statements must take
 * its lock shared at every execution because its entries can be
 * evicted; ours cannot, and with several clients that lock's shared
 * counter is the one cache line every backend writes.
 *
 * The text area is filled from its start and never compacted: entries
 * are never removed while the server runs (their counters are cumulative
 * and the "sample" task reads deltas), so nothing would ever be freed.
 * A text that does not fit is dropped (texts_dropped) and its entry keeps
 * counting.  A sample replaces the previous one in place when it fits in
 * the room reserved for it, which is a quarter larger than the first
 * sample so that later ones, whose numbers differ, usually fit too.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "plans/plans_internal.h"

#define PLANS_LOCK_NAME		"nadia_bgw_plans"

typedef struct PlanShared
{
	LWLock	   *lock;
	TimestampTz created_at;
	uint32		text_max;		/* bytes of texts[] */
	uint32		text_used;		/* under lock, exclusive to change */
	pg_atomic_uint64 not_tracked;
	pg_atomic_uint64 texts_dropped;
	pg_atomic_uint64 plan_ids_computed;
	char		texts[FLEXIBLE_ARRAY_MEMBER];
} PlanShared;

static PlanShared *pshared = NULL;
static HTAB *plan_hash = NULL;

/* this backend's addresses of shared entries (see the banner) */
typedef struct KnownEntry
{
	NadiaPlanKey key;
	NadiaPlanEntry *entry;
} KnownEntry;

static HTAB *known = NULL;
static KnownEntry last_known;	/* entry NULL: empty */

static Size
text_area_size(void)
{
	return (Size) nadia_plan_text_max * 1024;
}

static Size
plans_shmem_size(void)
{
	return add_size(MAXALIGN(add_size(offsetof(PlanShared, texts), text_area_size())),
					hash_estimate_size(nadia_plan_max, sizeof(NadiaPlanEntry)));
}

static void
plans_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	pshared = ShmemInitStruct(PLANS_LOCK_NAME,
							  add_size(offsetof(PlanShared, texts), text_area_size()),
							  &found);
	if (!found)
	{
		pshared->lock = &(GetNamedLWLockTranche(PLANS_LOCK_NAME))->lock;
		pshared->created_at = GetCurrentTimestamp();
		pshared->text_max = (uint32) text_area_size();
		pshared->text_used = 0;
		pg_atomic_init_u64(&pshared->not_tracked, 0);
		pg_atomic_init_u64(&pshared->texts_dropped, 0);
		pg_atomic_init_u64(&pshared->plan_ids_computed, 0);
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(NadiaPlanKey);
	info.entrysize = sizeof(NadiaPlanEntry);
	plan_hash = ShmemInitHash("nadia_bgw plans", nadia_plan_max, nadia_plan_max,
							  &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
}

/* registered from _PG_init (core/shmem.c) */
const NadiaShmemPart nadia_plans_shmem = {
	PLANS_LOCK_NAME, plans_shmem_size, 1, plans_shmem_startup
};

/* true when the library was preloaded and the store is attached */
bool
nadia_plan_store_ready(void)
{
	return pshared != NULL && plan_hash != NULL;
}

/* one plan tree hashed (plan_memo.c): what proves "once per plan" */
void
nadia_plan_store_count_hash(void)
{
	if (pshared != NULL)
		pg_atomic_fetch_add_u64(&pshared->plan_ids_computed, 1);
}

/* a new entry, its counters zero; the caller holds the lock exclusively */
static NadiaPlanEntry *
create_entry(const NadiaPlanKey *key)
{
	NadiaPlanEntry *e;
	bool		found;

	e = hash_search(plan_hash, key, HASH_ENTER_NULL, &found);
	if (e != NULL && !found)
	{
		/* everything after the key */
		memset((char *) e + sizeof(NadiaPlanKey), 0,
			   sizeof(NadiaPlanEntry) - sizeof(NadiaPlanKey));
		pg_atomic_init_u64(&e->calls, 0);
		pg_atomic_init_u64(&e->total_ns, 0);
		pg_atomic_init_u64(&e->min_ns, (uint64) PG_INT64_MAX);
		pg_atomic_init_u64(&e->max_ns, 0);
		pg_atomic_init_u64(&e->rows, 0);
		pg_atomic_init_u64(&e->shared_blks_hit, 0);
		pg_atomic_init_u64(&e->shared_blks_read, 0);
		pg_atomic_init_u64(&e->sampled_calls, 0);
		pg_atomic_init_u64(&e->first_seen, (uint64) PG_INT64_MAX);
		pg_atomic_init_u64(&e->last_seen, (uint64) PG_INT64_MIN);
		pg_atomic_init_u32(&e->text_state, NADIA_PLAN_TEXT_NONE);
		pg_atomic_init_u64(&e->sampled_at, 0);
	}
	return e;
}

/* the local hash of known entries, created at the first use */
static HTAB *
known_hash(void)
{
	static bool tried = false;

	if (!tried)
	{
		tried = true;
		known = nadia_plans_local_hash("nadia_bgw known plans",
									   sizeof(NadiaPlanKey), sizeof(KnownEntry));
	}
	return known;
}

/* the address of a shared entry this backend has already found, or NULL */
static NadiaPlanEntry *
known_entry(const NadiaPlanKey *key)
{
	KnownEntry *k;

	if (last_known.entry != NULL &&
		memcmp(&last_known.key, key, sizeof(NadiaPlanKey)) == 0)
		return last_known.entry;
	if (known == NULL)
		return NULL;
	k = hash_search(known, key, HASH_FIND, NULL);
	if (k == NULL)
		return NULL;
	last_known = *k;
	return k->entry;
}

static void
remember_entry(const NadiaPlanKey *key, NadiaPlanEntry *e)
{
	HTAB	   *h = known_hash();
	KnownEntry *k;

	last_known.key = *key;
	last_known.entry = e;
	if (h == NULL)
		return;
	k = hash_search(h, key, HASH_ENTER_NULL, NULL);
	if (k != NULL)
		k->entry = e;
}

/* the entry of key, created when new; NULL when the store is full */
static NadiaPlanEntry *
find_entry(const NadiaPlanKey *key)
{
	NadiaPlanEntry *e;

	LWLockAcquire(pshared->lock, LW_SHARED);
	e = hash_search(plan_hash, key, HASH_FIND, NULL);
	if (e == NULL)
	{
		/* full: no exclusive lock for each execution of an untracked plan */
		if (hash_get_num_entries(plan_hash) >= nadia_plan_max)
		{
			LWLockRelease(pshared->lock);
			return NULL;
		}
		LWLockRelease(pshared->lock);
		LWLockAcquire(pshared->lock, LW_EXCLUSIVE);
		e = create_entry(key);
	}
	LWLockRelease(pshared->lock);
	if (e != NULL)
		remember_entry(key, e);
	return e;
}

/*
 * Lower (raise) an atomic holding an int64 to x when x is lower (higher):
 * a compare-and-swap loop that writes only when the value changes, which
 * for the minimum and maximum of a plan's times is rare once it has run a
 * few times.  Used for times in nanoseconds and for timestamps.
 */
static void
atomic_lower(pg_atomic_uint64 *v, int64 x)
{
	uint64		cur = pg_atomic_read_u64(v);

	while (x < (int64) cur &&
		   !pg_atomic_compare_exchange_u64(v, &cur, (uint64) x))
		;
}

static void
atomic_raise(pg_atomic_uint64 *v, int64 x)
{
	uint64		cur = pg_atomic_read_u64(v);

	while (x > (int64) cur &&
		   !pg_atomic_compare_exchange_u64(v, &cur, (uint64) x))
		;
}

/*
 * Count one execution of a plan.  Returns its entry, or NULL when the
 * store is full (the execution is then counted in not_tracked).  Sets
 * *produce_texts when this backend is the one to produce the plan's
 * texts (then it must end with nadia_plan_store_texts() or
 * nadia_plan_store_text_failed()), and *mean_ms to the plan's mean
 * execution time over all its executions so far.
 *
 * Counting: every counter is an atomic, added to without any lock.  With
 * several backends running one statement (pgbench -S -M prepared, 8
 * clients on 2 cores) every execution counts into the same entry; under a
 * spinlock, a backend preempted while holding it made the others spin
 * until it ran again.  An addition cannot be preempted half-way.  calls
 * is added to last: the atomics' additions are full barriers, so a reader
 * that reads calls first (nadia_plan_store_visit) sees every other counter
 * of those calls -- and possibly part of an execution still being counted,
 * whose call it does not see yet.  Nothing is lost: the next reading has
 * it, and the history drain works on differences of such readings.  Once
 * the executions have ended, every counter is exact.
 */
NadiaPlanEntry *
nadia_plan_store_count(const NadiaPlanKey *key, const NadiaPlanExec *exec,
					   bool *produce_texts, double *mean_ms)
{
	NadiaPlanEntry *e;
	int64		ns;
	uint64		total_ns;
	uint64		calls;

	*produce_texts = false;
	*mean_ms = 0;
	e = known_entry(key);
	if (e == NULL)
		e = find_entry(key);
	if (e == NULL)
	{
		pg_atomic_fetch_add_u64(&pshared->not_tracked, 1);
		return NULL;
	}

	ns = (int64) (Max(exec->time_ms, 0.0) * 1000000.0 + 0.5);
	total_ns = pg_atomic_add_fetch_u64(&e->total_ns, ns);
	atomic_lower(&e->min_ns, ns);
	atomic_raise(&e->max_ns, ns);
	if (exec->rows != 0)
		pg_atomic_fetch_add_u64(&e->rows, exec->rows);
	if (exec->shared_blks_hit != 0)
		pg_atomic_fetch_add_u64(&e->shared_blks_hit, exec->shared_blks_hit);
	if (exec->shared_blks_read != 0)
		pg_atomic_fetch_add_u64(&e->shared_blks_read, exec->shared_blks_read);
	if (exec->sampled)
		pg_atomic_fetch_add_u64(&e->sampled_calls, 1);
	atomic_lower(&e->first_seen, exec->now);
	/* (a long statement ends after a later, shorter one started) */
	atomic_raise(&e->last_seen, exec->now);
	calls = pg_atomic_add_fetch_u64(&e->calls, 1);

	if (pg_atomic_read_u32(&e->text_state) == NADIA_PLAN_TEXT_NONE)
	{
		uint32		expected = NADIA_PLAN_TEXT_NONE;

		*produce_texts = pg_atomic_compare_exchange_u32(&e->text_state, &expected,
														NADIA_PLAN_TEXT_PENDING);
	}
	*mean_ms = (double) total_ns / 1000000.0 / (double) calls;
	return e;
}

/* Room for len bytes in the text area, or false (lock held exclusively). */
static bool
reserve_text(uint32 len, NadiaPlanText *piece)
{
	if (len > pshared->text_max - pshared->text_used)
		return false;
	piece->off = pshared->text_used;
	piece->cap = len;
	pshared->text_used += len;
	return true;
}

static void
put_text(NadiaPlanText *piece, const char *s, uint32 len)
{
	memcpy(pshared->texts + piece->off, s, len);
	piece->len = len;
}

static void
set_text_state(NadiaPlanEntry *e, NadiaPlanTextState state)
{
	pg_atomic_write_u32(&e->text_state, state);
}

/*
 * Store the texts of a plan claimed by nadia_plan_store_count(): all of
 * them or none (texts_dropped).
 */
void
nadia_plan_store_texts(NadiaPlanEntry *entry, const NadiaPlanTexts *texts)
{
	const char *s[3];
	NadiaPlanText *piece[3];
	uint32		len[3];
	uint32		total = 0;
	int			i;

	s[0] = texts->plan_text;
	s[1] = texts->summary;
	s[2] = texts->plan_nodes;
	piece[0] = &entry->plan_text;
	piece[1] = &entry->summary;
	piece[2] = &entry->plan_nodes;
	for (i = 0; i < 3; i++)
	{
		Size		l = s[i] ? strlen(s[i]) : 0;

		/* a text larger than the whole area cannot fit anyway */
		len[i] = (uint32) Min(l, (Size) PG_UINT32_MAX / 4);
		total += len[i];
	}

	LWLockAcquire(pshared->lock, LW_EXCLUSIVE);
	if (total > pshared->text_max - pshared->text_used)
	{
		LWLockRelease(pshared->lock);
		set_text_state(entry, NADIA_PLAN_TEXT_DROPPED);
		pg_atomic_fetch_add_u64(&pshared->texts_dropped, 1);
		return;
	}
	for (i = 0; i < 3; i++)
	{
		reserve_text(len[i], piece[i]);
		put_text(piece[i], s[i], len[i]);
	}
	set_text_state(entry, NADIA_PLAN_TEXT_STORED);
	LWLockRelease(pshared->lock);
}

/*
 * Producing the texts failed: either give the job back (retry, e.g. no
 * transaction to produce them in) or mark it failed for good.
 */
void
nadia_plan_store_text_failed(NadiaPlanEntry *entry, bool retry)
{
	set_text_state(entry, retry ? NADIA_PLAN_TEXT_NONE : NADIA_PLAN_TEXT_FAILED);
}

/*
 * The latest sampled nodes of a plan replace the previous ones: in place
 * when they fit, else in new room; when there is no room left the
 * previous sample stays.
 */
void
nadia_plan_store_sample(NadiaPlanEntry *entry, const char *json)
{
	Size		len = strlen(json);
	TimestampTz now = GetCurrentTimestamp();
	NadiaPlanText piece;

	LWLockAcquire(pshared->lock, LW_EXCLUSIVE);
	piece = entry->sampled_nodes;
	if (piece.cap < len)
	{
		uint32		room = pshared->text_max - pshared->text_used;

		if (len > room ||
			!reserve_text((uint32) Min(len + len / 4, room), &piece))
		{
			LWLockRelease(pshared->lock);
			return;
		}
	}
	put_text(&piece, json, (uint32) len);
	entry->sampled_nodes = piece;
	pg_atomic_write_u64(&entry->sampled_at, (uint64) now);
	LWLockRelease(pshared->lock);
}

/*
 * Whether a sampled execution that started at now should describe its
 * sampled nodes: history keeps only the latest description of a plan
 * (replaced at each drain), so one per plan_sample_refresh is enough --
 * the plan has none yet, or its own is at least that old.  Read without
 * the lock: two backends may both find it due and both describe (the
 * later one replaces the other), which is harmless.  A statement that
 * started before the stored description was made finds it fresh.
 */
bool
nadia_plan_store_sample_due(NadiaPlanEntry *entry, TimestampTz now)
{
	TimestampTz at;

	if (nadia_plan_sample_refresh == 0)
		return true;
	at = (TimestampTz) pg_atomic_read_u64(&entry->sampled_at);
	return at == 0 ||
		now - at >= (int64) nadia_plan_sample_refresh * USECS_PER_SEC;
}

void
nadia_plan_store_info(NadiaPlanStoreInfo *info)
{
	memset(info, 0, sizeof(*info));
	info->max_entries = nadia_plan_max;
	if (!nadia_plan_store_ready())
		return;
	LWLockAcquire(pshared->lock, LW_SHARED);
	info->entries = (int) hash_get_num_entries(plan_hash);
	info->text_bytes = pshared->text_used;
	info->max_text_bytes = pshared->text_max;
	info->created_at = pshared->created_at;
	LWLockRelease(pshared->lock);
	info->not_tracked = (int64) pg_atomic_read_u64(&pshared->not_tracked);
	info->texts_dropped = (int64) pg_atomic_read_u64(&pshared->texts_dropped);
	info->plan_ids_computed = (int64) pg_atomic_read_u64(&pshared->plan_ids_computed);
}

/*
 * Call fn for a copy of each entry (its counters read as described at
 * nadia_plan_store_count) with the text area, under the lock held shared: texts only change under
 * it exclusively.  An error in fn (out of memory) leaves the lock to the
 * abort, which releases it.
 */
void
nadia_plan_store_visit(NadiaPlanVisitFn fn, void *arg)
{
	HASH_SEQ_STATUS seq;
	NadiaPlanEntry *e;

	if (!nadia_plan_store_ready())
		return;
	LWLockAcquire(pshared->lock, LW_SHARED);
	hash_seq_init(&seq, plan_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		NadiaPlanSnapshot copy;

		/* calls first: the rest then holds at least these calls' share */
		copy.c.calls = (int64) pg_atomic_read_u64(&e->calls);
		if (copy.c.calls == 0)
			continue;
		pg_read_barrier();
		copy.key = e->key;
		copy.c.total_time = (double) pg_atomic_read_u64(&e->total_ns) / 1000000.0;
		copy.c.min_time = (double) pg_atomic_read_u64(&e->min_ns) / 1000000.0;
		copy.c.max_time = (double) pg_atomic_read_u64(&e->max_ns) / 1000000.0;
		copy.c.rows = (int64) pg_atomic_read_u64(&e->rows);
		copy.c.shared_blks_hit = (int64) pg_atomic_read_u64(&e->shared_blks_hit);
		copy.c.shared_blks_read = (int64) pg_atomic_read_u64(&e->shared_blks_read);
		copy.c.sampled_calls = (int64) pg_atomic_read_u64(&e->sampled_calls);
		copy.c.first_seen = (TimestampTz) pg_atomic_read_u64(&e->first_seen);
		copy.c.last_seen = (TimestampTz) pg_atomic_read_u64(&e->last_seen);
		/* these change only under the lock held exclusively */
		copy.sampled_at = (TimestampTz) pg_atomic_read_u64(&e->sampled_at);
		copy.text_state = (int) pg_atomic_read_u32(&e->text_state);
		copy.plan_text = e->plan_text;
		copy.summary = e->summary;
		copy.plan_nodes = e->plan_nodes;
		copy.sampled_nodes = e->sampled_nodes;
		fn(&copy, pshared->texts, arg);
	}
	LWLockRelease(pshared->lock);
}
