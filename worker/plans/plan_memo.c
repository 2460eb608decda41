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
 * tree address and is recomputed when they differ.
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
static HTAB *slow_plans = NULL;

static void *
memo_alloc(Size size)
{
	return MemoryContextAllocExtended(memo_cxt, size, MCXT_ALLOC_NO_OOM);
}

/* a local hash whose allocations return NULL instead of failing */
static HTAB *
nofail_hash(const char *name, Size keysize, Size entrysize)
{
	HASHCTL		info;

	memset(&info, 0, sizeof(info));
	info.keysize = keysize;
	info.entrysize = entrysize;
	info.alloc = memo_alloc;
	info.hcxt = memo_cxt;
	return hash_create(name, 64, &info,
					   HASH_ELEM | HASH_BLOBS | HASH_ALLOC | HASH_CONTEXT);
}

/*
 * Set up the two hashes at the first use.  Their creation allocates with
 * palloc; an out-of-memory error there is caught without a subtransaction,
 * which is safe because nothing but memory is taken on that path (no lock,
 * no buffer, no catalog access), and it is not retried: plan ids are then
 * computed at each execution.
 */
static bool
memo_ready(void)
{
	static bool init_done = false;

	if (!init_done)
	{
		MemoryContext oldcxt = CurrentMemoryContext;

		init_done = true;
		PG_TRY();
		{
			memo_cxt = AllocSetContextCreate(TopMemoryContext, "nadia_bgw plan ids",
											 ALLOCSET_SMALL_SIZES);
			memo = nofail_hash("nadia_bgw plan ids", sizeof(PlannedStmt *), sizeof(MemoEntry));
			slow_plans = nofail_hash("nadia_bgw slow plans", sizeof(NadiaPlanKey), sizeof(NadiaPlanKey));
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(oldcxt);
			FlushErrorState();
			memo = NULL;
			slow_plans = NULL;
		}
		PG_END_TRY();
	}
	return memo != NULL && slow_plans != NULL;
}

static void
forget_plan(void *arg)
{
	MemoCallback *mcb = (MemoCallback *) arg;

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
	return true;
}

/* true when this backend saw the plan reach plan_sample_min_duration */
bool
nadia_plan_is_slow(const NadiaPlanKey *key)
{
	if (nadia_plan_sample_min_duration < 0 || slow_plans == NULL ||
		hash_get_num_entries(slow_plans) == 0)
		return false;
	return hash_search(slow_plans, key, HASH_FIND, NULL) != NULL;
}

/* remember whether a plan's mean time reaches plan_sample_min_duration */
void
nadia_plan_note_duration(const NadiaPlanKey *key, double mean_ms)
{
	if (slow_plans == NULL)
		return;
	if (nadia_plan_sample_min_duration >= 0 &&
		mean_ms >= nadia_plan_sample_min_duration)
		hash_search(slow_plans, key, HASH_ENTER_NULL, NULL);
	else if (hash_get_num_entries(slow_plans) > 0)
		hash_search(slow_plans, key, HASH_REMOVE, NULL);
}
