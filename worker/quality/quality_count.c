/*-------------------------------------------------------------------------
 *
 * quality_count.c
 *		The counted facts (docs/quality.md, "Counted facts"): the number of
 *		rows that break a NOT VALID CHECK or NOT NULL constraint, and of
 *		orphaned rows of a NOT VALID foreign key or of one whose triggers
 *		were disabled.
 *
 * Counting reads application tables, which may be large, so it runs in
 * the maintenance machinery, never in the worker's cycle: the maintenance
 * task (worker/maintenance/maintenance.c) calls
 * nadia_quality_count_launch() with the job slots it has left, and when
 * counts are due (nadia_bgw._quality_count_due()) and the maintenance
 * window is open, starts one "count worker", a dynamic background worker
 * that takes one slot of nadia_bgw.maintenance_max_concurrent.  It counts
 * up to nadia_bgw.quality_count_max_per_cycle facts one after another and
 * exits; each attempt is one row of nadia_bgw.quality_counts.
 *
 * One count, in a transaction of its own:
 *	- READ ONLY: nothing it runs can write (the application's table least);
 *	  REPEATABLE READ: its chunks all read the one snapshot;
 *	- AccessShareLock on the table (and on the referenced table of a
 *	  foreign key, and their partitions), taken conditionally: a table
 *	  locked by anyone in a conflicting mode (DDL) is skipped-locked and
 *	  retried at the next start, never waited for; lock_timeout covers
 *	  what the planner locks after (indexes);
 *	- the expression (pg_get_expr of the CHECK, the key's equality
 *	  operators conpfeqop) is deparsed here, under the safe search_path,
 *	  and never stored;
 *	- it runs as the table's owner in a security-restricted operation
 *	  (SetUserIdAndSecContext, as PostgreSQL's index builds, VACUUM and
 *	  the foreign key triggers do), with search_path pg_catalog, pg_temp:
 *	  a function the owner wrote runs with the owner's rights, not ours;
 *	- gentle: no parallel workers, and the table read in chunks of blocks
 *	  (TID Range Scans) with sleeps between them so that the count is busy
 *	  at most nadia_bgw.quality_count_duty_cycle of the time (chunk_done());
 *	- nadia_bgw.quality_count_timeout bounds the whole count, sleeps
 *	  included;
 *	- exact up to nadia_bgw.quality_count_exact_max_size, estimated above
 *	  it from a Bernoulli sample of blocks (quality_count_sample_percent,
 *	  the design of TABLESAMPLE SYSTEM), N times the drawn blocks' mean,
 *	  with a 95 % bound (estimate_leaf(), estimate_from_blocks()).
 * Only numbers leave it: a failure is recorded by its SQLSTATE
 * (nadia_public_error()), its message, which may quote a value, goes to
 * the server log only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/bufmgr.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "quality/quality.h"

/* What the maintenance task hands to the count worker through bgw_extra. */
typedef struct NadiaCountArg
{
	Oid			dbid;
	int			lock_timeout_ms;
} NadiaCountArg;

/* One fact to count, as _quality_count_due() returned it. */
typedef struct CountFact
{
	int64		fact_id;
	Oid			objid;
} CountFact;

/* The result of one attempt, what _quality_count_record() stores. */
typedef struct CountResult
{
	const char *outcome;
	char		error[NADIA_BGW_ERRMSG_LEN];
	int64		counted;
	bool		exact;
	int64		bound;
	double		percent;
	int64		pages;
} CountResult;

/* The count worker this process started (the maintenance task's). */
static BackgroundWorkerHandle *count_handle = NULL;

/* ---------------------------------------------------------------------
 * The launcher, in the worker's maintenance task
 * ---------------------------------------------------------------------
 */

bool
nadia_quality_count_running(void)
{
	bool		isnull;
	pid_t		pid;

	if (count_handle != NULL)
	{
		if (GetBackgroundWorkerPid(count_handle, &pid) != BGWH_STOPPED)
			return true;
		pfree(count_handle);
		count_handle = NULL;
	}
	/* one started by an earlier worker process has no handle here */
	nadia_spi_check(SPI_execute("SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity"
								" WHERE backend_type = '" NADIA_QUALITY_COUNT_TYPE "'"
								"   AND datname = pg_catalog.current_database()",
								true, 1),
					SPI_OK_SELECT, "looking for a count worker");
	return nadia_spi_getint8(0, 1, &isnull) > 0;
}

/* The boolean the last SPI query returned (NULL: false). */
static bool
first_bool(void)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

	return !isnull && DatumGetBool(d);
}

void
nadia_quality_count_launch(int free_slots, int lock_timeout_ms)
{
	BackgroundWorker worker;
	NadiaCountArg arg;
	MemoryContext old;
	Oid			types[1] = {INT4OID};
	Datum		values[1];
	pid_t		pid;

	if (!nadia_quality_count_enabled || nadia_quality_count_max_per_cycle <= 0 ||
		free_slots <= 0)
		return;

	/* a schema still at 1.0 has nothing to count into */
	if (!nadia_function_exists("nadia_bgw._quality_count_due(timestamp with time zone, interval, integer)"))
		return;

	values[0] = Int32GetDatum(nadia_quality_count_interval);
	nadia_spi_check(nadia_spi_exec("SELECT nadia_bgw.maintenance_window_open(pg_catalog.now())"
								   "   AND EXISTS (SELECT 1 FROM nadia_bgw._quality_count_due("
								   "          pg_catalog.now(), pg_catalog.make_interval(secs => $1), 1))",
								   1, types, values, NULL, true, 1),
					SPI_OK_SELECT, "looking for due counts");
	if (!first_bool())
		return;

	memset(&arg, 0, sizeof(arg));
	arg.dbid = MyDatabaseId;
	arg.lock_timeout_ms = lock_timeout_ms;

	StaticAssertStmt(sizeof(NadiaCountArg) <= BGW_EXTRALEN,
					 "count argument must fit in bgw_extra");
	nadia_dynamic_worker_init(&worker, "nadia_quality_count_main",
							  NADIA_QUALITY_COUNT_TYPE, &arg, sizeof(arg));

	old = MemoryContextSwitchTo(TopMemoryContext);
	if (!RegisterDynamicBackgroundWorker(&worker, &count_handle))
	{
		MemoryContextSwitchTo(old);
		count_handle = NULL;
		ereport(LOG,
				(errmsg("nadia_bgw: could not start the quality count worker: no background worker slot free"),
				 errhint("Raise max_worker_processes.")));
		return;
	}
	MemoryContextSwitchTo(old);
	/* so that the next cycle's pg_stat_activity lookup sees it */
	if (WaitForBackgroundWorkerStartup(count_handle, &pid) != BGWH_STARTED)
	{
		pfree(count_handle);
		count_handle = NULL;
		return;
	}
	ereport(LOG,
			(errmsg("nadia_bgw: started the quality count worker (pid %d)", (int) pid)));
}

/* ---------------------------------------------------------------------
 * The count worker
 * ---------------------------------------------------------------------
 */

/* Lock "relid" and its partitions or children conditionally. */
static bool
lock_tree(Oid relid)
{
	List	   *rels;
	ListCell   *lc;

	if (!ConditionalLockRelationOid(relid, AccessShareLock))
		return false;
	rels = find_all_inheritors(relid, NoLock, NULL);
	foreach(lc, rels)
	{
		Oid			child = lfirst_oid(lc);

		if (child != relid && !ConditionalLockRelationOid(child, AccessShareLock))
			return false;
	}
	return true;
}

/* The owner of "relid" (locked by the caller). */
static Oid
rel_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the table no longer exists")));
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * The relations whose rows a count reads: "relid" itself (ONLY), or the
 * partitions with storage of a partitioned table.  A foreign table
 * partition has no blocks to count in chunks and is left out.
 */
static List *
count_leaves(Oid relid, bool only)
{
	List	   *rels = only ? list_make1_oid(relid) : find_all_inheritors(relid, NoLock, NULL);
	List	   *leaves = NIL;
	ListCell   *lc;

	foreach(lc, rels)
	{
		char		relkind = get_rel_relkind(lfirst_oid(lc));

		if (RELKIND_HAS_STORAGE(relkind))
			leaves = lappend_oid(leaves, lfirst_oid(lc));
	}
	return leaves;
}

/* Blocks of "relid" (locked by the caller), now. */
static BlockNumber
leaf_blocks(Oid relid)
{
	Relation	rel = try_relation_open(relid, NoLock);
	BlockNumber blocks;

	if (rel == NULL)
		return 0;
	blocks = RelationGetNumberOfBlocks(rel);
	relation_close(rel, NoLock);
	return blocks;
}

/* "schema.table", quoted */
static const char *
qualified_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* "ONLY schema.table AS nadia_f" */
static char *
leaf_from(Oid relid)
{
	return psprintf("ONLY %s AS nadia_f", qualified_name(relid));
}

/*
 * The condition a row of the constraint's table breaks it by, into
 * "cond", the row being "nadia_f"; "*only" says whether the table is
 * counted alone (ONLY unless partitioned, as the foreign key triggers do:
 * an inheritance child's copy of a CHECK is a fact of its own; a foreign
 * key is not inherited).  Deparsed under the safe search_path (the
 * caller's), so every name outside pg_catalog is qualified.
 */
static void
violation_condition(HeapTuple contup, StringInfo cond, bool *only)
{
	Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(contup);
	bool		isnull;
	Datum		d;
	int			i;

	*only = get_rel_relkind(con->conrelid) != RELKIND_PARTITIONED_TABLE;

	if (con->contype == CONSTRAINT_CHECK)
	{
		char	   *expr;

		d = SysCacheGetAttr(CONSTROID, contup, Anum_pg_constraint_conbin, &isnull);
		if (isnull)
			elog(ERROR, "null conbin for constraint %u", con->oid);
		expr = TextDatumGetCString(DirectFunctionCall2(pg_get_expr, d,
													   ObjectIdGetDatum(con->conrelid)));
		/* a CHECK fails only when FALSE, not NULL */
		appendStringInfo(cond, "(%s) IS FALSE", expr);
		return;
	}

	/* NOT NULL (18) and FOREIGN KEY: their columns */
	{
		ArrayType  *arr;
		Datum	   *keys;
		int			nkeys;
		Datum	   *ops = NULL;
		int			nops = 0;
		Oid			confrelid = con->confrelid;

		d = SysCacheGetAttr(CONSTROID, contup, Anum_pg_constraint_conkey, &isnull);
		if (isnull)
			elog(ERROR, "null conkey for constraint %u", con->oid);
		arr = DatumGetArrayTypeP(d);
		deconstruct_array(arr, INT2OID, 2, true, TYPALIGN_SHORT, &keys, NULL, &nkeys);

		if (con->contype != CONSTRAINT_FOREIGN)
		{
			/* NOT NULL */
			appendStringInfo(cond, "nadia_f.%s IS NULL",
							 quote_identifier(get_attname(con->conrelid,
														  DatumGetInt16(keys[0]), false)));
			return;
		}

		{
			Datum	   *fkeys;
			int			nfkeys;
			bool		ponly;

			d = SysCacheGetAttr(CONSTROID, contup, Anum_pg_constraint_confkey, &isnull);
			if (isnull)
				elog(ERROR, "null confkey for constraint %u", con->oid);
			deconstruct_array(DatumGetArrayTypeP(d), INT2OID, 2, true, TYPALIGN_SHORT,
							  &fkeys, NULL, &nfkeys);
			d = SysCacheGetAttr(CONSTROID, contup, Anum_pg_constraint_conpfeqop, &isnull);
			if (isnull)
				elog(ERROR, "null conpfeqop for constraint %u", con->oid);
			deconstruct_array(DatumGetArrayTypeP(d), OIDOID, 4, true, TYPALIGN_INT,
							  &ops, NULL, &nops);
			if (nfkeys != nkeys || nops != nkeys)
				elog(ERROR, "inconsistent foreign key %u", con->oid);

			/*
			 * Orphaned: the referencing columns are not NULL (MATCH SIMPLE:
			 * all of them; MATCH FULL: any of them, a row with some but not
			 * all NULL breaks it) and no referenced row equals them.
			 */
			appendStringInfoChar(cond, '(');
			for (i = 0; i < nkeys; i++)
				appendStringInfo(cond, "%snadia_f.%s IS NOT NULL",
								 i == 0 ? "" :
								 con->confmatchtype == FKCONSTR_MATCH_FULL ? " OR " : " AND ",
								 quote_identifier(get_attname(con->conrelid,
															  DatumGetInt16(keys[i]), false)));
			ponly = get_rel_relkind(confrelid) != RELKIND_PARTITIONED_TABLE;
			appendStringInfo(cond, ") AND NOT EXISTS (SELECT 1 FROM %s%s AS nadia_p WHERE ",
							 ponly ? "ONLY " : "", qualified_name(confrelid));
			for (i = 0; i < nkeys; i++)
			{
				AttrNumber	pkatt = DatumGetInt16(fkeys[i]);
				AttrNumber	fkatt = DatumGetInt16(keys[i]);
				char	   *l = psprintf("nadia_p.%s",
										 quote_identifier(get_attname(confrelid, pkatt, false)));
				char	   *r = psprintf("nadia_f.%s",
										 quote_identifier(get_attname(con->conrelid, fkatt, false)));

				if (i > 0)
					appendStringInfoString(cond, " AND ");
				/* as the foreign key triggers: casts where types differ */
				generate_operator_clause(cond, l, get_atttype(confrelid, pkatt),
										 DatumGetObjectId(ops[i]),
										 r, get_atttype(con->conrelid, fkatt));
			}
			appendStringInfoChar(cond, ')');
		}
	}
}

/*
 * Chunks.  A count reads its table a chunk of blocks at a time and sleeps
 * between chunks, so that it is busy at most
 * nadia_bgw.quality_count_duty_cycle of the wall time: VACUUM's cost
 * delay, measured in time rather than in page costs, since what the
 * application loses is CPU (and I/O) time.  A chunk's size adapts so that
 * it takes about COUNT_CHUNK_TARGET_US: short enough that the
 * application's queries never wait long behind it, long enough that the
 * per-chunk overhead (one execution of a prepared statement) stays small.
 */
#define COUNT_CHUNK_TARGET_US	5000
#define COUNT_EXACT_CHUNK_START	64
#define COUNT_EXACT_CHUNK_MAX	8192
#define COUNT_SAMPLE_CHUNK_START 8
#define COUNT_SAMPLE_CHUNK_MAX	1024

/* The state of one count across its chunks. */
typedef struct CountScan
{
	TimestampTz deadline;		/* quality_count_timeout from the start */
	int			chunk;			/* blocks in the next chunk */
	int			chunk_max;
	double		owed_us;		/* sleep the duty cycle still asks for */
	int64		chunks;
	CountResult *res;			/* its pages: the blocks visited, kept on a failure */
	/* exact: the violating rows */
	int64		counted;
	/* estimate: the current leaf's sampled blocks, their rows and y_b */
	double		leaf_rows;
	double		leaf_sum;
	double		leaf_sumsq;
	double		leaf_n;
	/* estimate: the leaves done (estimate_leaf()) */
	double		est;			/* estimated violating rows */
	double		var;			/* its estimated variance */
	double		rows;			/* rows of the sampled blocks */
	double		sum;			/* violating rows in them */
	double		blocks;			/* sampled blocks */
	double		all_blocks;		/* blocks of the leaves */
} CountScan;

/* The whole count, sleeps included, is bounded by quality_count_timeout. */
static void
check_deadline(const CountScan *scan)
{
	CHECK_FOR_INTERRUPTS();
	if (GetCurrentTimestamp() >= scan->deadline)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("the count took longer than nadia_bgw.quality_count_timeout"),
				 errhint("Raise nadia_bgw.quality_count_timeout or nadia_bgw.quality_count_duty_cycle.")));
}

/*
 * After a chunk begun at "began": the next chunk's size and the sleep the
 * duty cycle owes.  The sleep is interruptible (the latch, a cancel by the
 * timeout, SIGTERM) and shows as a wait event.
 */
static void
chunk_done(CountScan *scan, TimestampTz began)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		busy = now - began;
	double		duty = nadia_quality_count_duty_cycle;

	scan->chunks++;
	if (busy < COUNT_CHUNK_TARGET_US / 2)
		scan->chunk = Min(scan->chunk * 2, scan->chunk_max);
	else if (busy > COUNT_CHUNK_TARGET_US * 2)
		scan->chunk = Max(scan->chunk / 2, 1);

	if (duty >= 1.0)
		return;
	scan->owed_us += (double) busy * (1.0 - duty) / duty;
	/* under a millisecond is carried over to the next chunk */
	while (scan->owed_us >= 1000.0)
	{
		long		ms = (long) (scan->owed_us / 1000.0);
		TimestampTz before = now;

		/* sleeping past the deadline is no use: wake at it and end */
		ms = Max(Min(ms, (long) ((scan->deadline - now) / 1000) + 1), 1);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 ms, nadia_wait_event(NADIA_WAIT_JOB));
		ResetLatch(MyLatch);
		check_deadline(scan);
		now = GetCurrentTimestamp();
		scan->owed_us -= (double) (now - before);
	}
}

/*
 * Exact: the violating rows of "leaf", chunk by chunk, each a TID Range
 * Scan of blocks [a, b).  The blocks are counted after the transaction's
 * snapshot was taken, so every row it sees lies in them: with the one
 * snapshot of the whole count (REPEATABLE READ), the sum of the chunks is
 * the count a single statement would have made.
 */
static void
count_exact_leaf(Oid leaf, const char *cond, CountScan *scan)
{
	BlockNumber nblocks = leaf_blocks(leaf);
	BlockNumber b = 0;
	char	   *sql;
	SPIPlanPtr	plan;
	Oid			types[2] = {TIDOID, TIDOID};

	if (nblocks == 0)
		return;
	sql = psprintf("SELECT pg_catalog.count(*) FROM %s"
				   " WHERE nadia_f.ctid >= $1 AND nadia_f.ctid < $2 AND (%s)",
				   leaf_from(leaf), cond);
	plan = SPI_prepare(sql, 2, types);
	if (plan == NULL)
		elog(ERROR, "preparing a count failed: %s", SPI_result_code_string(SPI_result));
	while (b < nblocks)
	{
		BlockNumber e = b + Min((BlockNumber) scan->chunk, nblocks - b);
		ItemPointerData lo;
		ItemPointerData hi;
		Datum		values[2];
		TimestampTz began;
		bool		isnull;

		check_deadline(scan);
		ItemPointerSet(&lo, b, 0);
		ItemPointerSet(&hi, e, 0);
		values[0] = PointerGetDatum(&lo);
		values[1] = PointerGetDatum(&hi);
		began = GetCurrentTimestamp();
		nadia_spi_check(SPI_execute_plan(plan, values, NULL, true, 1),
						SPI_OK_SELECT, "counting");
		scan->counted += nadia_spi_getint8(0, 1, &isnull);
		scan->res->pages += e - b;
		b = e;
		chunk_done(scan, began);
	}
	SPI_freeplan(plan);
}

/* Count the sampled blocks "blks[0 .. n)" of the prepared statement. */
static void
count_sample_chunk(SPIPlanPtr plan, Datum *blks, int n, CountScan *scan)
{
	Datum		values[1];
	TimestampTz began;
	uint64		i;
	bool		isnull;

	check_deadline(scan);
	values[0] = PointerGetDatum(construct_array(blks, n, INT8OID, 8, FLOAT8PASSBYVAL,
												TYPALIGN_DOUBLE));
	began = GetCurrentTimestamp();
	nadia_spi_check(SPI_execute_plan(plan, values, NULL, true, 0),
					SPI_OK_SELECT, "counting a sample");
	for (i = 0; i < SPI_processed; i++)
	{
		double		y = (double) nadia_spi_getint8(i, 2, &isnull);

		scan->leaf_rows += (double) nadia_spi_getint8(i, 1, &isnull);
		scan->leaf_sum += y;
		scan->leaf_sumsq += y * y;
		scan->leaf_n += 1;
	}
	scan->res->pages += n;
	pfree(DatumGetPointer(values[0]));
	chunk_done(scan, began);
}

/*
 * One leaf's share of the estimate.  Given the number n of blocks the
 * Bernoulli draw kept of the leaf's N, they are a simple random sample of
 * n blocks (clusters), so the leaf's total is estimated by N times their
 * mean y_b, with variance N^2 (1 - n/N) s^2 / n (s^2 the sample variance
 * of y_b; 1 - n/N the finite-population correction, 0 when every block
 * was read).  The leaves are strata: estimates and variances add up.
 * Unlike the Horvitz-Thompson estimate sum(y_b) / pi, this one does not
 * carry the randomness of n itself: where violations are spread evenly it
 * is several times tighter.  A leaf with fewer than two blocks drawn (a
 * small partition) has no s^2 and takes the Horvitz-Thompson estimate,
 * sum(y_b) / pi, variance (1 - pi) sum(y_b^2) / pi^2.
 */
static void
estimate_leaf(CountScan *scan, double nblocks, double pi)
{
	double		n = scan->leaf_n;

	if (n >= 2)
	{
		double		mean = scan->leaf_sum / n;
		double		s2 = Max(0.0, (scan->leaf_sumsq - scan->leaf_sum * mean) / (n - 1));

		scan->est += nblocks * mean;
		scan->var += nblocks * nblocks * Max(0.0, 1.0 - n / nblocks) * s2 / n;
	}
	else
	{
		scan->est += scan->leaf_sum / pi;
		scan->var += scan->leaf_sumsq * (1.0 - pi) / (pi * pi);
	}
	scan->rows += scan->leaf_rows;
	scan->sum += scan->leaf_sum;
	scan->blocks += n;
	scan->all_blocks += nblocks;
	scan->leaf_rows = scan->leaf_sum = scan->leaf_sumsq = scan->leaf_n = 0;
}

/*
 * Estimate: each block of "leaf" is drawn independently with probability
 * "pi" (the Bernoulli sample of blocks TABLESAMPLE SYSTEM takes, drawn
 * here so that it can be read in chunks), and the drawn blocks are
 * counted a chunk at a time, each block by a TID Range Scan of its own
 * (LATERAL over the array of block numbers).  An empty block is a sampled
 * block of 0 rows.
 */
static void
count_sample_leaf(Oid leaf, const char *cond, double pi, pg_prng_state *rng,
				  CountScan *scan)
{
	BlockNumber nblocks = leaf_blocks(leaf);
	BlockNumber b;
	char	   *sql;
	SPIPlanPtr	plan;
	Oid			types[1] = {INT8ARRAYOID};
	Datum	   *blks;
	int			n = 0;

	if (nblocks == 0)
		return;
	sql = psprintf("SELECT nadia_c.nadia_n, nadia_c.nadia_y"
				   "  FROM pg_catalog.unnest($1) AS nadia_k(nadia_blk),"
				   "  LATERAL (SELECT pg_catalog.count(*) AS nadia_n,"
				   "                  pg_catalog.count(*) FILTER (WHERE nadia_s.nadia_v) AS nadia_y"
				   "             FROM (SELECT (%s) AS nadia_v FROM %s"
				   "                    WHERE nadia_f.ctid >= pg_catalog.format('(%%s,0)', nadia_k.nadia_blk)::pg_catalog.tid"
				   "                      AND nadia_f.ctid < pg_catalog.format('(%%s,0)', nadia_k.nadia_blk + 1)::pg_catalog.tid"
				   "                  ) nadia_s) nadia_c",
				   cond, leaf_from(leaf));
	plan = SPI_prepare(sql, 1, types);
	if (plan == NULL)
		elog(ERROR, "preparing a count failed: %s", SPI_result_code_string(SPI_result));
	blks = palloc(sizeof(Datum) * scan->chunk_max);
	for (b = 0; b < nblocks; b++)
	{
		if (pg_prng_double(rng) < pi)
			blks[n++] = Int64GetDatum((int64) b);
		if (n > 0 && (n >= scan->chunk || b == nblocks - 1))
		{
			count_sample_chunk(plan, blks, n, scan);
			n = 0;
		}
	}
	pfree(blks);
	SPI_freeplan(plan);
	estimate_leaf(scan, (double) nblocks, pi);
}

/*
 * The estimate from the sampled blocks (estimate_leaf(), summed over the
 * leaves); the bound is 1.96 standard errors.  When the sample holds no
 * violating row that would be 0, which says nothing: the bound is then
 * the rule of three, up to 3 / f violating blocks may have been missed (f
 * the share of blocks read), each of the sampled blocks' average rows,
 * times 1 - f.
 */
static void
estimate_from_blocks(CountResult *res, const CountScan *scan, double percent)
{
	double		half,
				missed = 0;

	res->exact = false;
	res->percent = percent;
	res->counted = (int64) rint(scan->est);
	half = 1.96 * sqrt(scan->var);
	/* none seen: the variance estimate is 0, the rule of three is not */
	if (scan->sum == 0 && scan->blocks > 0 && scan->blocks < scan->all_blocks)
	{
		double		f = scan->blocks / scan->all_blocks;

		missed = 3.0 / f * (scan->rows / scan->blocks) * (1.0 - f);
	}
	res->bound = (int64) ceil(Max(half, missed));
}

/*
 * The caller's transaction is read-only, REPEATABLE READ, and holds the
 * locks; "deadline" ends the count (quality_count_timeout).
 */
static void
count_rows(HeapTuple contup, Oid owner, TimestampTz deadline, CountResult *res)
{
	Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(contup);
	StringInfoData cond;
	bool		only;
	bool		exact;
	List	   *leaves;
	ListCell   *lc;
	int64		blocks = 0;
	CountScan	scan;
	pg_prng_state rng;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	double		percent = nadia_quality_count_sample_percent;

	initStringInfo(&cond);

	/* deparse and run under the safe search_path, run as the owner */
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", NADIA_SAFE_SEARCH_PATH, PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	/* a policy that would hide rows from the owner fails the count */
	(void) set_config_option("row_security", "off", PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	/* never the application's other cores */
	(void) set_config_option("max_parallel_workers_per_gather", "0", PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	/*
	 * No JIT: a chunk's plan is costed for the whole table (the TID range is
	 * a parameter), over jit_above_cost, and compiling it would take longer
	 * than the chunk (150 ms against well under 1 ms for a sampled block).
	 */
	(void) set_config_option("jit", "off", PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	/*
	 * One plan for all the chunks of a relation (the TID range, the block
	 * numbers are its parameters), not a custom plan per chunk: planning a
	 * foreign key's anti-join took as long as counting the chunk.  And the
	 * referenced table probed by its key's index for each row, as the
	 * foreign key triggers do, never hashed or sorted whole for each chunk:
	 * that would cost a chunk the size of the referenced table.
	 */
	(void) set_config_option("plan_cache_mode", "force_generic_plan", PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (con->contype == CONSTRAINT_FOREIGN)
	{
		(void) set_config_option("enable_hashjoin", "off", PGC_SUSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		(void) set_config_option("enable_mergejoin", "off", PGC_SUSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	}

	violation_condition(contup, &cond, &only);
	leaves = count_leaves(con->conrelid, only);
	foreach(lc, leaves)
		blocks += leaf_blocks(lfirst_oid(lc));
	exact = blocks <= nadia_quality_count_exact_max_size || percent >= 100.0;

	memset(&scan, 0, sizeof(scan));
	scan.deadline = deadline;
	scan.res = res;
	scan.chunk = exact ? COUNT_EXACT_CHUNK_START : COUNT_SAMPLE_CHUNK_START;
	scan.chunk_max = exact ? COUNT_EXACT_CHUNK_MAX : COUNT_SAMPLE_CHUNK_MAX;
	/* a different sample at each count, as TABLESAMPLE SYSTEM without REPEATABLE */
	pg_prng_seed(&rng, (uint64) GetCurrentTimestamp() ^ ((uint64) con->oid << 32) ^ (uint64) MyProcPid);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION | SECURITY_NOFORCE_RLS);
	/* the whole count, the sleeps between its chunks included */
	enable_timeout_at(STATEMENT_TIMEOUT, deadline);
	foreach(lc, leaves)
	{
		if (exact)
			count_exact_leaf(lfirst_oid(lc), cond.data, &scan);
		else
			count_sample_leaf(lfirst_oid(lc), cond.data, percent / 100.0, &rng, &scan);
	}
	disable_timeout(STATEMENT_TIMEOUT, false);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	AtEOXact_GUC(false, save_nestlevel);

	if (exact)
	{
		res->exact = true;
		res->counted = scan.counted;
		res->bound = 0;
	}
	else
		estimate_from_blocks(res, &scan, percent);
	res->outcome = "done";
	ereport(DEBUG1,
			(errmsg("nadia_bgw: quality count of constraint %u: %s, " INT64_FORMAT " chunks, " INT64_FORMAT " blocks",
					con->oid, exact ? "exact" : "estimate", scan.chunks, res->pages)));
}

/* The constraint's catalog row, a copy; an error when it was dropped. */
static HeapTuple
constraint_tuple(Oid objid)
{
	HeapTuple	tup = SearchSysCacheCopy1(CONSTROID, ObjectIdGetDatum(objid));

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the constraint no longer exists")));
	return tup;
}

/*
 * The count worker's transactions: each SPI connected, a snapshot active;
 * "read_only" for a count, REPEATABLE READ READ ONLY.
 */
static void
begin_txn(bool read_only)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (read_only)
	{
		/* one snapshot for all the chunks of a count: exact stays exact */
		XactIsoLevel = XACT_REPEATABLE_READ;
		XactReadOnly = true;
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
end_txn(void)
{
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
}

/*
 * One attempt at fact "f": its own read-only transaction; an error is
 * caught, logged and becomes the outcome.  Fills "res".
 */
static void
count_one(const CountFact *f, CountResult *res, MemoryContext ctx)
{
	TimestampTz start = GetCurrentTimestamp();
	TimestampTz deadline = TimestampTzPlusMilliseconds(start, nadia_quality_count_timeout);

	res->outcome = NULL;
	res->error[0] = '\0';
	PG_TRY();
	{
		HeapTuple	contup;
		Form_pg_constraint con;
		Oid			owner;

		begin_txn(true);
		/* the constraint, not its table: a number, never a name */
		pgstat_report_activity(STATE_RUNNING,
							   psprintf("counting the rows of constraint %u", f->objid));

		contup = constraint_tuple(f->objid);
		con = (Form_pg_constraint) GETSTRUCT(contup);
		if (!lock_tree(con->conrelid) ||
			(con->contype == CONSTRAINT_FOREIGN && !lock_tree(con->confrelid)))
		{
			res->outcome = "skipped-locked";
			snprintf(res->error, sizeof(res->error),
					 "55P03: a table of the constraint is locked, retried at the next start");
		}
		else
		{
			/* the locks processed invalidations: look again */
			heap_freetuple(contup);
			contup = constraint_tuple(f->objid);
			con = (Form_pg_constraint) GETSTRUCT(contup);
			owner = rel_owner(con->conrelid);
			count_rows(contup, owner, deadline, res);
		}
		end_txn();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		disable_timeout(STATEMENT_TIMEOUT, false);
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(ctx);
		edata = CopyErrorData();
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED &&
			GetCurrentTimestamp() >= deadline)
		{
			res->outcome = "timeout";
			snprintf(res->error, sizeof(res->error),
					 "57014: longer than nadia_bgw.quality_count_timeout (%d ms)",
					 nadia_quality_count_timeout);
		}
		else if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
		{
			res->outcome = "skipped-locked";
			snprintf(res->error, sizeof(res->error),
					 "55P03: lock_timeout on an index or partition, retried at the next start");
		}
		else
		{
			/* the message may quote a value of the rows: the log only */
			res->outcome = "failed";
			nadia_public_error(edata->sqlerrcode, res->error, sizeof(res->error));
		}
		FreeErrorData(edata);
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();
	QueryCancelPending = false;
	MemoryContextSwitchTo(ctx);
}

/* Record one attempt through nadia_bgw._quality_count_record(). */
static void
record_count(const CountFact *f, const CountResult *res, TimestampTz started,
			 TimestampTz ended)
{
	Oid			types[10] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, BOOLOID,
	INT8OID, FLOAT4OID, INT8OID, TEXTOID, TEXTOID};
	Datum		values[10];
	char		nulls[11] = "          ";
	bool		done = strcmp(res->outcome, "done") == 0;

	begin_txn(false);

	values[0] = Int64GetDatum(f->fact_id);
	values[1] = TimestampTzGetDatum(started);
	values[2] = TimestampTzGetDatum(ended);
	values[3] = Int64GetDatum(res->counted);
	values[4] = BoolGetDatum(res->exact);
	values[5] = Int64GetDatum(res->bound);
	values[6] = Float4GetDatum((float4) res->percent);
	values[7] = Int64GetDatum(res->pages);
	values[8] = CStringGetTextDatum(res->outcome);
	values[9] = CStringGetTextDatum(res->error);
	if (!done)
		nulls[3] = nulls[4] = nulls[5] = 'n';
	if (!done || res->exact)
		nulls[6] = 'n';
	if (res->error[0] == '\0')
		nulls[9] = 'n';
	nadia_spi_check(nadia_spi_exec("SELECT nadia_bgw._quality_count_record($1, $2, $3, $4, $5,"
								   " $6, $7, $8, $9, $10)",
								   10, types, values, nulls, false, 0),
					SPI_OK_SELECT, "recording a count");
	end_txn();
}

/* The facts to count now (nadia_bgw._quality_count_due()). */
static CountFact *
due_facts(int *n, MemoryContext ctx)
{
	Oid			types[2] = {INT4OID, INT4OID};
	Datum		values[2];
	CountFact  *facts;
	uint64		i;
	bool		isnull;

	begin_txn(false);
	values[0] = Int32GetDatum(nadia_quality_count_interval);
	values[1] = Int32GetDatum(nadia_quality_count_max_per_cycle);
	nadia_spi_check(nadia_spi_exec("SELECT fact_id, objid FROM nadia_bgw._quality_count_due("
								   "pg_catalog.now(), pg_catalog.make_interval(secs => $1), $2)",
								   2, types, values, NULL, true, 0),
					SPI_OK_SELECT, "reading the due counts");
	facts = MemoryContextAlloc(ctx, sizeof(CountFact) * (SPI_processed + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		facts[i].fact_id = nadia_spi_getint8(i, 1, &isnull);
		facts[i].objid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc, 2, &isnull));
	}
	*n = (int) SPI_processed;
	end_txn();
	return facts;
}

void
nadia_quality_count_main(Datum main_arg)
{
	NadiaCountArg arg;
	MemoryContext ctx;
	CountFact  *facts;
	int			n;
	int			i;
	char		buf[32];

	memcpy(&arg, MyBgworkerEntry->bgw_extra, sizeof(arg));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(arg.dbid, InvalidOid, 0);
	pgstat_report_appname("nadia_bgw quality count");
	nadia_session_pin();
	SetConfigOption("pg_stat_statements.track", "none", PGC_SUSET, PGC_S_SESSION);
	snprintf(buf, sizeof(buf), "%d", arg.lock_timeout_ms);
	SetConfigOption("lock_timeout", buf, PGC_SUSET, PGC_S_SESSION);
	/* ours is armed around the count only (count_rows()) */
	SetConfigOption("statement_timeout", "0", PGC_SUSET, PGC_S_SESSION);

	ctx = AllocSetContextCreate(TopMemoryContext, "nadia_bgw quality count",
								ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(ctx);
	facts = due_facts(&n, ctx);
	for (i = 0; i < n; i++)
	{
		CountResult res;
		TimestampTz started;

		CHECK_FOR_INTERRUPTS();
		memset(&res, 0, sizeof(res));
		started = GetCurrentTimestamp();
		count_one(&facts[i], &res, ctx);
		record_count(&facts[i], &res, started, GetCurrentTimestamp());
		ereport(DEBUG1,
				(errmsg("nadia_bgw: quality count of fact " INT64_FORMAT ": %s",
						facts[i].fact_id, res.outcome)));
	}
	ereport(LOG,
			(errmsg("nadia_bgw: quality count worker done: %d counts", n)));
	proc_exit(0);
}
