/*-------------------------------------------------------------------------
 *
 * tracked_undo.c
 *		The undo log of the tracked objects' shared hash: shared memory is
 *		not transactional, history is, so every change made to the hash is
 *		logged (old entry) and undone when the subtransaction or the
 *		transaction that made it aborts.
 *
 * The log is bounded.  A transaction may change every entry of the hash
 * (up to 10 million), and may take many samples; an unbounded log grew in
 * TopMemoryContext (some 400 bytes a record) until its array asked for
 * more than 1 GB and the sample failed.  Past the limit (or when memory
 * runs out) the records are dropped and the transaction only remembers
 * which sources it touched: if it, or any subtransaction of it, then
 * aborts, those sources lose their marker entry, so that their next
 * sample records 'state_lost' and takes a new baseline -- never deltas
 * against values that history does not hold.  A commit loses nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "history/history.h"
#include "history/tracked.h"

#define UNDO_MAX_BYTES	(64 * 1024 * 1024)
#define UNDO_KEEP_RECS	1024	/* kept between transactions */

typedef struct UndoRec
{
	SubTransactionId subid;
	bool		existed;
	NadiaTrackedEntry old;			/* key only when !existed */
} UndoRec;

int			nadia_bgw_debug_tracked_undo_limit = 0;

static MemoryContext undo_cxt = NULL;
static UndoRec *undo = NULL;
static int	n_undo = 0;
static int	max_undo = 0;
static bool undo_overflowed = false;
static uint32 undo_sources = 0;	/* bit per source touched in this transaction */
static bool callbacks_registered = false;

static int
undo_limit(void)
{
	if (nadia_bgw_debug_tracked_undo_limit > 0)
		return nadia_bgw_debug_tracked_undo_limit;
	return UNDO_MAX_BYTES / sizeof(UndoRec);
}

/* give the log's memory back, or keep a small array for the next time */
static void
undo_release(bool keep_small)
{
	n_undo = 0;
	if (undo != NULL && !(keep_small && max_undo <= UNDO_KEEP_RECS))
	{
		pfree(undo);
		undo = NULL;
		max_undo = 0;
	}
}

/* no more records in this transaction; see above */
static void
undo_overflow(void)
{
	if (!undo_overflowed)
		ereport(LOG,
				(errmsg("nadia_bgw: the undo log of tracked objects is full (%d records); "
						"if this transaction aborts, the sources it sampled take a new baseline", n_undo),
				 errhint("Commit samples one at a time.")));
	undo_overflowed = true;
	undo_release(false);
}

/* room for one more record, or false (overflowed) */
static bool
undo_reserve(void)
{
	int			limit = undo_limit();
	int			want;
	UndoRec    *grown;

	if (undo_overflowed)
		return false;
	if (n_undo < max_undo)
		return true;
	if (n_undo >= limit)
	{
		undo_overflow();
		return false;
	}
	if (undo_cxt == NULL)
		undo_cxt = AllocSetContextCreate(TopMemoryContext, "nadia_bgw tracked undo",
										 ALLOCSET_DEFAULT_SIZES);
	want = (int) Min((int64) limit, Max((int64) 64, (int64) max_undo * 2));
	/* out of memory degrades like the limit, not into an ERROR */
	grown = MemoryContextAllocExtended(undo_cxt, (Size) want * sizeof(UndoRec),
									   MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
	if (grown == NULL)
	{
		undo_overflow();
		return false;
	}
	if (undo != NULL)
	{
		memcpy(grown, undo, (Size) n_undo * sizeof(UndoRec));
		pfree(undo);
	}
	undo = grown;
	max_undo = want;
	return true;
}

/*
 * Log the change of one entry: its old content, or (old = NULL) that it
 * did not exist.  The caller holds the hash's lock exclusively.
 */
void
nadia_tracked_undo_push(const NadiaTrackedKey *key, const NadiaTrackedEntry *old)
{
	UndoRec    *u;

	/* key->source < MAX_SOURCES: nadia_tracked_source_map() checked it */
	undo_sources |= ((uint32) 1) << (key->source & ~MARKER_SOURCE);
	if (!undo_reserve())
		return;
	u = &undo[n_undo++];
	u->subid = GetCurrentSubTransactionId();
	u->existed = old != NULL;
	if (old)
		memcpy(&u->old, old, sizeof(NadiaTrackedEntry));
	else
		memcpy(&u->old.key, key, sizeof(NadiaTrackedKey));
}

/*
 * After an abort the log could not cover: every source this transaction
 * touched loses its marker, hence its baseline.
 */
static void
undo_forget_baselines(void)
{
	int			i;

	if (nadia_tracked_hash == NULL)
		return;
	nadia_tracked_lock(LW_EXCLUSIVE);
	for (i = 0; i < nadia_n_delta_sources && i < MAX_SOURCES; i++)
	{
		NadiaTrackedKey	key;

		if (!(undo_sources & (((uint32) 1) << i)))
			continue;
		nadia_tracked_marker_key(&key, &nadia_delta_sources[i]);
		(void) hash_search(nadia_tracked_hash, &key, HASH_REMOVE, NULL);
	}
	nadia_tracked_unlock();
}

/* undo the records from "from" on, newest first */
static void
undo_to(int from)
{
	int			i;

	if (undo_overflowed)
	{
		undo_forget_baselines();
		return;
	}
	if (n_undo <= from || nadia_tracked_hash == NULL)
	{
		n_undo = Min(n_undo, from);
		return;
	}
	nadia_tracked_lock(LW_EXCLUSIVE);
	for (i = n_undo - 1; i >= from; i--)
	{
		UndoRec    *u = &undo[i];

		if (u->existed)
		{
			NadiaTrackedEntry *e = hash_search(nadia_tracked_hash, &u->old.key,
										  HASH_ENTER_NULL, NULL);

			if (e)
				memcpy(e, &u->old, sizeof(NadiaTrackedEntry));
		}
		else
			(void) hash_search(nadia_tracked_hash, &u->old.key, HASH_REMOVE, NULL);
	}
	nadia_tracked_unlock();
	n_undo = from;
}

static void
undo_end_transaction(void)
{
	undo_release(true);
	undo_overflowed = false;
	undo_sources = 0;
}

static void
tracked_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			undo_end_transaction();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			undo_to(0);
			undo_end_transaction();
			break;
		default:
			break;
	}
}

static void
tracked_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	int			from;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	/* subtransaction ids only grow: the aborted one's records are last */
	for (from = n_undo; from > 0 && undo[from - 1].subid >= mySubid; from--)
		;
	undo_to(from);
}

/* Before the first change of the hash in this process: follow transactions. */
void
nadia_tracked_undo_start(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(tracked_xact_callback, NULL);
	RegisterSubXactCallback(tracked_subxact_callback, NULL);
	callbacks_registered = true;
}
