/*-------------------------------------------------------------------------
 *
 * plan_memo.c
 *		The plan id of a plan tree, computed once per tree: a backend-local
 *		memo keyed by the PlannedStmt's address; and the backend's set of
 *		"slow" plans, sampled at every execution.
 *
 * A prepared statement or any other cached plan is executed many times
 * with the same PlannedStmt: its id is computed at its first execution
 * and looked up afterwards.  An address can be reused once the plan's
 * memory is freed, so each memo entry registers a reset callback on the
 * memory context that holds the PlannedStmt (GetMemoryChunkContext):
 * when that context is reset or deleted -- the only way PostgreSQL frees
 * a plan -- the entry goes with it, before the address can be reused.
 * As a second guard the entry also remembers the plan's queryId and plan
 * tree address and is recomputed when they differ.  The last plan looked
 * up is kept in front of the hash (a prepared statement run in a loop
 * finds its id without hashing); the same callback empties it.
 *
 * A plan of the simple query protocol lives in MessageContext, which is
 * reset after each message: it runs once, so its id is computed and not
 * remembered -- remembering it would only add a hash insertion, a
 * callback and a hash removal to every simple-protocol execution.  Such a
 * plan is still hashed once (its only execution).
 *
 * Nothing here may fail for the application: both hashes allocate with
 * MCXT_ALLOC_NO_OOM and are searched with HASH_ENTER_NULL, and the
 * callback is allocated the same way.  When memory is short the id is
 * simply computed again next time (plan_ids_computed shows it).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "plans/plans_internal.h"
#include "plans/plan_describe.h"

typedef struct MemoEntry
{
	PlannedStmt *ps;			/* key */
	int64		queryid;
	Plan	   *plan;
	int64		planid;
} MemoEntry;

/* the callback that forgets a plan when its memory goes */
typedef struct MemoCallback
{
	MemoryContextCallback cb;
	PlannedStmt *ps;
} MemoCallback;

static MemoryContext memo_cxt = NULL;
static HTAB *memo = NULL;
static MemoEntry last;			/* last.ps NULL: empty */
static HTAB *slow_plans = NULL;
static int	n_slow = 0;			/* entries of slow_plans */

static void *
memo_alloc(Size size)
{
	return MemoryContextAllocExtended(memo_cxt, size, MCXT_ALLOC_NO_OOM);
}

/*
 * A backend-local hash of the capture whose allocations return NULL
 * instead of failing (search it with HASH_ENTER_NULL); NULL when it
 * cannot be created.  Its creation allocates with palloc; an
 * out-of-memory error there is caught without a subtransaction, which is
 * safe because nothing but memory is taken on that path (no lock, no
 * buffer, no catalog access).  The callers do not retry: they then do
 * without (plan ids computed at each execution, shared entries searched
 * at each execution).
 */
HTAB *
nadia_plans_local_hash(const char *name, Size keysize, Size entrysize)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	HTAB	   *volatile h = NULL;

	PG_TRY();
	{
		HASHCTL		info;

		if (memo_cxt == NULL)
			memo_cxt = AllocSetContextCreate(TopMemoryContext, "nadia_bgw plan capture",
											 ALLOCSET_SMALL_SIZES);
		memset(&info, 0, sizeof(info));
		info.keysize = keysize;
		info.entrysize = entrysize;
		info.alloc = memo_alloc;
		info.hcxt = memo_cxt;
		h = hash_create(name, 64, &info,
						HASH_ELEM | HASH_BLOBS | HASH_ALLOC | HASH_CONTEXT);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		FlushErrorState();
		h = NULL;
	}
	PG_END_TRY();
	return h;
}

/* set up the two hashes at the first use */
static bool
memo_ready(void)
{
	static bool init_done = false;

	if (!init_done)
	{
		init_done = true;
		memo = nadia_plans_local_hash("nadia_bgw plan ids", sizeof(PlannedStmt *), sizeof(MemoEntry));
		slow_plans = nadia_plans_local_hash("nadia_bgw slow plans", sizeof(NadiaPlanKey), sizeof(NadiaPlanKey));
	}
	return memo != NULL && slow_plans != NULL;
}

static void
forget_plan(void *arg)
{
	MemoCallback *mcb = (MemoCallback *) arg;

	if (last.ps == mcb->ps)
		last.ps = NULL;
	if (memo != NULL)
		hash_search(memo, &mcb->ps, HASH_REMOVE, NULL);
}

static int64
compute_id(PlannedStmt *ps)
{
	nadia_plan_store_count_hash();
	return (int64) nadia_plan_id(ps);
}

/*
 * The plan id of ps into *planid; false when it cannot be had without
 * risking an error.
 */
bool
nadia_plan_id_of(PlannedStmt *ps, int64 *planid)
{
	MemoEntry  *m;
	bool		found;

	if (last.ps == ps && last.queryid == (int64) ps->queryId &&
		last.plan == ps->planTree)
	{
		*planid = last.planid;
		return true;
	}
	if (GetMemoryChunkContext(ps) == MessageContext)
	{
		*planid = compute_id(ps);
		return true;
	}
	if (!memo_ready())
		return false;
	m = hash_search(memo, &ps, HASH_ENTER_NULL, &found);
	if (m == NULL)
	{
		*planid = compute_id(ps);
		return true;
	}
	if (found && m->queryid == (int64) ps->queryId && m->plan == ps->planTree)
	{
		*planid = m->planid;
		last = *m;
		return true;
	}
	/* new, or a reused address: (re)compute, and watch this context */
	m->queryid = (int64) ps->queryId;
	m->plan = ps->planTree;
	m->planid = compute_id(ps);
	*planid = m->planid;
	{
		MemoCallback *mcb;

		mcb = MemoryContextAllocExtended(GetMemoryChunkContext(ps),
										 sizeof(MemoCallback), MCXT_ALLOC_NO_OOM);
		if (mcb == NULL)
		{
			/* unsafe to keep without the callback */
			hash_search(memo, &ps, HASH_REMOVE, NULL);
			return true;
		}
		mcb->ps = ps;
		mcb->cb.func = forget_plan;
		mcb->cb.arg = mcb;
		MemoryContextRegisterResetCallback(GetMemoryChunkContext(ps), &mcb->cb);
	}
	last = *m;
	return true;
}

/* true when this backend saw the plan reach plan_sample_min_duration */
bool
nadia_plan_is_slow(const NadiaPlanKey *key)
{
	/* (n_slow: no hash to search in the usual case, no slow plan at all) */
	if (nadia_plan_sample_min_duration < 0 || n_slow == 0)
		return false;
	return hash_search(slow_plans, key, HASH_FIND, NULL) != NULL;
}

/* remember whether a plan's mean time reaches plan_sample_min_duration */
void
nadia_plan_note_duration(const NadiaPlanKey *key, double mean_ms)
{
	bool		found;

	if (nadia_plan_sample_min_duration >= 0 &&
		mean_ms >= nadia_plan_sample_min_duration)
	{
		if (memo_ready() &&
			hash_search(slow_plans, key, HASH_ENTER_NULL, &found) != NULL &&
			!found)
			n_slow++;
	}
	else if (n_slow > 0)
	{
		hash_search(slow_plans, key, HASH_REMOVE, &found);
		if (found)
			n_slow--;
	}
}
