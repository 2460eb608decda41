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
 * application's own BEFORE triggers, which may still change the row, and
 * is ENABLE ALWAYS so that it fires under session_replication_role =
 * replica too (logical-replication subscribers, restores).
 *
 * This trigger never makes an application write fail (docs/security.md,
 * section 4).  Whatever it cannot make sense of -- arguments it cannot
 * parse, a time column that is gone or has another type, a log table that
 * is not the shape it inserts into -- it reports with a WARNING (once per
 * transaction), logs (-infinity, infinity) when it can so that the next
 * refresh recomputes everything instead of trusting what it missed, counts
 * the failure in the rollup's shared slot (nadia_bgw.rollups shows it), and
 * lets the row through.
 *
 * Arguments (set by nadia_bgw._rollup_install_capture): rollup id, rollup
 * uid, time column name (as created; informational), bucket mode ("local":
 * whole days in the rollup's time zone; "abs": fixed width), bucket width
 * in microseconds, origin in microseconds, time zone, source table OID,
 * time column attnum in the source.  The column is found by attnum, so a
 * RENAME COLUMN changes nothing here.  Triggers made by version 1.0 have
 * only the first seven arguments and are resolved by name.  The bucket
 * arithmetic here only deduplicates log rows; the refresh maps the logged
 * times to buckets in SQL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class_d.h"
#include "catalog/pg_type_d.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "rollup/rollup_internal.h"

PG_FUNCTION_INFO_V1(nadia_bgw_rollup_capture);

/* Parsed trigger arguments (see capture_state). */
typedef struct CaptureState
{
	Oid			relid;			/* relation the attnum belongs to */
	AttrNumber	attnum;			/* InvalidAttrNumber: not resolvable */
	char	   *colname;		/* 1.0 trigger: the column's name, else NULL */
	char	   *tgname;			/* for messages */
	bool		usable;			/* arguments parsed */
	int32		rollup_id;
	int64		uid;
	bool		local;
	int64		width;
	int64		origin;
	pg_tz	   *tz;				/* NULL: unknown, no deduplication */
	int			slot;			/* -1: none (log every row) */
	uint64		incarnation;
	LocalTransactionId warned_lxid; /* last transaction warned about */
} CaptureState;

/*
 * Which (rollup, bucket) pairs the current subtransaction has logged: a
 * log row stays as long as the subtransaction that inserted it, so there
 * is no need to log the same bucket twice within one.  The array is a
 * cache, bounded by DEDUP_SIZE: past it, rows are logged undeduplicated.
 */
#define DEDUP_SIZE 128
#define DEDUP_EVERYTHING PG_INT64_MIN	/* (-infinity, infinity) logged */
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

/* Count a capture failure in the rollup's slot, if it has one. */
static void
count_failure(CaptureState *st)
{
	if (st->slot >= 0 && st->slot < NADIA_ROLLUP_SLOTS && nadia_rollup_shared != NULL)
		pg_atomic_fetch_add_u64(&nadia_rollup_shared->slots[st->slot].capture_errors, 1);
}

/*
 * Report a capture problem without failing the write: a WARNING once per
 * transaction and trigger (a bulk load would otherwise log one per row).
 */
static void
capture_warning(CaptureState *st, Relation rel, const char *what)
{
	count_failure(st);
	if (st->warned_lxid == current_lxid())
		return;
	st->warned_lxid = current_lxid();
	ereport(WARNING,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("nadia_bgw: change capture by trigger \"%s\" on \"%s\" failed: %s",
					st->tgname, RelationGetRelationName(rel), what),
			 errdetail("The write proceeds; the rollup may miss it."),
			 errhint("SELECT broken, broken_reason FROM nadia_bgw.rollups says whether the rollup can still be maintained.")));
}

/* strtol/strtoll that say whether the whole string was a number */
static bool
parse_int64(const char *s, int64 *out)
{
	char	   *end;
	long long	v;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = (int64) v;
	return true;
}

/*
 * The attnum of the time column in the relation the trigger fired on.  For
 * a partition of the source (triggers on a partitioned table are cloned to
 * its partitions) the source's attnum is mapped through the column's
 * current name, which renames keep equal across the partition tree.
 */
static AttrNumber
resolve_attnum(Relation rel, Oid source, AttrNumber src_attnum)
{
	Oid			relid = RelationGetRelid(rel);
	char	   *name;
	AttrNumber	a;
	List	   *ancestors;
	bool		ours;

	if (relid == source)
		return src_attnum;

	/*
	 * Anything but a partition of the source means arguments that do not
	 * belong to this table (a trigger restored by pg_dump, whose OIDs are
	 * new): the attnum cannot be trusted.
	 */
	if (!rel->rd_rel->relispartition)
		return InvalidAttrNumber;
	ancestors = get_partition_ancestors(relid);
	ours = list_member_oid(ancestors, source);
	list_free(ancestors);
	if (!ours)
		return InvalidAttrNumber;
	name = get_attname(source, src_attnum, true);
	if (name == NULL)
		return InvalidAttrNumber;
	a = get_attnum(relid, name);
	pfree(name);
	return a;
}

/*
 * Parse a trigger's arguments into a CaptureState.  Never raises: a
 * trigger whose arguments make no sense gets a state marked unusable,
 * whose rows pass through with a warning.
 */
static CaptureState *
parse_state(Trigger *trig, Relation rel)
{
	CaptureState *st;
	int64		v;
	bool		ok = true;

	st = MemoryContextAllocZero(TopMemoryContext, sizeof(CaptureState));
	st->relid = RelationGetRelid(rel);
	st->slot = -1;
	st->warned_lxid = InvalidLocalTransactionId;
	st->rollup_id = -1;
	st->tgname = MemoryContextStrdup(TopMemoryContext, trig->tgname);

	if (trig->tgnargs != 7 && trig->tgnargs != 9)
		return st;
	ok &= parse_int64(trig->tgargs[0], &v) && v >= 0 && v <= PG_INT32_MAX;
	st->rollup_id = ok ? (int32) v : -1;
	ok &= parse_int64(trig->tgargs[1], &st->uid);
	st->local = strcmp(trig->tgargs[3], "local") == 0;
	ok &= parse_int64(trig->tgargs[4], &st->width) && st->width > 0;
	ok &= parse_int64(trig->tgargs[5], &st->origin);
	/* pg_tzset returns NULL for an unknown zone instead of raising */
	st->tz = st->local ? pg_tzset(trig->tgargs[6]) : NULL;
	if (!ok)
		return st;

	if (trig->tgnargs == 9)
	{
		int64		source;
		int64		attnum;

		if (!parse_int64(trig->tgargs[7], &source) || source <= 0 || source > PG_UINT32_MAX ||
			!parse_int64(trig->tgargs[8], &attnum) || attnum <= 0 || attnum > MaxAttrNumber)
			return st;
		st->attnum = resolve_attnum(rel, (Oid) source, (AttrNumber) attnum);
	}
	else
	{
		/* a 1.0 trigger: by name */
		st->colname = MemoryContextStrdup(TopMemoryContext, trig->tgargs[2]);
		st->attnum = get_attnum(st->relid, st->colname);
	}
	st->usable = true;
	st->slot = nadia_rollup_find_slot(st->rollup_id, st->uid, &st->incarnation);
	return st;
}

/*
 * Parsed arguments per trigger, kept for the life of the backend: a
 * trigger's arguments never change (capture is re-installed as new
 * triggers), and re-parsing them for every single-row INSERT statement
 * would cost the writers more than the capture itself.
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
			if (st->usable && st->slot < 0)
				st->slot = nadia_rollup_find_slot(st->rollup_id, st->uid, &st->incarnation);
			fcinfo->flinfo->fn_extra = st;
			return st;
		}
	}

	st = parse_state(trig, rel);

	/* replace round-robin; an evicted state is leaked (a few dozen bytes) */
	state_cache[state_cache_next] = st;
	state_cache_tgoid[state_cache_next] = trig->tgoid;
	state_cache_next = (state_cache_next + 1) % STATE_CACHE_SIZE;
	fcinfo->flinfo->fn_extra = st;
	return st;
}

/*
 * Whether nadia_bgw.rollup_invalidation is exactly what log_invalidation
 * writes into with a bare heap insert: a plain heap table of (integer,
 * timestamptz, timestamptz, timestamptz) with nothing that a heap insert
 * would bypass -- no index, trigger, rule or CHECK constraint.  Only a
 * superuser can change the extension's table; if one did, capture refuses
 * rather than leave an index without the row.
 */
static const char *
invalidation_shape_problem(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	static const Oid types[4] = {INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	int			i;
	List	   *indexes;

	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relam != HEAP_TABLE_AM_OID)
		return "nadia_bgw.rollup_invalidation is not a plain heap table";
	if (desc->natts != 4)
		return "nadia_bgw.rollup_invalidation does not have 4 columns";
	for (i = 0; i < 4; i++)
		if (TupleDescAttr(desc, i)->attisdropped || TupleDescAttr(desc, i)->atttypid != types[i])
			return "a column of nadia_bgw.rollup_invalidation has an unexpected type";
	indexes = RelationGetIndexList(rel);
	if (indexes != NIL)
	{
		list_free(indexes);
		return "nadia_bgw.rollup_invalidation has an index, which a heap insert would not maintain";
	}
	if (rel->trigdesc != NULL || rel->rd_rules != NULL ||
		(desc->constr != NULL && desc->constr->num_check > 0))
		return "nadia_bgw.rollup_invalidation has a trigger, rule or CHECK constraint";
	return NULL;
}

/*
 * Insert one row into nadia_bgw.rollup_invalidation.  Returns NULL, or
 * why nothing was inserted.
 */
static const char *
log_invalidation(int32 rollup_id, TimestampTz lo, TimestampTz hi)
{
	Oid			nsp;
	Oid			relid;
	Relation	rel;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	HeapTuple	tup;
	const char *problem;

	nsp = get_namespace_oid(NADIA_BGW_SCHEMA, true);
	relid = OidIsValid(nsp) ? get_relname_relid("rollup_invalidation", nsp) : InvalidOid;
	if (!OidIsValid(relid))
		return "table nadia_bgw.rollup_invalidation does not exist";
	rel = table_open(relid, RowExclusiveLock);
	problem = invalidation_shape_problem(rel);
	if (problem != NULL)
	{
		table_close(rel, RowExclusiveLock);
		return problem;
	}
	values[0] = Int32GetDatum(rollup_id);
	values[1] = TimestampTzGetDatum(lo);
	values[2] = TimestampTzGetDatum(hi);
	values[3] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	/* checked just above: no index, trigger or constraint to honour */
	simple_heap_insert(rel, tup);
	heap_freetuple(tup);
	table_close(rel, NoLock);
	return NULL;
}

static int64
floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/*
 * The bucket number of t, for deduplication only.  Whole days are counted
 * in the rollup's zone; if the zone is unknown here or the conversion
 * fails, t itself is the key (no deduplication, still correct).
 */
static int64
dedup_bucket(CaptureState *st, TimestampTz t)
{
	if (TIMESTAMP_NOT_FINITE(t))
		return (t < 0) ? PG_INT64_MIN + 1 : PG_INT64_MAX;
	if (st->local)
	{
		struct pg_tm tm;
		fsec_t		fsec;
		int			tzoff;
		Timestamp	local;

		if (st->tz == NULL ||
			timestamp2tm(t, &tzoff, &tm, &fsec, NULL, st->tz) != 0 ||
			tm2timestamp(&tm, fsec, NULL, &local) != 0)
			return t;
		return floor_div(local - st->origin, st->width);
	}
	return floor_div(t - st->origin, st->width);
}

/* Log (lo, hi) for the rollup unless bucket "key" already is, this subtransaction. */
static void
log_once(CaptureState *st, Relation rel, int64 key, TimestampTz lo, TimestampTz hi)
{
	int			i;
	LocalTransactionId lxid = current_lxid();
	SubTransactionId subxid = GetCurrentSubTransactionId();
	const char *problem;

	if (lxid != dedup_lxid || subxid != dedup_subxid)
	{
		dedup_lxid = lxid;
		dedup_subxid = subxid;
		dedup_n = 0;
	}
	for (i = 0; i < dedup_n; i++)
		if (dedup[i].rollup_id == st->rollup_id &&
			(dedup[i].bucket == key || dedup[i].bucket == DEDUP_EVERYTHING))
			return;

	problem = log_invalidation(st->rollup_id, lo, hi);
	if (problem != NULL)
	{
		capture_warning(st, rel, problem);
		return;
	}
	if (dedup_n < DEDUP_SIZE)
	{
		dedup[dedup_n].rollup_id = st->rollup_id;
		dedup[dedup_n].bucket = key;
		dedup_n++;
	}
}

/* A row below the threshold: log its time unless its bucket already is. */
static void
capture_cold(CaptureState *st, Relation rel, TimestampTz t)
{
	log_once(st, rel, dedup_bucket(st, t), t, t);
}

/*
 * A row version with time t was written or removed.  Decide hot or cold;
 * for hot rows make sure the transaction is registered with the slot.
 */
static void
capture_time(CaptureState *st, Relation rel, TimestampTz t)
{
	NadiaRollupSlot *s;
	uint64		inc;
	TimestampTz threshold;
	TransactionId xid;
	bool		hot;

	if (st->slot < 0)
	{
		capture_cold(st, rel, t);
		return;
	}
	s = &nadia_rollup_shared->slots[st->slot];

	/* fast path: lock-free read, re-checking that the slot did not move */
	inc = pg_atomic_read_u64(&s->incarnation);
	pg_read_barrier();
	threshold = (TimestampTz) pg_atomic_read_u64(&s->threshold);
	pg_read_barrier();
	if (inc != st->incarnation || pg_atomic_read_u64(&s->incarnation) != inc)
	{
		/* the slot changed hands: look again next statement, log now */
		st->slot = nadia_rollup_find_slot(st->rollup_id, st->uid, &st->incarnation);
		capture_cold(st, rel, t);
		return;
	}
	if (t < threshold)
	{
		capture_cold(st, rel, t);
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
			NadiaRollupEpoch *e = &s->current;

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
		capture_cold(st, rel, t);
}

/*
 * Why the time column cannot be read from this relation's rows, or NULL.
 * Our trigger depends on the column (UPDATE OF), so PostgreSQL refuses to
 * drop it or change its type while the trigger exists; this only guards
 * against what that does not cover (a 1.0 trigger after a rename, a
 * damaged trigger).
 */
static const char *
time_column_problem(CaptureState *st, TupleDesc desc)
{
	Form_pg_attribute att;

	if (st->attnum <= 0 || st->attnum > desc->natts)
		return "its time column cannot be found (renamed under a 1.0 trigger, or trigger arguments that belong to another table)";
	att = TupleDescAttr(desc, st->attnum - 1);
	if (att->attisdropped)
		return "its time column was dropped";
	if (att->atttypid != TIMESTAMPTZOID)
		return "its time column is no longer of type timestamp with time zone";
	return NULL;
}

static void
capture_tuple(CaptureState *st, Relation rel, HeapTuple tuple)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, st->attnum, RelationGetDescr(rel), &isnull);

	/* a row without a time belongs to no bucket */
	if (!isnull)
		capture_time(st, rel, DatumGetTimestampTz(d));
}

/*
 * Capture what cannot be captured row by row: the next refresh recomputes
 * the whole range.
 */
static void
capture_everything(CaptureState *st, Relation rel)
{
	log_once(st, rel, DEDUP_EVERYTHING, DT_NOBEGIN, DT_NOEND);
}

Datum
nadia_bgw_rollup_capture(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	CaptureState *st;
	HeapTuple	result;
	const char *problem;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("nadia_bgw.rollup_capture() must be called as a trigger")));

	rel = trigdata->tg_relation;
	/* what a row trigger must return for the write to go on unchanged */
	if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		result = NULL;
	else if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		result = trigdata->tg_newtuple;
	else
		result = trigdata->tg_trigtuple;

	st = capture_state(fcinfo, trigdata);
	if (!st->usable)
	{
		capture_warning(st, rel, "its trigger arguments are not those of nadia_bgw._rollup_install_capture()");
		return PointerGetDatum(result);
	}

	/* TRUNCATE, or a statement trigger someone made by hand: everything */
	if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
	{
		capture_everything(st, rel);
		return PointerGetDatum(result);
	}

	problem = time_column_problem(st, RelationGetDescr(rel));
	if (problem != NULL && st->colname != NULL)
	{
		/* a 1.0 trigger's column may have been renamed back since */
		st->attnum = get_attnum(st->relid, st->colname);
		problem = time_column_problem(st, RelationGetDescr(rel));
	}
	if (problem != NULL)
	{
		capture_warning(st, rel, problem);
		capture_everything(st, rel);
		return PointerGetDatum(result);
	}

	/* UPDATE: the old version leaves its bucket, the new one enters its own */
	capture_tuple(st, rel, trigdata->tg_trigtuple);
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		capture_tuple(st, rel, trigdata->tg_newtuple);
	return PointerGetDatum(result);
}
