/*-------------------------------------------------------------------------
 *
 * rollup_capture.c
 *		The change-capture trigger of a rollup's source table.
 *
 * nadia_bgw.rollup_capture() runs as a BEFORE ROW trigger for INSERT,
 * UPDATE and DELETE (COPY fires it too) and as a statement trigger for
 * TRUNCATE.  Per row it reads the time column of the old and/or new
 * version and compares it with the rollup's threshold in shared memory:
 *
 *	- at or above it (the hot buckets, where appends land): nothing is
 *	  written; the first such row of a transaction registers the
 *	  transaction's xid with the rollup (one spinlock), later rows cost an
 *	  atomic read and a comparison;
 *	- below it (backfill, late rows, updates and deletes of old rows): one
 *	  row (rollup, time, time) goes into nadia_bgw.rollup_invalidation for
 *	  each bucket a subtransaction touches, inserted straight into the heap
 *	  so the writer needs no privilege on the nadia_bgw schema and pays no
 *	  executor or SPI overhead.
 *
 * TRUNCATE logs (-infinity, infinity): the next refresh recomputes every
 * bucket.  The trigger is named zz_nadia_bgw_... so that it fires after the
 * application's own BEFORE triggers, which may still change the row.
 *
 * Arguments (set by nadia_bgw.create_rollup): rollup id, rollup uid, time
 * column, bucket mode ("local": whole days in the rollup's time zone;
 * "abs": fixed width), bucket width in microseconds, origin in
 * microseconds, time zone.  The bucket arithmetic here only deduplicates
 * log rows; the refresh maps the logged times to buckets in SQL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "nadia_bgw.h"
#include "rollup.h"

PG_FUNCTION_INFO_V1(nadia_bgw_rollup_capture);

/* Parsed trigger arguments (see capture_state). */
typedef struct CaptureState
{
	Oid			relid;			/* relation the attnum belongs to */
	AttrNumber	attnum;
	int32		rollup_id;
	int64		uid;
	bool		local;
	int64		width;
	int64		origin;
	Datum		tz;				/* text */
	int			slot;			/* -1: none (log every row) */
	uint64		incarnation;
} CaptureState;

/*
 * Which (rollup, bucket) pairs the current subtransaction has logged: a
 * log row stays as long as the subtransaction that inserted it, so there
 * is no need to log the same bucket twice within one.
 */
#define DEDUP_SIZE 128
typedef struct DedupEntry
{
	int32		rollup_id;
	int64		bucket;
} DedupEntry;

static LocalTransactionId dedup_lxid = InvalidLocalTransactionId;
static SubTransactionId dedup_subxid = InvalidSubTransactionId;
static int	dedup_n = 0;
static DedupEntry dedup[DEDUP_SIZE];

/* The transaction whose xid is registered, per slot. */
typedef struct Registration
{
	uint64		incarnation;
	TransactionId xid;
	LocalTransactionId lxid;
} Registration;

static Registration registered[NADIA_ROLLUP_SLOTS];

static LocalTransactionId
current_lxid(void)
{
#if PG_VERSION_NUM >= 170000
	return MyProc->vxid.lxid;
#else
	return MyProc->lxid;
#endif
}

/*
 * Parsed arguments per trigger, kept for the life of the backend: a
 * trigger's arguments never change (create_rollup makes a new trigger),
 * and re-parsing them for every single-row INSERT statement would cost
 * the writers more than the capture itself.
 */
#define STATE_CACHE_SIZE 32
static CaptureState *state_cache[STATE_CACHE_SIZE];
static Oid	state_cache_tgoid[STATE_CACHE_SIZE];
static int	state_cache_next = 0;

static CaptureState *
capture_state(FunctionCallInfo fcinfo, TriggerData *trigdata)
{
	CaptureState *st = (CaptureState *) fcinfo->flinfo->fn_extra;
	Trigger    *trig = trigdata->tg_trigger;
	Relation	rel = trigdata->tg_relation;
	int			i;

	if (st != NULL && st->relid == RelationGetRelid(rel))
		return st;

	for (i = 0; i < STATE_CACHE_SIZE; i++)
	{
		if (state_cache[i] != NULL && state_cache_tgoid[i] == trig->tgoid &&
			state_cache[i]->relid == RelationGetRelid(rel))
		{
			st = state_cache[i];
			/* the slot may have been set up since: look again */
			if (st->slot < 0)
				st->slot = rollup_find_slot(st->rollup_id, st->uid, &st->incarnation);
			fcinfo->flinfo->fn_extra = st;
			return st;
		}
	}

	if (trig->tgnargs != 7)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("nadia_bgw.rollup_capture() expects 7 trigger arguments, got %d",
						trig->tgnargs),
				 errhint("Create rollups with nadia_bgw.create_rollup() only.")));

	st = MemoryContextAllocZero(TopMemoryContext, sizeof(CaptureState));
	st->relid = RelationGetRelid(rel);
	st->rollup_id = pg_strtoint32(trig->tgargs[0]);
	st->uid = DatumGetInt64(DirectFunctionCall1(int8in,
												CStringGetDatum(trig->tgargs[1])));
	st->attnum = get_attnum(st->relid, trig->tgargs[2]);
	if (st->attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("time column \"%s\" of rollup %d does not exist in \"%s\"",
						trig->tgargs[2], st->rollup_id,
						RelationGetRelationName(rel))));
	st->local = strcmp(trig->tgargs[3], "local") == 0;
	st->width = DatumGetInt64(DirectFunctionCall1(int8in,
												  CStringGetDatum(trig->tgargs[4])));
	st->origin = DatumGetInt64(DirectFunctionCall1(int8in,
												   CStringGetDatum(trig->tgargs[5])));
	if (st->width <= 0)
		elog(ERROR, "bad bucket width in rollup trigger");
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		st->tz = PointerGetDatum(cstring_to_text(trig->tgargs[6]));
		MemoryContextSwitchTo(old);
	}
	st->slot = rollup_find_slot(st->rollup_id, st->uid, &st->incarnation);

	/* replace round-robin; an evicted state is leaked (a few dozen bytes) */
	state_cache[state_cache_next] = st;
	state_cache_tgoid[state_cache_next] = trig->tgoid;
	state_cache_next = (state_cache_next + 1) % STATE_CACHE_SIZE;
	fcinfo->flinfo->fn_extra = st;
	return st;
}

/* Insert one row into nadia_bgw.rollup_invalidation. */
static void
log_invalidation(int32 rollup_id, TimestampTz lo, TimestampTz hi)
{
	Oid			relid;
	Relation	rel;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	HeapTuple	tup;

	relid = get_relname_relid("rollup_invalidation",
							  get_namespace_oid(NADIA_BGW_SCHEMA, false));
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table nadia_bgw.rollup_invalidation does not exist"),
				 errhint("Recreate the extension, or drop the rollup's triggers.")));
	rel = table_open(relid, RowExclusiveLock);
	if (RelationGetDescr(rel)->natts != 4)
		elog(ERROR, "nadia_bgw.rollup_invalidation has an unexpected layout");
	values[0] = Int32GetDatum(rollup_id);
	values[1] = TimestampTzGetDatum(lo);
	values[2] = TimestampTzGetDatum(hi);
	values[3] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	/* the table has no index by design: nothing else to maintain */
	simple_heap_insert(rel, tup);
	heap_freetuple(tup);
	table_close(rel, NoLock);
}

static int64
floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* A row below the threshold: log its time unless its bucket already is. */
static void
capture_cold(CaptureState *st, TimestampTz t)
{
	int64		bucket;
	int			i;
	LocalTransactionId lxid = current_lxid();
	SubTransactionId subxid = GetCurrentSubTransactionId();

	if (TIMESTAMP_NOT_FINITE(t))
		bucket = (t < 0) ? PG_INT64_MIN : PG_INT64_MAX;
	else if (st->local)
	{
		Timestamp	local = DatumGetTimestamp(DirectFunctionCall2(timestamptz_zone,
																  st->tz,
																  TimestampTzGetDatum(t)));

		bucket = floor_div(local - st->origin, st->width);
	}
	else
		bucket = floor_div(t - st->origin, st->width);

	if (lxid != dedup_lxid || subxid != dedup_subxid)
	{
		dedup_lxid = lxid;
		dedup_subxid = subxid;
		dedup_n = 0;
	}
	for (i = 0; i < dedup_n; i++)
		if (dedup[i].rollup_id == st->rollup_id && dedup[i].bucket == bucket)
			return;

	log_invalidation(st->rollup_id, t, t);
	if (dedup_n < DEDUP_SIZE)
	{
		dedup[dedup_n].rollup_id = st->rollup_id;
		dedup[dedup_n].bucket = bucket;
		dedup_n++;
	}
}

/*
 * A row version with time t was written or removed.  Decide hot or cold;
 * for hot rows make sure the transaction is registered with the slot.
 */
static void
capture_time(CaptureState *st, TimestampTz t)
{
	RollupSlot *s;
	uint64		inc;
	TimestampTz threshold;
	TransactionId xid;
	bool		hot;

	if (st->slot < 0)
	{
		capture_cold(st, t);
		return;
	}
	s = &rollup_shared->slots[st->slot];

	/* fast path: lock-free read, re-checking that the slot did not move */
	inc = pg_atomic_read_u64(&s->incarnation);
	pg_read_barrier();
	threshold = (TimestampTz) pg_atomic_read_u64(&s->threshold);
	pg_read_barrier();
	if (inc != st->incarnation || pg_atomic_read_u64(&s->incarnation) != inc)
	{
		/* the slot changed hands: look again next statement, log now */
		st->slot = rollup_find_slot(st->rollup_id, st->uid, &st->incarnation);
		capture_cold(st, t);
		return;
	}
	if (t < threshold)
	{
		capture_cold(st, t);
		return;
	}
	if (registered[st->slot].incarnation == inc &&
		registered[st->slot].lxid == current_lxid() &&
		TransactionIdIsValid(registered[st->slot].xid) &&
		registered[st->slot].xid == GetTopTransactionIdIfAny())
		return;

	/*
	 * Slow path, once per transaction: register the xid.  The threshold is
	 * read again under the same lock the refresh takes to move it, so a
	 * refresh either sees this registration or this writer sees the new
	 * threshold.
	 */
	xid = GetTopTransactionId();
	SpinLockAcquire(&s->mutex);
	hot = false;
	if (pg_atomic_read_u64(&s->incarnation) == st->incarnation)
	{
		threshold = (TimestampTz) pg_atomic_read_u64(&s->threshold);
		if (t >= threshold)
		{
			RollupEpoch *e = &s->current;

			if (e->id == 0)
			{
				e->id = s->next_epoch_id++;
				e->max_xid = xid;
				e->lowmark = threshold;
				e->first_write = GetCurrentStatementStartTimestamp();
				e->writers = 0;
			}
			else
			{
				if (TransactionIdFollows(xid, e->max_xid))
					e->max_xid = xid;
				e->lowmark = Min(e->lowmark, threshold);
			}
			e->writers++;
			s->hot_registrations++;
			hot = true;
		}
	}
	SpinLockRelease(&s->mutex);

	if (hot)
	{
		registered[st->slot].incarnation = st->incarnation;
		registered[st->slot].xid = xid;
		registered[st->slot].lxid = current_lxid();
	}
	else
		capture_cold(st, t);
}

static void
capture_tuple(CaptureState *st, HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, st->attnum, desc, &isnull);

	/* a row without a time belongs to no bucket */
	if (!isnull)
		capture_time(st, DatumGetTimestampTz(d));
}

Datum
nadia_bgw_rollup_capture(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	CaptureState *st;
	TupleDesc	desc;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("nadia_bgw.rollup_capture() must be called as a trigger")));

	st = capture_state(fcinfo, trigdata);

	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
	{
		log_invalidation(st->rollup_id, DT_NOBEGIN, DT_NOEND);
		return PointerGetDatum(NULL);
	}
	if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("nadia_bgw.rollup_capture() must fire BEFORE ... FOR EACH ROW, or for TRUNCATE")));

	desc = RelationGetDescr(trigdata->tg_relation);
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		capture_tuple(st, trigdata->tg_trigtuple, desc);
		return PointerGetDatum(trigdata->tg_trigtuple);
	}
	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		capture_tuple(st, trigdata->tg_trigtuple, desc);
		return PointerGetDatum(trigdata->tg_trigtuple);
	}
	/* UPDATE: the old version leaves its bucket, the new one enters its own */
	capture_tuple(st, trigdata->tg_trigtuple, desc);
	capture_tuple(st, trigdata->tg_newtuple, desc);
	return PointerGetDatum(trigdata->tg_newtuple);
}
