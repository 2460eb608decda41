/*-------------------------------------------------------------------------
 *
 * rollup_shmem.c
 *		Shared state of the rollup change capture: one slot per rollup with
 *		its invalidation threshold and the epochs of "hot" writers, and the
 *		SQL-callable functions through which a refresh reads and advances
 *		that state (and create_rollup counts the slots left).
 *
 * Why this is safe under MVCC (see docs/rollups.md for the long version):
 *
 *	- Writers compare a row's time with the threshold.  Rows below it are
 *	  logged in nadia_bgw.rollup_invalidation, in the writer's transaction,
 *	  so the log is exactly as transactional as the rows.  Rows at or above
 *	  it are not logged; instead, once per transaction, the writer registers
 *	  its top-level xid in the slot's open epoch (under the slot spinlock,
 *	  reading the threshold under the same lock).
 *	- A refresh closes the open epoch, raises the threshold, and takes a
 *	  snapshot.  A closed epoch whose newest xid precedes that snapshot's
 *	  xmin has no writer left in flight: the refresh's recompute (which runs
 *	  with a later snapshot) sees all of its rows, so the epoch can go --
 *	  but only when the refresh commits (a transaction callback), since
 *	  shared memory does not roll back.  Epochs with writers still in flight
 *	  stay, and every later refresh recomputes their buckets again.
 *	- The persisted threshold (nadia_bgw.rollup.threshold, written by the
 *	  refresh) is never above the lowmark of a kept epoch, so after a
 *	  restart (shared memory lost) a slot is re-created with an epoch that
 *	  covers everything from the persisted threshold and every transaction
 *	  that may still be in flight (prepared ones survive restarts).
 *	- A slot that is unknown to a writer (not yet set up since the server
 *	  started, or the library is not preloaded) makes the writer log every
 *	  row: always correct, only slower.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "rollup/rollup.h"
#include "rollup/rollup_internal.h"

NadiaRollupShared *nadia_rollup_shared = NULL;


/*
 * Epochs a refresh found resolved; removed from the slot when (and only
 * when) the refreshing transaction commits.
 */
typedef struct PendingRemoval
{
	int			slot;
	uint64		incarnation;
	uint64		epoch_id;
	SubTransactionId subxid;
} PendingRemoval;

#define MAX_PENDING (NADIA_ROLLUP_SLOTS * (NADIA_ROLLUP_EPOCHS + 1))
static PendingRemoval pending[MAX_PENDING];
static int	npending = 0;
static bool callbacks_registered = false;

PG_FUNCTION_INFO_V1(nadia_bgw_rollup_hot_begin);
PG_FUNCTION_INFO_V1(nadia_bgw_rollup_hot_state);
PG_FUNCTION_INFO_V1(nadia_bgw_rollup_forget);
PG_FUNCTION_INFO_V1(nadia_bgw_rollup_capture_errors);
PG_FUNCTION_INFO_V1(nadia_bgw_rollup_slot_room);

static Size
rollup_shmem_size(void)
{
	return sizeof(NadiaRollupShared);
}

static void
rollup_shmem_startup(void)
{
	bool		found;

	nadia_rollup_shared = ShmemInitStruct("nadia_bgw_rollup", sizeof(NadiaRollupShared),
									&found);
	if (!found)
	{
		int			i;

		memset(nadia_rollup_shared, 0, sizeof(NadiaRollupShared));
		nadia_rollup_shared->lock =
			&(GetNamedLWLockTranche("nadia_bgw_rollup"))->lock;
		for (i = 0; i < NADIA_ROLLUP_SLOTS; i++)
		{
			NadiaRollupSlot *s = &nadia_rollup_shared->slots[i];

			SpinLockInit(&s->mutex);
			s->dboid = InvalidOid;
			pg_atomic_init_u64(&s->incarnation, 0);
			pg_atomic_init_u64(&s->threshold, (uint64) DT_NOEND);
			pg_atomic_init_u64(&s->capture_errors, 0);
		}
	}
}

/* registered from _PG_init (core/shmem.c) */
const NadiaShmemPart nadia_rollup_shmem = {
	"nadia_bgw_rollup", rollup_shmem_size, 1, rollup_shmem_startup
};

/*
 * The slot of a rollup of this database, or -1 (caller holds the LWLock,
 * in either mode: slots change owner only under it, exclusively).
 */
static int
slot_of(int32 rollup_id, int64 uid)
{
	int			i;

	for (i = 0; i < NADIA_ROLLUP_SLOTS; i++)
	{
		NadiaRollupSlot *s = &nadia_rollup_shared->slots[i];

		if (s->dboid == MyDatabaseId && s->rollup_id == rollup_id &&
			s->uid == uid)
			return i;
	}
	return -1;
}

/*
 * The slot of a rollup of this database, or -1.  Writers call this once
 * per statement; the incarnation they get back lets them notice cheaply
 * that the slot changed hands since.
 */
int
nadia_rollup_find_slot(int32 rollup_id, int64 uid, uint64 *incarnation)
{
	int			found;

	if (nadia_rollup_shared == NULL)
		return -1;
	LWLockAcquire(nadia_rollup_shared->lock, LW_SHARED);
	found = slot_of(rollup_id, uid);
	if (found >= 0)
		*incarnation = pg_atomic_read_u64(&nadia_rollup_shared->slots[found].incarnation);
	LWLockRelease(nadia_rollup_shared->lock);
	return found;
}

static void
merge_oldest_epochs(NadiaRollupSlot *s)
{
	NadiaRollupEpoch *a = &s->closed[0];
	NadiaRollupEpoch *b = &s->closed[1];

	/* the merged epoch gets a new id: a pending removal of "a" or "b" no
	 * longer applies to it, which errs on the safe side */
	if (TransactionIdFollows(b->max_xid, a->max_xid))
		a->max_xid = b->max_xid;
	a->lowmark = Min(a->lowmark, b->lowmark);
	a->first_write = Min(a->first_write, b->first_write);
	a->writers += b->writers;
	a->id = s->next_epoch_id++;
	memmove(&s->closed[1], &s->closed[2],
			sizeof(NadiaRollupEpoch) * (s->nclosed - 2));
	s->nclosed--;
}

/* Append an epoch to the closed list (caller holds the slot mutex). */
static void
close_epoch(NadiaRollupSlot *s, const NadiaRollupEpoch *e)
{
	if (s->nclosed == NADIA_ROLLUP_EPOCHS)
		merge_oldest_epochs(s);
	s->closed[s->nclosed++] = *e;
}

static void
rollup_xact_callback(XactEvent event, void *arg)
{
	int			i;

	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
	{
		for (i = 0; i < npending; i++)
		{
			NadiaRollupSlot *s = &nadia_rollup_shared->slots[pending[i].slot];
			int			j;

			SpinLockAcquire(&s->mutex);
			if (pg_atomic_read_u64(&s->incarnation) == pending[i].incarnation)
			{
				for (j = 0; j < s->nclosed; j++)
				{
					if (s->closed[j].id == pending[i].epoch_id)
					{
						memmove(&s->closed[j], &s->closed[j + 1],
								sizeof(NadiaRollupEpoch) * (s->nclosed - j - 1));
						s->nclosed--;
						break;
					}
				}
			}
			SpinLockRelease(&s->mutex);
		}
		npending = 0;
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
			 event == XACT_EVENT_PREPARE)
		npending = 0;
}

/* A refresh run in a subtransaction that rolls back resolved nothing. */
static void
rollup_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		int			i,
					n = 0;

		for (i = 0; i < npending; i++)
			if (pending[i].subxid < mySubid)
				pending[n++] = pending[i];
		npending = n;
	}
}

/* Set up a slot for a rollup (caller holds the LWLock exclusively). */
static int
assign_slot(int32 rollup_id, int64 uid, TimestampTz persisted,
			TimestampTz new_threshold)
{
	int			i;
	NadiaRollupSlot *s = NULL;
	TransactionId newest;
	TimestampTz now = GetCurrentTimestamp();

	for (i = 0; i < NADIA_ROLLUP_SLOTS; i++)
	{
		if (nadia_rollup_shared->slots[i].dboid == InvalidOid)
		{
			s = &nadia_rollup_shared->slots[i];
			break;
		}
	}
	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many rollups: the server has room for %d",
						NADIA_ROLLUP_SLOTS),
				 errhint("Drop unused rollups with nadia_bgw.drop_rollup(), or restart the server after DROP EXTENSION to free the slots of its rollups.")));

	/*
	 * Every transaction that may be in flight now might have written hot
	 * rows under an earlier life of this slot (before a restart, or before
	 * the library was loaded): cover them all, from the persisted
	 * threshold up.
	 */
	newest = ReadNextTransactionId();
	TransactionIdRetreat(newest);

	SpinLockAcquire(&s->mutex);
	s->dboid = MyDatabaseId;
	s->rollup_id = rollup_id;
	s->uid = uid;
	s->next_epoch_id = 1;
	memset(&s->current, 0, sizeof(NadiaRollupEpoch));
	s->nclosed = 0;
	s->hot_registrations = 0;
	pg_atomic_write_u64(&s->capture_errors, 0);
	if (persisted != DT_NOEND)
	{
		NadiaRollupEpoch e;

		e.id = s->next_epoch_id++;
		e.max_xid = newest;
		e.lowmark = persisted;
		e.first_write = now;
		e.writers = 0;
		s->closed[s->nclosed++] = e;
	}
	pg_atomic_write_u64(&s->threshold, (uint64) new_threshold);
	pg_atomic_fetch_add_u64(&s->incarnation, 1);
	SpinLockRelease(&s->mutex);
	return i;
}

/* The row a function returning a composite type returns. */
static Datum
row_result(FunctionCallInfo fcinfo, Datum *values, bool *nulls)
{
	TupleDesc	tupdesc;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * nadia_bgw._rollup_hot_begin(id, uid, new_threshold, persisted)
 *		-> (hot_from timestamptz, keep_threshold timestamptz)
 *
 * Called by a refresh (holding the rollup's catalog row lock) before it
 * recomputes anything.  Closes the open epoch, raises the threshold to
 * new_threshold, and says from which time on the hot buckets must be
 * recomputed (NULL: they did not change) and which threshold the refresh
 * may persist.  The recompute must run with a snapshot taken after this
 * call (any later statement at READ COMMITTED).
 */
Datum
nadia_bgw_rollup_hot_begin(PG_FUNCTION_ARGS)
{
	int32		rollup_id = PG_GETARG_INT32(0);
	int64		uid = PG_GETARG_INT64(1);
	TimestampTz new_threshold = PG_GETARG_TIMESTAMPTZ(2);
	TimestampTz persisted = PG_ARGISNULL(3) ? DT_NOEND : PG_GETARG_TIMESTAMPTZ(3);
	Datum		values[2];
	bool		nulls[2] = {false, false};
	TimestampTz hot_from = DT_NOEND;
	TimestampTz keep;
	int			idx;
	int			i;
	NadiaRollupSlot *s;
	Snapshot	snap;
	TransactionId myxid;
	uint64		incarnation = 0;
	uint64		resolved[NADIA_ROLLUP_EPOCHS];
	int			nresolved = 0;


	if (nadia_rollup_shared == NULL)
	{
		/*
		 * Not preloaded: writers log every row, so only what an earlier,
		 * preloaded life of the server left unlogged can be pending.
		 */
		nulls[0] = nulls[1] = (persisted == DT_NOEND);
		values[0] = values[1] = TimestampTzGetDatum(persisted);
		return row_result(fcinfo, values, nulls);
	}

	if (!callbacks_registered)
	{
		RegisterXactCallback(rollup_xact_callback, NULL);
		RegisterSubXactCallback(rollup_subxact_callback, NULL);
		callbacks_registered = true;
	}

	LWLockAcquire(nadia_rollup_shared->lock, LW_EXCLUSIVE);
	idx = slot_of(rollup_id, uid);
	if (idx < 0)
		idx = assign_slot(rollup_id, uid, persisted, new_threshold);
	LWLockRelease(nadia_rollup_shared->lock);
	s = &nadia_rollup_shared->slots[idx];

	/* close the open epoch and move the threshold up */
	SpinLockAcquire(&s->mutex);
	incarnation = pg_atomic_read_u64(&s->incarnation);
	if (s->current.id != 0)
	{
		close_epoch(s, &s->current);
		memset(&s->current, 0, sizeof(NadiaRollupEpoch));
	}
	if ((TimestampTz) pg_atomic_read_u64(&s->threshold) < new_threshold)
		pg_atomic_write_u64(&s->threshold, (uint64) new_threshold);
	SpinLockRelease(&s->mutex);

	/*
	 * Every writer of the closed epochs registered before the snapshot is
	 * taken; one whose xid precedes its xmin has ended.
	 */
	snap = GetLatestSnapshot();

	/*
	 * If our own transaction may have written hot rows (refresh_rollup()
	 * called after writes in the same transaction), an epoch that might hold
	 * it must not be resolved here: rows it writes after this refresh would
	 * be covered by nothing.  PostgreSQL 14+ already counts our own xid in
	 * the snapshot's xmin; this check says so explicitly and does not
	 * depend on it.
	 */
	myxid = GetTopTransactionIdIfAny();
	keep = (TimestampTz) pg_atomic_read_u64(&s->threshold);
	SpinLockAcquire(&s->mutex);
	for (i = 0; i < s->nclosed; i++)
	{
		NadiaRollupEpoch *e = &s->closed[i];

		hot_from = Min(hot_from, e->lowmark);
		/* an epoch that cannot be recorded as resolved is simply kept */
		if (nresolved < (int) lengthof(resolved) &&
			TransactionIdPrecedes(e->max_xid, snap->xmin) &&
			!(TransactionIdIsValid(myxid) &&
			  TransactionIdPrecedesOrEquals(myxid, e->max_xid)))
			resolved[nresolved++] = e->id;
		else
			keep = Min(keep, e->lowmark);
	}
	SpinLockRelease(&s->mutex);

	for (i = 0; i < nresolved && npending < MAX_PENDING; i++)
	{
		pending[npending].slot = idx;
		pending[npending].incarnation = incarnation;
		pending[npending].epoch_id = resolved[i];
		pending[npending].subxid = GetCurrentSubTransactionId();
		npending++;
	}

	if (hot_from == DT_NOEND)
		nulls[0] = true;
	else
		values[0] = TimestampTzGetDatum(hot_from);
	values[1] = TimestampTzGetDatum(keep);
	return row_result(fcinfo, values, nulls);
}

/*
 * nadia_bgw._rollup_hot_state(id, uid) -> (threshold, hot_pending,
 * oldest_hot_change, hot_registrations): what nadia_bgw.rollups shows of
 * the shared state.  All NULL when the slot is not set up.
 */
Datum
nadia_bgw_rollup_hot_state(PG_FUNCTION_ARGS)
{
	int32		rollup_id = PG_GETARG_INT32(0);
	int64		uid = PG_GETARG_INT64(1);
	Datum		values[4];
	bool		nulls[4] = {true, true, true, true};
	uint64		incarnation;
	int			idx;


	idx = nadia_rollup_find_slot(rollup_id, uid, &incarnation);
	if (idx >= 0)
	{
		NadiaRollupSlot *s = &nadia_rollup_shared->slots[idx];
		TimestampTz oldest = DT_NOEND;
		int			i;
		int			n = 0;

		SpinLockAcquire(&s->mutex);
		values[0] = TimestampTzGetDatum((TimestampTz) pg_atomic_read_u64(&s->threshold));
		if (s->current.id != 0)
		{
			oldest = s->current.first_write;
			n++;
		}
		for (i = 0; i < s->nclosed; i++)
		{
			oldest = Min(oldest, s->closed[i].first_write);
			n++;
		}
		values[3] = Int64GetDatum(s->hot_registrations);
		SpinLockRelease(&s->mutex);

		nulls[0] = false;
		values[1] = BoolGetDatum(n > 0);
		nulls[1] = false;
		if (oldest != DT_NOEND)
		{
			values[2] = TimestampTzGetDatum(oldest);
			nulls[2] = false;
		}
		nulls[3] = false;
	}
	return row_result(fcinfo, values, nulls);
}

/*
 * nadia_bgw._rollup_forget(id, uid): free a dropped rollup's slot.  Safe
 * even if the drop rolls back: a rollup without a slot has its writers log
 * everything, and the next refresh sets a new slot up conservatively.
 */
Datum
nadia_bgw_rollup_forget(PG_FUNCTION_ARGS)
{
	int32		rollup_id = PG_GETARG_INT32(0);
	int64		uid = PG_GETARG_INT64(1);
	int			idx;

	if (nadia_rollup_shared == NULL)
		PG_RETURN_BOOL(false);
	LWLockAcquire(nadia_rollup_shared->lock, LW_EXCLUSIVE);
	idx = slot_of(rollup_id, uid);
	if (idx >= 0)
	{
		NadiaRollupSlot *s = &nadia_rollup_shared->slots[idx];

		SpinLockAcquire(&s->mutex);
		s->dboid = InvalidOid;
		s->nclosed = 0;
		memset(&s->current, 0, sizeof(NadiaRollupEpoch));
		pg_atomic_write_u64(&s->threshold, (uint64) DT_NOEND);
		pg_atomic_fetch_add_u64(&s->incarnation, 1);
		SpinLockRelease(&s->mutex);
	}
	LWLockRelease(nadia_rollup_shared->lock);
	PG_RETURN_BOOL(idx >= 0);
}

/*
 * nadia_bgw._rollup_capture_errors(id, uid) -> bigint: rows whose capture
 * failed since the slot was set up (each also logged a WARNING in the
 * writer's session, once per transaction).  NULL when the slot is not
 * set up.  Shared memory does not survive a restart; the count is a
 * pointer to the server log, not a ledger.
 */
Datum
nadia_bgw_rollup_capture_errors(PG_FUNCTION_ARGS)
{
	int32		rollup_id = PG_GETARG_INT32(0);
	int64		uid = PG_GETARG_INT64(1);
	uint64		incarnation;
	int			idx;

	idx = nadia_rollup_find_slot(rollup_id, uid, &incarnation);
	if (idx < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64((int64) pg_atomic_read_u64(&nadia_rollup_shared->slots[idx].capture_errors));
}

/*
 * nadia_bgw._rollup_slot_room(ids integer[], uids bigint[]) RETURNS integer
 *
 * How many more rollups the server's shared slots can take (one slot each,
 * NADIA_ROLLUP_SLOTS for the whole cluster, every database together),
 * given the rollups of this database (ids, uids): those holding no slot
 * yet take one at their first refresh.  Without shared memory (library
 * not preloaded) the bound is the slot count itself.
 */
Datum
nadia_bgw_rollup_slot_room(PG_FUNCTION_ARGS)
{
	ArrayType  *ids = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *uids = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *idd;
	Datum	   *uidd;
	int			nid;
	int			nuid;
	int			pending = 0;
	int			free_slots = 0;
	int			i;

	deconstruct_array(ids, INT4OID, sizeof(int32), true, TYPALIGN_INT,
					  &idd, NULL, &nid);
	deconstruct_array(uids, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &uidd, NULL, &nuid);
	if (nid != nuid)
		elog(ERROR, "ids and uids differ in length");
	if (nadia_rollup_shared == NULL)
		PG_RETURN_INT32(NADIA_ROLLUP_SLOTS - nid);
	LWLockAcquire(nadia_rollup_shared->lock, LW_SHARED);
	for (i = 0; i < nid; i++)
		if (slot_of(DatumGetInt32(idd[i]), DatumGetInt64(uidd[i])) < 0)
			pending++;
	for (i = 0; i < NADIA_ROLLUP_SLOTS; i++)
		if (nadia_rollup_shared->slots[i].dboid == InvalidOid)
			free_slots++;
	LWLockRelease(nadia_rollup_shared->lock);
	PG_RETURN_INT32(free_slots - pending);
}
