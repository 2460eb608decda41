/*-------------------------------------------------------------------------
 *
 * tracked_hash.c
 *		The shared hash of the tracked objects' last-seen values: its
 *		shared memory, its lock (and how a long loop shares it), its keys.
 *
 * See tracked.h for how the tracked sources use it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/hsearch.h"

#include "core/core.h"
#include "history/history.h"
#include "history/tracked.h"

#define TRACK_LOCK_NAME	"nadia_bgw_sampler"

int			nadia_bgw_max_tracked_objects = 20000;

typedef struct TrackedShared
{
	LWLock	   *lock;
	pg_atomic_uint32 waiting;	/* backends blocked in nadia_tracked_lock() */
} TrackedShared;

static TrackedShared *tshared = NULL;
HTAB	   *nadia_tracked_hash = NULL;

static Size
tracked_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(TrackedShared)),
					hash_estimate_size(nadia_bgw_max_tracked_objects, sizeof(NadiaTrackedEntry)));
}

static void
tracked_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	tshared = ShmemInitStruct(TRACK_LOCK_NAME, sizeof(TrackedShared), &found);
	if (!found)
	{
		tshared->lock = &(GetNamedLWLockTranche(TRACK_LOCK_NAME))->lock;
		pg_atomic_init_u32(&tshared->waiting, 0);
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(NadiaTrackedKey);
	info.entrysize = sizeof(NadiaTrackedEntry);
	nadia_tracked_hash = ShmemInitHash("nadia_bgw tracked objects",
									   nadia_bgw_max_tracked_objects,
									   nadia_bgw_max_tracked_objects,
									   &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
}

/* registered from _PG_init (core/shmem.c) */
const NadiaShmemPart nadia_tracked_shmem = {
	TRACK_LOCK_NAME, tracked_shmem_size, 1, tracked_shmem_startup
};

void
nadia_tracked_require_shmem(const NadiaHistSource *src)
{
	if (nadia_tracked_hash == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" needs nadia_bgw in shared_preload_libraries", src->name),
				 errhint("Its last-seen values are kept in shared memory.")));
}

/*
 * Take the hash's lock, counted in tshared->waiting while blocked: an
 * LWLock is not fair (a process that releases it and takes it again at
 * once wins over those it woke), so a sampler working through its batches
 * looks at the count to let them in -- see nadia_tracked_yield().
 */
void
nadia_tracked_lock(LWLockMode mode)
{
	if (LWLockConditionalAcquire(tshared->lock, mode))
		return;
	pg_atomic_fetch_add_u32(&tshared->waiting, 1);
	LWLockAcquire(tshared->lock, mode);
	pg_atomic_fetch_sub_u32(&tshared->waiting, 1);
}

void
nadia_tracked_unlock(void)
{
	LWLockRelease(tshared->lock);
}

/*
 * The hash holds every database's objects.  A whole-hash scan reads under
 * the shared lock (samplers of other databases wait only for the read,
 * readers of tracked_state() not at all) and returns this database's
 * entries of the source; changes are then made in batches of TRACK_BATCH
 * under the exclusive lock, with an interrupt check between batches.
 * Entries of one database and source are only ever changed or removed by
 * a sample of that database, and those are serialized by the sampler's
 * advisory lock, so the pointers stay valid while the lock is released.
 *
 * Between batches (tracked_batch_point()): take interrupts, and let the
 * others in.  Taking the lock again at once would win over the processes
 * the release woke (an LWLock is not fair) and shut them out until the
 * last batch; so wait until those blocked on it have had it, for a few
 * milliseconds at most.
 */
#define BATCH_YIELD_TRIES	200		/* of 50 us */

void
nadia_tracked_yield(LWLockMode mode)
{
	int			tries;

	LWLockRelease(tshared->lock);
	CHECK_FOR_INTERRUPTS();
	for (tries = 0; tries < BATCH_YIELD_TRIES &&
		 pg_atomic_read_u32(&tshared->waiting) > 0; tries++)
		pg_usleep(50L);
	LWLockAcquire(tshared->lock, mode);
}

/* the key of an object's entry (r), or of no object (r = NULL) */
void
nadia_tracked_key(NadiaTrackedKey *key, const NadiaHistSource *src, const NadiaTrackedRow *r)
{
	memset(key, 0, sizeof(*key));
	key->db = MyDatabaseId;
	key->source = tracked_source_index(src);
	if (r)
	{
		key->extra = r->extra;
		key->k1 = r->k1;
		key->k2 = r->k2;
		key->k3 = r->k3;
		key->k4 = r->k4;
	}
}

/* the key of the source's marker entry: its baseline, its counts */
void
nadia_tracked_marker_key(NadiaTrackedKey *key, const NadiaHistSource *src)
{
	nadia_tracked_key(key, src, NULL);
	key->source |= MARKER_SOURCE;
}

/* Does the source have a baseline in shared memory (its marker entry)? */
bool
nadia_tracked_has_baseline(const NadiaHistSource *src)
{
	NadiaTrackedKey	key;
	bool		found;

	if (nadia_tracked_hash == NULL)
		return false;
	nadia_tracked_marker_key(&key, src);
	nadia_tracked_lock(LW_SHARED);
	(void) hash_search(nadia_tracked_hash, &key, HASH_FIND, &found);
	nadia_tracked_unlock();
	return found;
}

/*
 * The tracked sources' settings: the size of the hash, and the undo log's
 * bound of the test build (tracked_undo.c).
 */
void
nadia_tracked_define_gucs(void)
{
	/* sizes shared memory, so only when preloading */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("nadia_bgw.max_tracked_objects",
								"Statements, tables and indexes whose last-seen statistics the sampler keeps in shared memory.",
								"Objects beyond it get no history (a WARNING and a not_tracked event say so). Set at server start.",
								&nadia_bgw_max_tracked_objects,
								20000, 100, 10000000,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
#ifdef NADIA_TEST
	DefineCustomIntVariable("nadia_bgw.debug_tracked_undo_limit",
							"Testing only: records of the tracked objects' undo log per transaction (0: 64 MB worth).",
							"Past it an abort makes the sources take a new baseline instead of undoing.",
							&nadia_bgw_debug_tracked_undo_limit,
							0, 0, INT_MAX,
							PGC_SUSET, GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);
#endif
}
