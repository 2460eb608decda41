/*-------------------------------------------------------------------------
 *
 * sampler_tracked.c
 *		The per-object sources of statistics history (statements, tables,
 *		indexes): their last-seen values in shared memory, and the sampling
 *		of one such source (compare in C, write changed rows in bulk).
 *
 * A source's reader (sampler_readers.c) returns one row per object.  Each
 * row is looked up in a shared hash table keyed by (sampling database,
 * source, object), which holds the cumulative values of the previous
 * sample.  Rows whose detect columns moved get a history row (deltas,
 * minima/maxima, gauges, as the column table of sampler_sources.c says)
 * and their entry is updated; the history rows are inserted with one
 * statement (INSERT ... SELECT FROM unnest(arrays)).  Nothing is read from
 * or written to a state table, so the cost of a sample is that of reading
 * the statistics plus writing the changed rows.
 *
 * The hash is sized by nadia_bgw.max_tracked_objects (allocated at server
 * start).  When it is full, objects that do not fit are not tracked: no
 * history for them, a WARNING and a 'not_tracked' event in the sample;
 * nothing else is affected.
 *
 * Shared memory is not transactional, but history is: every change made
 * to the hash is logged (old entry) and undone when the source's
 * subtransaction or the sample's transaction aborts, so the next sample
 * computes its deltas against what history actually holds.  Samples of
 * one database are serialized by the sampler's advisory lock; the LWLock
 * protects the hash itself against samplers of other databases and the
 * readers of nadia_bgw.tracked_state().
 *
 * After a server restart the hash is empty: a per-source marker entry is
 * missing, the sampler records 'state_lost' and takes a new baseline.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"


#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "history/history.h"

PG_FUNCTION_INFO_V1(nadia_bgw_tracked_state);

int			nadia_bgw_max_tracked_objects = 20000;

#define TRACK_SLOTS		40		/* numeric state columns per object */
#define MARKER_SOURCE	0x8000	/* key.source bit of a source's marker entry */
#define TRACK_LOCK_NAME	"nadia_bgw_sampler"
#define MAX_SOURCES		8		/* tracked sources: positions in nadia_delta_sources */

/*
 * Sizes are measured again when the object was written since they were
 * last measured, but each object only every SIZE_SPREAD-th sample (spread
 * by its key), so the cost is even from one sample to the next.
 */
#define SIZE_SPREAD		10

typedef struct TrackedKey
{
	Oid			db;				/* database the sample runs in */
	uint16		source;			/* index in nadia_delta_sources (| marker) */
	uint16		extra;			/* statements: toplevel */
	Oid			k2;
	Oid			k3;
	int64		k1;
} TrackedKey;

typedef struct TrackedEntry
{
	TrackedKey	key;
	int64		seen;			/* sample id of the last sample that saw it */
	TimestampTz changed_at;
	TimestampTz dropped_at;		/* not seen since (dropped, evicted), or 0 */
	uint32		cat_hash;
	int32		stmt_id;
	bool		excluded;
	bool		size_due;		/* written since its sizes were measured */
	uint64		nulls;			/* bit i: slot i is NULL */
	int64		slot[TRACK_SLOTS];	/* float8 values stored bit for bit */
} TrackedEntry;

typedef struct TrackedShared
{
	LWLock	   *lock;
	pg_atomic_uint32 waiting;	/* backends blocked in track_lock() */
} TrackedShared;

static TrackedShared *tshared = NULL;
static HTAB *thash = NULL;

/* ---------------------------------------------------------------------
 * Shared memory
 * ---------------------------------------------------------------------
 */

static Size
tracked_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(TrackedShared)),
					hash_estimate_size(nadia_bgw_max_tracked_objects, sizeof(TrackedEntry)));
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
	info.keysize = sizeof(TrackedKey);
	info.entrysize = sizeof(TrackedEntry);
	thash = ShmemInitHash("nadia_bgw tracked objects",
						  nadia_bgw_max_tracked_objects, nadia_bgw_max_tracked_objects,
						  &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
}

/* registered from _PG_init (core/shmem.c) */
const NadiaShmemPart nadia_tracked_shmem = {
	TRACK_LOCK_NAME, tracked_shmem_size, 1, tracked_shmem_startup
};

/*
 * Take the hash's lock, counted in tshared->waiting while blocked: an
 * LWLock is not fair (a process that releases it and takes it again at
 * once wins over those it woke), so a sampler working through its batches
 * looks at the count to let them in -- see batch_point().
 */
static void
track_lock(LWLockMode mode)
{
	if (LWLockConditionalAcquire(tshared->lock, mode))
		return;
	pg_atomic_fetch_add_u32(&tshared->waiting, 1);
	LWLockAcquire(tshared->lock, mode);
	pg_atomic_fetch_sub_u32(&tshared->waiting, 1);
}

static void
require_shmem(const HistSource *src)
{
	if (thash == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" needs nadia_bgw in shared_preload_libraries", src->name),
				 errhint("Its last-seen values are kept in shared memory.")));
}

static void
make_key(TrackedKey *key, const HistSource *src, const TrackedRow *r)
{
	memset(key, 0, sizeof(*key));
	key->db = MyDatabaseId;
	key->source = (uint16) (src - nadia_delta_sources);
	if (r)
	{
		key->extra = r->extra;
		key->k1 = r->k1;
		key->k2 = r->k2;
		key->k3 = r->k3;
	}
}

static void
marker_key(TrackedKey *key, const HistSource *src)
{
	make_key(key, src, NULL);
	key->source |= MARKER_SOURCE;
}

/* Does the source have a baseline in shared memory (its marker entry)? */
bool
nadia_tracked_has_baseline(const HistSource *src)
{
	TrackedKey	key;
	bool		found;

	if (thash == NULL)
		return false;
	marker_key(&key, src);
	track_lock(LW_SHARED);
	(void) hash_search(thash, &key, HASH_FIND, &found);
	LWLockRelease(tshared->lock);
	return found;
}

/* ---------------------------------------------------------------------
 * Undo log: the hash follows the fate of the transaction
 * ---------------------------------------------------------------------
 */

typedef struct UndoRec
{
	SubTransactionId subid;
	bool		existed;
	TrackedEntry old;			/* key only when !existed */
} UndoRec;

/*
 * The log is bounded.  A transaction may change every entry of the hash
 * (up to 10 million), and may take many samples; an unbounded log grew in
 * TopMemoryContext (some 400 bytes a record) until its array asked for
 * more than 1 GB and the sample failed.  Past the limit (or when memory
 * runs out) the records are dropped and the transaction only remembers
 * which sources it touched: if it, or any subtransaction of it, then
 * aborts, those sources lose their marker entry, so that their next
 * sample records 'state_lost' and takes a new baseline -- never deltas
 * against values that history does not hold.  A commit loses nothing.
 */
#define UNDO_MAX_BYTES	(64 * 1024 * 1024)
#define UNDO_KEEP_RECS	1024	/* kept between transactions */

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

/* caller holds the lock exclusively */
static void
undo_push(const TrackedKey *key, const TrackedEntry *old)
{
	UndoRec    *u;

	/* key->source < MAX_SOURCES: source_map() checked it */
	undo_sources |= ((uint32) 1) << (key->source & ~MARKER_SOURCE);
	if (!undo_reserve())
		return;
	u = &undo[n_undo++];
	u->subid = GetCurrentSubTransactionId();
	u->existed = old != NULL;
	if (old)
		memcpy(&u->old, old, sizeof(TrackedEntry));
	else
		memcpy(&u->old.key, key, sizeof(TrackedKey));
}

/*
 * After an abort the log could not cover: every source this transaction
 * touched loses its marker, hence its baseline.
 */
static void
undo_forget_baselines(void)
{
	int			i;

	if (thash == NULL)
		return;
	track_lock(LW_EXCLUSIVE);
	for (i = 0; i < nadia_n_delta_sources && i < MAX_SOURCES; i++)
	{
		TrackedKey	key;

		if (!(undo_sources & (((uint32) 1) << i)))
			continue;
		marker_key(&key, &nadia_delta_sources[i]);
		(void) hash_search(thash, &key, HASH_REMOVE, NULL);
	}
	LWLockRelease(tshared->lock);
}

static void
undo_to(int from)
{
	int			i;

	if (undo_overflowed)
	{
		undo_forget_baselines();
		return;
	}
	if (n_undo <= from || thash == NULL)
	{
		n_undo = Min(n_undo, from);
		return;
	}
	track_lock(LW_EXCLUSIVE);
	for (i = n_undo - 1; i >= from; i--)
	{
		UndoRec    *u = &undo[i];

		if (u->existed)
		{
			TrackedEntry *e = hash_search(thash, &u->old.key, HASH_ENTER_NULL, NULL);

			if (e)
				memcpy(e, &u->old, sizeof(TrackedEntry));
		}
		else
			(void) hash_search(thash, &u->old.key, HASH_REMOVE, NULL);
	}
	LWLockRelease(tshared->lock);
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

/* ---------------------------------------------------------------------
 * Columns and values
 * ---------------------------------------------------------------------
 */

typedef struct SourceMap
{
	bool		done;
	int			slot_of[64];	/* column -> slot, or -1 */
	Oid			type_of[64];
	int			nslots;
	SPIPlanPtr	insert_plan;	/* history insert, kept */
	int			nhist;
	int			hist_cols[64];
} SourceMap;

/* indexed by the source's position in nadia_delta_sources */
static SourceMap maps[MAX_SOURCES];

static bool
is_slot(const HistColumn *col)
{
	return (col->flags & HC_STATE) && !(col->flags & (HC_KEY | HC_CATALOG | HC_DICT));
}

static SourceMap *
source_map(const HistSource *src)
{
	int			pos = src - nadia_delta_sources;
	SourceMap  *m;
	int			i;

	if (pos < 0 || pos >= MAX_SOURCES || pos >= nadia_n_delta_sources)
		elog(ERROR, "source \"%s\" is not one of the first %d delta sources", src->name, MAX_SOURCES);
	m = &maps[pos];
	if (m->done)
		return m;
	if (src->ncols > 64)
		elog(ERROR, "source \"%s\" has too many columns", src->name);
	m->nslots = 0;
	m->nhist = 0;
	for (i = 0; i < src->ncols; i++)
	{
		m->type_of[i] = nadia_column_type(&src->cols[i]);
		m->slot_of[i] = is_slot(&src->cols[i]) ? m->nslots++ : -1;
		if (src->cols[i].flags & HC_HIST)
			m->hist_cols[m->nhist++] = i;
	}
	if (m->nslots > TRACK_SLOTS)
		elog(ERROR, "source \"%s\" has more than %d state columns", src->name, TRACK_SLOTS);
	m->done = true;
	return m;
}

static int64
to_slot(Oid type, Datum d)
{
	switch (type)
	{
		case FLOAT8OID:
			{
				double		f = DatumGetFloat8(d);
				int64		v;

				memcpy(&v, &f, sizeof(v));
				return v;
			}
		case INT4OID:
			return DatumGetInt32(d);
		case OIDOID:
			return DatumGetObjectId(d);
		case XIDOID:
			return DatumGetTransactionId(d);
		case BOOLOID:
			return DatumGetBool(d);
		default:
			return DatumGetInt64(d);
	}
}

static Datum
from_slot(Oid type, int64 v)
{
	switch (type)
	{
		case FLOAT8OID:
			{
				double		f;

				memcpy(&f, &v, sizeof(f));
				return Float8GetDatum(f);
			}
		case INT4OID:
			return Int32GetDatum((int32) v);
		case OIDOID:
			return ObjectIdGetDatum((Oid) v);
		case XIDOID:
			return TransactionIdGetDatum((TransactionId) v);
		case BOOLOID:
			return BoolGetDatum(v != 0);
		default:
			return Int64GetDatum(v);
	}
}

static double
as_double(Oid type, int64 v)
{
	double		f;

	if (type != FLOAT8OID)
		return (double) v;
	memcpy(&f, &v, sizeof(f));
	return f;
}

static bool
slot_null(const TrackedEntry *e, int s)
{
	return (e->nulls & (UINT64CONST(1) << s)) != 0;
}

TrackedRow *
nadia_tracked_add(const HistSource *src, TrackedRows *rows)
{
	TrackedRow *r;

	if (rows->n >= rows->max)
	{
		rows->max = Max(256, rows->max * 2);
		rows->rows = rows->rows == NULL ?
			MemoryContextAlloc(rows->cxt, rows->max * sizeof(TrackedRow)) :
			repalloc(rows->rows, rows->max * sizeof(TrackedRow));
	}
	r = &rows->rows[rows->n++];
	memset(r, 0, sizeof(*r));
	r->vals = MemoryContextAllocZero(rows->cxt, src->ncols * sizeof(Datum));
	r->nulls = MemoryContextAlloc(rows->cxt, src->ncols * sizeof(bool));
	memset(r->nulls, true, src->ncols * sizeof(bool));
	return r;
}

/* ---------------------------------------------------------------------
 * Statements: the text dictionary
 * ---------------------------------------------------------------------
 */

/* a statement the sampler has no (current) stmt_id for */
static bool
needs_dictionary(const TrackedRow *r, bool all)
{
	const TrackedEntry *e = r->entry;

	return all || e == NULL || e->dropped_at != 0;
}

/*
 * New statements, returning ones (or all, for a baseline): store their
 * text and look up their stmt_id.  A row whose text could not be stored stays untracked
 * and is tried again by the next sample.
 */
static void
statement_dictionary(const HistSource *src, TrackedRows *rows, const char *schema,
					 TimestampTz ts, bool all)
{
	int			i,
				n = 0;
	Datum	   *q,
			   *d,
			   *u;
	HTAB	   *ids;
	typedef struct
	{
		int64		queryid;
		Oid			dbid;
		Oid			userid;
	} DictKey;
	typedef struct
	{
		DictKey		key;
		int32		stmt_id;
		bool		excluded;
	} DictEntry;

	q = palloc(rows->n * sizeof(Datum));
	d = palloc(rows->n * sizeof(Datum));
	u = palloc(rows->n * sizeof(Datum));
	for (i = 0; i < rows->n; i++)
	{
		TrackedRow *r = &rows->rows[i];

		if (!needs_dictionary(r, all))
			continue;
		q[n] = Int64GetDatum(r->k1);
		d[n] = ObjectIdGetDatum(r->k2);
		u[n] = ObjectIdGetDatum(r->k3);
		n++;
	}
	if (n == 0)
		return;

	nadia_sample_statement_texts(schema, ts);
	if (SPI_execute_with_args("SELECT t.queryid, t.dbid, t.userid, t.stmt_id, t.excluded"
							  " FROM nadia_bgw.statements t"
							  " JOIN unnest($1::bigint[], $2::oid[], $3::oid[]) AS k(queryid, dbid, userid)"
							  " USING (queryid, dbid, userid)",
							  3, (Oid[]) {INT8ARRAYOID, OIDARRAYOID, OIDARRAYOID},
							  (Datum[]) {
		PointerGetDatum(construct_array(q, n, INT8OID, 8, true, TYPALIGN_DOUBLE)),
			PointerGetDatum(construct_array(d, n, OIDOID, 4, true, TYPALIGN_INT)),
			PointerGetDatum(construct_array(u, n, OIDOID, 4, true, TYPALIGN_INT))
	},
							  NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "looking up statement texts failed");

	ids = nadia_local_hash("nadia_bgw statement ids", sizeof(DictKey), sizeof(DictEntry), SPI_processed);
	for (i = 0; i < (int) SPI_processed; i++)
	{
		DictKey		k;
		DictEntry  *e;
		bool		isnull;

		memset(&k, 0, sizeof(k));
		k.queryid = nadia_spi_getint8(i, 1, &isnull);
		k.dbid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		k.userid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
		e = hash_search(ids, &k, HASH_ENTER, NULL);
		e->stmt_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 4, &isnull));
		e->excluded = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 5, &isnull));
	}
	for (i = 0; i < rows->n; i++)
	{
		TrackedRow *r = &rows->rows[i];
		DictKey		k;
		DictEntry  *e;

		if (!needs_dictionary(r, all))
			continue;
		memset(&k, 0, sizeof(k));
		k.queryid = r->k1;
		k.dbid = r->k2;
		k.userid = r->k3;
		e = hash_search(ids, &k, HASH_FIND, NULL);
		if (e == NULL)
			r->skip = true;
		else
		{
			r->stmt_id = e->stmt_id;
			r->excluded = e->excluded;
		}
	}
}

/* ---------------------------------------------------------------------
 * One sample of a tracked source
 * ---------------------------------------------------------------------
 */

static SPIPlanPtr
history_insert_plan(const HistSource *src, SourceMap *m)
{
	StringInfoData q;
	Oid		   *types;
	int			i;
	SPIPlanPtr	plan;

	if (m->insert_plan)
		return m->insert_plan;
	initStringInfo(&q);
	appendStringInfo(&q, "INSERT INTO %s (sampled_at", src->hist_table);
	for (i = 0; i < m->nhist; i++)
		appendStringInfo(&q, ", %s", src->cols[m->hist_cols[i]].name);
	appendStringInfoString(&q, ") SELECT $1, u.* FROM unnest(");
	types = palloc((m->nhist + 1) * sizeof(Oid));
	types[0] = TIMESTAMPTZOID;
	for (i = 0; i < m->nhist; i++)
	{
		const HistColumn *col = &src->cols[m->hist_cols[i]];

		types[i + 1] = get_array_type(m->type_of[m->hist_cols[i]]);
		appendStringInfo(&q, "%s$%d::%s[]", i ? ", " : "", i + 2, col->type);
	}
	appendStringInfoString(&q, ") AS u");
	plan = SPI_prepare(q.data, m->nhist + 1, types);
	if (plan == NULL || SPI_keepplan(plan) != 0)
		elog(ERROR, "preparing the history insert of source \"%s\" failed", src->name);
	m->insert_plan = plan;
	return plan;
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
 */
#define TRACK_BATCH		1024

/*
 * Between batches: take interrupts, and let the others in.  Taking the
 * lock again at once would win over the processes the release woke
 * (an LWLock is not fair) and shut them out until the last batch; so wait
 * until those blocked on it have had it, for a few milliseconds at most.
 */
#define BATCH_YIELD_TRIES	200		/* of 50 us */

static void
batch_point(int i, LWLockMode mode)
{
	int			tries;

	if (i == 0 || i % TRACK_BATCH != 0)
		return;
	LWLockRelease(tshared->lock);
	CHECK_FOR_INTERRUPTS();
	for (tries = 0; tries < BATCH_YIELD_TRIES &&
		 pg_atomic_read_u32(&tshared->waiting) > 0; tries++)
		pg_usleep(50L);
	LWLockAcquire(tshared->lock, mode);
}

/*
 * This database's entries of the source that this sample has not seen
 * (seen != sample_id): all of them, or only those marked gone.  Called
 * without the lock.
 */
static TrackedEntry **
collect_unseen(const HistSource *src, int64 sample_id, bool only_gone, int *n_out)
{
	HASH_SEQ_STATUS hs;
	TrackedEntry *e;
	TrackedEntry **out;
	int			n = 0,
				max = 64;
	int64		n_visited = 0;

	out = palloc(max * sizeof(TrackedEntry *));
	track_lock(LW_SHARED);
	hash_seq_init(&hs, thash);
	while ((e = hash_seq_search(&hs)) != NULL)
	{
		/* every entry, of every database: what the scan costs */
		NADIA_DEBUG_OBJECT("scan", src->name, n_visited++);
		if (e->key.db != MyDatabaseId ||
			e->key.source != (uint16) (src - nadia_delta_sources) ||
			e->seen == sample_id ||
			(only_gone && e->dropped_at == 0))
			continue;
		if (n >= max)
		{
			max *= 2;
			out = repalloc_huge(out, (Size) max * sizeof(TrackedEntry *));
		}
		out[n++] = e;
	}
	LWLockRelease(tshared->lock);
	*n_out = n;
	return out;
}

/*
 * Forget every object of a source that is marked gone, except those this
 * sample saw again (seen = sample_id).  Called and returns with the lock
 * held exclusively, released in between.
 */
static void
forget_dropped(const HistSource *src, int64 sample_id)
{
	TrackedEntry **gone;
	int			n,
				i;

	LWLockRelease(tshared->lock);
	gone = collect_unseen(src, sample_id, true, &n);
	track_lock(LW_EXCLUSIVE);
	for (i = 0; i < n; i++)
	{
		TrackedKey	key;

		batch_point(i, LW_EXCLUSIVE);
		NADIA_DEBUG_OBJECT("forget", src->name, i);
		memcpy(&key, &gone[i]->key, sizeof(key));
		undo_push(&key, gone[i]);
		(void) hash_search(thash, &key, HASH_REMOVE, NULL);
	}
	pfree(gone);
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

int64
nadia_sample_tracked_source(const HistSource *src, TimestampTz ts, int64 sample_id,
							bool initialized, const char *pgss_schema, int64 *seen_out)
{
	SourceMap  *m = source_map(src);
	TrackedRows rows;
	TrackedKey	key;
	TrackedEntry *marker;
	TrackedEntry next;
	int			i,
				c;
	int64		restarted = 0,
				not_tracked = 0,
				live_before = 0,
				seen_live = 0,
				tracked_now = 0,
				written = 0;
	Oid		   *changed_keys,
			   *dropped_keys;
	int			n_changed = 0,
				n_dropped = 0;
	bool		is_statements = strcmp(src->name, "statements") == 0;
	int64		n_gone = 0;
	bool		purged = false;
	bool		forgot_all = false;
	bool		had_marker;

	require_shmem(src);
	if (!callbacks_registered)
	{
		RegisterXactCallback(tracked_xact_callback, NULL);
		RegisterSubXactCallback(tracked_subxact_callback, NULL);
		callbacks_registered = true;
	}

	memset(&rows, 0, sizeof(rows));
	rows.cxt = CurrentMemoryContext;
	src->reader(src, &rows, pgss_schema);
	*seen_out = rows.n;

	/* A: find each object's entry (entries of this database change only under our advisory lock) */
	track_lock(LW_SHARED);
	for (i = 0; i < rows.n; i++)
	{
		batch_point(i, LW_SHARED);
		make_key(&key, src, &rows.rows[i]);
		rows.rows[i].entry = hash_search(thash, &key, HASH_FIND, NULL);
	}
	marker_key(&key, src);
	marker = hash_search(thash, &key, HASH_FIND, NULL);
	if (marker)
		live_before = marker->slot[0];
	had_marker = marker != NULL;
	LWLockRelease(tshared->lock);
	for (i = 0; i < rows.n; i++)
	{
		TrackedEntry *e = rows.rows[i].entry;

		if (e != NULL && e->dropped_at == 0)
			seen_live++;
	}

	/* which rows read their lazy columns (sizes) now */
	for (i = 0; i < rows.n; i++)
	{
		TrackedRow *r = &rows.rows[i];
		TrackedEntry *e = r->entry;
		bool		due;
		bool		rebuilt = false;

		if (src->measure == NULL)
			continue;
		CHECK_FOR_INTERRUPTS();
		NADIA_DEBUG_OBJECT("measure", src->name, i);
		due = e == NULL || e->size_due || e->dropped_at != 0;
		for (c = 0; c < src->ncols && e; c++)
		{
			int			s = m->slot_of[c];

			if (s < 0 || !(src->cols[c].flags & HC_TRIGGER) || r->nulls[c])
				continue;
			if (slot_null(e, s) || e->slot[s] != to_slot(m->type_of[c], r->vals[c]))
			{
				due = true;
				if (strcmp(src->cols[c].name, "relfilenode") == 0)
					rebuilt = true;
			}
		}
		r->measure = due && (e == NULL || rebuilt || e->dropped_at != 0 ||
							 (hash_uint32((uint32) r->k1) + (uint64) sample_id) % SIZE_SPREAD == 0);
		r->still_due = due && !r->measure;
		if (r->measure)
			src->measure(src, &rows, i);
	}

	/* B: compare, build the new entry contents */
	for (i = 0; i < rows.n; i++)
	{
		TrackedRow *r = &rows.rows[i];
		TrackedEntry *e = r->entry;
		bool		changed = false;

		CHECK_FOR_INTERRUPTS();
		NADIA_DEBUG_OBJECT("compare", src->name, i);

		if (e == NULL || !initialized)
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
			for (c = 0; c < src->ncols; c++)
			{
				int			s = m->slot_of[c];
				int			flags = src->cols[c].flags;
				Oid			t = m->type_of[c];
				int64		v;

				if (s < 0 || (flags & HC_LAZY))
					continue;
				if (r->nulls[c] != slot_null(e, s))
				{
					if (flags & HC_DETECT)
						changed = true;
					if (flags & HC_RESTART)
						r->restart = true;
					continue;
				}
				if (r->nulls[c])
					continue;
				v = to_slot(t, r->vals[c]);
				if (v == e->slot[s])
					continue;
				if (flags & HC_DETECT)
					changed = true;
				if (flags & HC_RESTART)
					r->restart = true;
				if ((flags & HC_DELTA) &&
					(t == FLOAT8OID ? as_double(t, v) < as_double(t, e->slot[s]) : v < e->slot[s]))
					r->restart = true;
			}
		}

		/*
		 * A new measurement makes a history row only when a size moved:
		 * most writes leave a table's size as it was.
		 */
		if (r->measure && e != NULL && !changed)
		{
			for (c = 0; c < src->ncols && !changed; c++)
			{
				int			s = m->slot_of[c];

				if (s < 0 || (src->cols[c].flags & (HC_LAZY | HC_AGE)) != HC_LAZY)
					continue;
				if (r->nulls[c] != slot_null(e, s) ||
					(!r->nulls[c] && to_slot(m->type_of[c], r->vals[c]) != e->slot[s]))
					changed = true;
			}
		}
		r->changed = changed;
		if (r->restart && initialized)
			restarted++;
		if (e != NULL && r->cat_hash != e->cat_hash)
			r->cat_changed = true;
		if (e == NULL || !initialized)
			r->cat_changed = true;
		if (r->cat_changed && src->catalog_ready && !src->catalog_ready(src, &rows, i))
		{
			/* written by a later sample: keep the entry's hash stale */
			r->cat_changed = false;
			r->cat_hash = e ? e->cat_hash : 0;
		}
	}

	/* new statements (every statement for a baseline): text and stmt_id */
	if (is_statements)
		statement_dictionary(src, &rows, pgss_schema, ts, !initialized);

	/* C: apply to shared memory (undo-logged) */
	changed_keys = palloc((rows.n + 1) * sizeof(Oid));
	dropped_keys = NULL;
	track_lock(LW_EXCLUSIVE);

	/*
	 * Objects this sample read keep their entry (one back after it was
	 * gone included): forget_dropped() below must not free it under them.
	 * "seen" is bookkeeping of this sample only, never undone.
	 */
	for (i = 0; i < rows.n; i++)
	{
		batch_point(i, LW_EXCLUSIVE);
		NADIA_DEBUG_OBJECT("seen", src->name, i);
		if (!rows.rows[i].skip && rows.rows[i].entry != NULL)
			((TrackedEntry *) rows.rows[i].entry)->seen = sample_id;
	}

	/* the source's marker says it has a baseline: it gets room first */
	marker_key(&key, src);
	marker = hash_search(thash, &key, HASH_FIND, NULL);
	if (marker == NULL)
	{
		marker = hash_search(thash, &key, HASH_ENTER_NULL, NULL);
		if (marker == NULL)
		{
			forget_dropped(src, sample_id);
			forgot_all = true;
			marker = hash_search(thash, &key, HASH_ENTER_NULL, NULL);
		}
		if (marker == NULL)
		{
			LWLockRelease(tshared->lock);
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("nadia_bgw: no room to track source \"%s\"", src->name),
					 errhint("Raise nadia_bgw.max_tracked_objects (currently %d) and restart the server.",
							 nadia_bgw_max_tracked_objects)));
		}
		undo_push(&key, NULL);
		memset(marker, 0, sizeof(TrackedEntry));
		memcpy(&marker->key, &key, sizeof(key));
	}
	else
		undo_push(&key, marker);

	for (i = 0; i < rows.n; i++)
	{
		TrackedRow *r = &rows.rows[i];
		TrackedEntry *e = r->entry;

		batch_point(i, LW_EXCLUSIVE);
		NADIA_DEBUG_OBJECT("apply", src->name, i);
		if (r->skip)
			continue;
		if (e != NULL && !r->changed && !r->cat_changed && !r->measure)
		{
			e->seen = sample_id;
			tracked_now++;
			continue;
		}
		/* the new content */
		if (e)
			memcpy(&next, e, sizeof(next));
		else
		{
			memset(&next, 0, sizeof(next));
			next.nulls = ~UINT64CONST(0);
		}
		make_key(&next.key, src, r);
		next.seen = sample_id;
		next.dropped_at = 0;
		next.cat_hash = r->cat_hash;
		if (r->changed)
			next.changed_at = ts;
		if (is_statements)
		{
			next.stmt_id = r->stmt_id;
			next.excluded = r->excluded;
		}
		next.size_due = r->still_due;
		for (c = 0; c < src->ncols; c++)
		{
			int			s = m->slot_of[c];

			if (s < 0)
				continue;
			if ((src->cols[c].flags & HC_LAZY) && !r->measure)
				continue;		/* keeps the previous measurement */
			if (r->nulls[c])
				next.nulls |= (UINT64CONST(1) << s);
			else
			{
				next.nulls &= ~(UINT64CONST(1) << s);
				next.slot[s] = to_slot(m->type_of[c], r->vals[c]);
			}
		}
		if (e == NULL)
		{
			bool		found;

			e = hash_search(thash, &next.key, HASH_ENTER_NULL, &found);
			if (e == NULL && !forgot_all)
			{
				/* full: forget the objects gone from this source, try again */
				forget_dropped(src, sample_id);
				forgot_all = true;
				e = hash_search(thash, &next.key, HASH_ENTER_NULL, &found);
			}
			if (e == NULL)
			{
				r->skip = true;
				not_tracked++;
				continue;
			}
			undo_push(&next.key, NULL);
		}
		else
			undo_push(&next.key, e);
		/* keep the previous values for the history rows */
		if (r->entry)
		{
			TrackedEntry *prev = palloc(sizeof(TrackedEntry));

			memcpy(prev, e, sizeof(TrackedEntry));
			r->entry = prev;
		}
		memcpy(e, &next, sizeof(TrackedEntry));
		tracked_now++;
		if (r->cat_changed && !is_statements)
			changed_keys[n_changed++] = (Oid) r->k1;
	}

	/*
	 * Objects not seen any more (dropped tables, evicted statements) are
	 * marked dropped: an evicted statement that comes back is a restart,
	 * not a new object.  They are forgotten after nadia_bgw.raw_retention
	 * (at once when the hash is full).  The marker counts the live objects,
	 * so the hash is scanned only when some were not seen, or to forget.
	 */
	if (!had_marker || seen_live < live_before ||
		(marker->slot[1] > 0 &&
		 (not_tracked > 0 || ts - marker->slot[2] >= USECS_PER_HOUR)))
	{
		TrackedEntry **unseen;
		int			n_unseen,
					j;
		int			max_dropped = 64;
		TimestampTz forget_before = not_tracked > 0 ? DT_NOEND :
			ts - (int64) nadia_bgw_raw_retention * USECS_PER_MINUTE;

		n_gone = 0;
		LWLockRelease(tshared->lock);
		unseen = collect_unseen(src, sample_id, false, &n_unseen);
		track_lock(LW_EXCLUSIVE);
		for (j = 0; j < n_unseen; j++)
		{
			TrackedEntry *e = unseen[j];

			batch_point(j, LW_EXCLUSIVE);
			NADIA_DEBUG_OBJECT("gone", src->name, j);
			if (e->dropped_at == 0)
			{
				if (dropped_keys == NULL)
					dropped_keys = palloc(max_dropped * sizeof(Oid));
				else if (n_dropped >= max_dropped)
				{
					max_dropped *= 2;
					dropped_keys = repalloc_huge(dropped_keys, (Size) max_dropped * sizeof(Oid));
				}
				dropped_keys[n_dropped++] = (Oid) e->key.k1;
				undo_push(&e->key, e);
				e->dropped_at = ts;
				n_gone++;
			}
			else if (e->dropped_at < forget_before)
			{
				TrackedKey	gone_key;

				memcpy(&gone_key, &e->key, sizeof(gone_key));
				undo_push(&gone_key, e);
				(void) hash_search(thash, &gone_key, HASH_REMOVE, NULL);
			}
			else
				n_gone++;
		}
		pfree(unseen);
		purged = true;
	}

	/* the marker: slot 0 = objects tracked, 1 = gone, 2 = last scan */
	marker->slot[0] = tracked_now;
	if (purged)
	{
		marker->slot[1] = n_gone;
		marker->slot[2] = ts;
	}
	marker->seen = sample_id;
	LWLockRelease(tshared->lock);

	if (not_tracked > 0)
	{
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("nadia_bgw: " INT64_FORMAT " objects of source \"%s\" are not tracked: nadia_bgw.max_tracked_objects (%d) is reached",
						not_tracked, src->name, nadia_bgw_max_tracked_objects),
				 errdetail("They get no history until there is room."),
				 errhint("Raise nadia_bgw.max_tracked_objects and restart the server.")));
		nadia_record_event(sample_id, ts, src->name, "not_tracked", not_tracked,
						   nadia_event_details(NULL, NULL, "max_tracked_objects",
											   nadia_bgw_max_tracked_objects, NULL, NULL));
	}
	if (restarted > 0)
		nadia_record_event(sample_id, ts, src->name, "counters_restarted", restarted, NULL);

	/* D: history rows of the changed objects, in one statement */
	if (initialized)
	{
		Datum	  **hv = palloc(m->nhist * sizeof(Datum *));
		bool	  **hn = palloc(m->nhist * sizeof(bool *));
		int			nh = 0,
					j;
		Datum	   *args;
		char	   *argnulls;

		for (j = 0; j < m->nhist; j++)
		{
			hv[j] = palloc((rows.n + 1) * sizeof(Datum));
			hn[j] = palloc((rows.n + 1) * sizeof(bool));
		}
		for (i = 0; i < rows.n; i++)
		{
			TrackedRow *r = &rows.rows[i];
			TrackedEntry *p = r->entry;	/* previous values, or NULL */

			CHECK_FOR_INTERRUPTS();
			NADIA_DEBUG_OBJECT("history", src->name, i);
			if (r->skip || !r->changed)
				continue;
			if (is_statements && (r->excluded || r->stmt_id == 0))
				continue;
			for (j = 0; j < m->nhist; j++)
			{
				int			col = m->hist_cols[j];
				int			flags = src->cols[col].flags;
				int			s = m->slot_of[col];
				Oid			t = m->type_of[col];
				bool		fresh = p == NULL || r->restart;
				bool		pnull = p == NULL || s < 0 || slot_null(p, s);
				Datum		v = r->vals[col];
				bool		isnull = r->nulls[col];

				if (flags & HC_DICT)
				{
					v = Int32GetDatum(r->stmt_id);
					isnull = false;
				}
				else if ((flags & HC_LAZY) && !r->measure)
					isnull = true;
				else if (isnull)
					;
				else if (flags & HC_DELTA)
				{
					if (!fresh && !pnull)
					{
						if (t == FLOAT8OID)
							v = Float8GetDatum(DatumGetFloat8(v) - as_double(t, p->slot[s]));
						else
							v = Int64GetDatum(to_slot(t, v) - p->slot[s]);
					}
					isnull = (t == FLOAT8OID) ? DatumGetFloat8(v) == 0 : DatumGetInt64(v) == 0;
				}
				else if (flags & (HC_MIN | HC_MAX))
				{
					if (!fresh && !pnull)
					{
						double		cur = DatumGetFloat8(v),
									prev = as_double(t, p->slot[s]);

						isnull = (flags & HC_MIN) ? !(cur < prev) : !(cur > prev);
					}
				}
				else if (flags & HC_WHENCHANGED)
				{
					if (!fresh && !pnull && to_slot(t, v) == p->slot[s])
						isnull = true;
				}
				hv[j][nh] = v;
				hn[j][nh] = isnull;
			}
			nh++;
		}
		if (nh > 0)
		{
			SPIPlanPtr	plan = history_insert_plan(src, m);

			args = palloc((m->nhist + 1) * sizeof(Datum));
			argnulls = palloc((m->nhist + 2) * sizeof(char));
			args[0] = TimestampTzGetDatum(ts);
			argnulls[0] = ' ';
			for (j = 0; j < m->nhist; j++)
			{
				Oid			t = m->type_of[m->hist_cols[j]];
				int16		len;
				bool		byval;
				char		align;
				int			dims[1] = {nh};
				int			lbs[1] = {1};

				get_typlenbyvalalign(t, &len, &byval, &align);
				args[j + 1] = PointerGetDatum(construct_md_array(hv[j], hn[j], 1, dims, lbs,
																 t, len, byval, align));
				argnulls[j + 1] = ' ';
			}
			argnulls[m->nhist + 1] = '\0';
			if (SPI_execute_plan(plan, args, argnulls, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "writing the history of source \"%s\" failed", src->name);
			written = SPI_processed;
		}
	}

	/* E: the catalog table (names, definitions; dropped objects) */
	if (src->catalog && (n_changed > 0 || n_dropped > 0))
		src->catalog(src, ts, key_array(changed_keys, n_changed),
					 key_array(dropped_keys ? dropped_keys : changed_keys, n_dropped));

	if (!initialized)
		nadia_source_initialized(src, ts);
	return written;
}

/* ---------------------------------------------------------------------
 * nadia_bgw.tracked_state(source): the last-seen values, for the
 * table_state and index_state views
 * ---------------------------------------------------------------------
 */
Datum
nadia_bgw_tracked_state(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const HistSource *src = NULL;
	SourceMap  *m;
	TupleDesc	desc;
	HASH_SEQ_STATUS hs;
	TrackedEntry *e;
	TrackedEntry *copies;
	int			n_copies = 0,
				max_copies = 256,
				j;
	int			i,
				c,
				natts;
	Datum	   *values;
	bool	   *nulls;

	for (i = 0; i < nadia_n_delta_sources; i++)
		if (nadia_delta_sources[i].catalog != NULL && strcmp(nadia_delta_sources[i].name, name) == 0)
			src = &nadia_delta_sources[i];
	if (src == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a tracked source", name)));
	m = source_map(src);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	desc = rsinfo->setDesc;
	natts = desc->natts;
	values = palloc(natts * sizeof(Datum));
	nulls = palloc(natts * sizeof(bool));
	if (thash == NULL)
		PG_RETURN_NULL();

	/*
	 * Copy this database's entries under the shared lock, build the rows
	 * after: a tuplestore may write to disk, which the lock must not wait
	 * for.
	 */
	track_lock(LW_SHARED);
	copies = palloc(max_copies * sizeof(TrackedEntry));
	hash_seq_init(&hs, thash);
	while ((e = hash_seq_search(&hs)) != NULL)
	{
		if (e->key.db != MyDatabaseId || e->key.source != (uint16) (src - nadia_delta_sources))
			continue;
		if (n_copies >= max_copies)
		{
			max_copies *= 2;
			copies = repalloc_huge(copies, (Size) max_copies * sizeof(TrackedEntry));
		}
		memcpy(&copies[n_copies++], e, sizeof(TrackedEntry));
	}
	LWLockRelease(tshared->lock);

	for (j = 0; j < n_copies; j++)
	{
		int			a = 0;

		CHECK_FOR_INTERRUPTS();
		NADIA_DEBUG_OBJECT("state", src->name, j);
		e = &copies[j];
		/* key columns, slots in column order, changed_at */
		for (c = 0; c < src->ncols && a < natts; c++)
		{
			const HistColumn *col = &src->cols[c];

			if (col->flags & HC_KEY)
			{
				values[a] = ObjectIdGetDatum((Oid) e->key.k1);
				nulls[a++] = false;
			}
			else if (m->slot_of[c] >= 0)
			{
				int			s = m->slot_of[c];

				nulls[a] = slot_null(e, s);
				values[a] = nulls[a] ? (Datum) 0 : from_slot(m->type_of[c], e->slot[s]);
				a++;
			}
		}
		if (a < natts)
		{
			nulls[a] = e->changed_at == 0;
			values[a++] = TimestampTzGetDatum(e->changed_at);
		}
		if (a != natts)
			elog(ERROR, "nadia_bgw.tracked_state(%s): the column list does not match the source", name);
		tuplestore_putvalues(rsinfo->setResult, desc, values, nulls);
	}
	return (Datum) 0;
}
