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
 *	- statement_timeout nadia_bgw.quality_count_timeout;
 *	- exact up to nadia_bgw.quality_count_exact_max_size, estimated above
 *	  it from TABLESAMPLE SYSTEM (quality_count_sample_percent) with a 95 %
 *	  bound (estimate_from_blocks()).
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
#include "executor/instrument.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/bufmgr.h"
#include "storage/ipc.h"
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
	nadia_spi_check(SPI_execute("SELECT pg_catalog.to_regprocedure('nadia_bgw._quality_count_due("
								"timestamp with time zone, interval, integer)') IS NOT NULL",
								true, 1),
					SPI_OK_SELECT, "looking for the counted facts");
	if (!first_bool())
		return;
	if (nadia_quality_count_running())
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

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "nadia_bgw");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "nadia_quality_count_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "nadia_bgw quality count");
	snprintf(worker.bgw_type, BGW_MAXLEN, NADIA_QUALITY_COUNT_TYPE);
	worker.bgw_notify_pid = MyProcPid;
	StaticAssertStmt(sizeof(NadiaCountArg) <= BGW_EXTRALEN,
					 "count argument must fit in bgw_extra");
	memcpy(worker.bgw_extra, &arg, sizeof(arg));

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

/* Blocks of "relid", its partitions included when it is partitioned. */
static int64
tree_blocks(Oid relid, bool only)
{
	List	   *rels = only ? list_make1_oid(relid) : find_all_inheritors(relid, NoLock, NULL);
	ListCell   *lc;
	int64		blocks = 0;

	foreach(lc, rels)
	{
		Relation	rel = try_relation_open(lfirst_oid(lc), NoLock);

		if (rel == NULL)
			continue;
		if (RELKIND_HAS_STORAGE(rel->rd_rel->relkind))
			blocks += RelationGetNumberOfBlocks(rel);
		relation_close(rel, NoLock);
	}
	return blocks;
}

/*
 * "FROM [ONLY] schema.table": ONLY unless partitioned, as the foreign key
 * triggers do (an inheritance child's copy of a CHECK is a fact of its
 * own; a foreign key is not inherited).
 */
static void
append_rel(StringInfo buf, Oid relid, bool *only)
{
	*only = get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE;
	appendStringInfo(buf, "%s%s", *only ? "ONLY " : "",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												get_rel_name(relid)));
}

/*
 * The condition a row of the constraint's table breaks it by, into
 * "cond", and the table to count.  Deparsed under the safe search_path
 * (the caller's), so every name outside pg_catalog is qualified.
 */
static void
violation_condition(HeapTuple contup, StringInfo cond, StringInfo from, bool *only)
{
	Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(contup);
	bool		isnull;
	Datum		d;
	int			i;

	append_rel(from, con->conrelid, only);
	appendStringInfoString(from, " AS nadia_f");

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
			StringInfoData pk;

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
			appendStringInfoString(cond, ") AND NOT EXISTS (SELECT 1 FROM ");
			append_rel(cond, confrelid, &ponly);
			appendStringInfoString(cond, " AS nadia_p WHERE ");
			initStringInfo(&pk);
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
 * The estimate from a TABLESAMPLE SYSTEM sample: SYSTEM keeps each block
 * independently with probability pi = percent / 100 (a Bernoulli sample of
 * clusters).  With y_b the violating rows of sampled block b, the
 * Horvitz-Thompson estimate of the total is sum(y_b) / pi and an unbiased
 * estimate of its variance sum(y_b^2) (1 - pi) / pi^2, (1 - pi) being the
 * finite-population correction (0 when every block is read).  The bound is
 * 1.96 standard errors.  When the sample holds no violating row that
 * would be 0, which says nothing: the bound is then the rule of three, up
 * to 3 / pi violating blocks may have been missed, each of the average
 * sampled block's rows (times 1 - pi).
 */
static void
estimate_from_blocks(CountResult *res, double percent)
{
	double		pi = percent / 100.0;
	double		sum = 0,
				sumsq = 0,
				rows = 0,
				blocks = 0,
				half,
				missed;
	uint64		i;
	bool		isnull;

	for (i = 0; i < SPI_processed; i++)
	{
		double		y = (double) nadia_spi_getint8(i, 2, &isnull);

		rows += (double) nadia_spi_getint8(i, 1, &isnull);
		sum += y;
		sumsq += y * y;
		blocks += 1;
	}
	res->exact = false;
	res->percent = percent;
	res->counted = (int64) rint(sum / pi);
	half = 1.96 * sqrt(sumsq * (1.0 - pi)) / pi;
	/* none seen: the variance estimate is 0, the rule of three is not */
	missed = (sum > 0 || pi >= 1.0 || blocks == 0) ? 0 :
		3.0 / pi * (rows / blocks) * (1.0 - pi);
	res->bound = (int64) ceil(Max(half, missed));
}

/* The caller's transaction is read-only and holds the locks. */
static void
count_rows(HeapTuple contup, Oid owner, CountResult *res)
{
	Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(contup);
	StringInfoData cond;
	StringInfoData from;
	StringInfoData sql;
	bool		only;
	bool		exact;
	int64		blocks;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	int			rc;
	bool		isnull;
	double		percent = nadia_quality_count_sample_percent;

	initStringInfo(&cond);
	initStringInfo(&from);
	initStringInfo(&sql);

	/* deparse and run under the safe search_path, run as the owner */
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", NADIA_SAFE_SEARCH_PATH, PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	/* a policy that would hide rows from the owner fails the count */
	(void) set_config_option("row_security", "off", PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	violation_condition(contup, &cond, &from, &only);
	blocks = tree_blocks(con->conrelid, only);
	exact = blocks <= nadia_quality_count_exact_max_size || percent >= 100.0;
	if (exact)
		appendStringInfo(&sql, "SELECT pg_catalog.count(*) FROM %s WHERE %s",
						 from.data, cond.data);
	else
		appendStringInfo(&sql,
						 "SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE nadia_v)"
						 "  FROM (SELECT nadia_f.tableoid AS nadia_t,"
						 "               ((nadia_f.ctid::pg_catalog.text)::pg_catalog.point)[0] AS nadia_b,"
						 "               %s AS nadia_v"
						 "          FROM %s TABLESAMPLE SYSTEM (%g)) nadia_s"
						 " GROUP BY nadia_t, nadia_b",
						 cond.data, from.data, percent);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION | SECURITY_NOFORCE_RLS);
	enable_timeout_after(STATEMENT_TIMEOUT, nadia_quality_count_timeout);
	rc = SPI_execute(sql.data, true, 0);
	disable_timeout(STATEMENT_TIMEOUT, false);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	AtEOXact_GUC(false, save_nestlevel);

	nadia_spi_check(rc, SPI_OK_SELECT, "counting");
	if (exact)
	{
		res->exact = true;
		res->counted = nadia_spi_getint8(0, 1, &isnull);
		res->bound = 0;
	}
	else
		estimate_from_blocks(res, percent);
	res->outcome = "done";
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
 * The count worker's transactions: each short, SPI connected, a snapshot
 * active; "read_only" for a count.
 */
static void
begin_txn(bool read_only)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (read_only)
		XactReadOnly = true;
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
	int64		buffers_before = pgBufferUsage.shared_blks_hit + pgBufferUsage.shared_blks_read;
	TimestampTz start = GetCurrentTimestamp();

	res->outcome = NULL;
	res->error[0] = '\0';
	PG_TRY();
	{
		HeapTuple	contup;
		Form_pg_constraint con;
		Oid			owner;

		begin_txn(true);
		pgstat_report_activity(STATE_RUNNING, "counting a quality fact");

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
			count_rows(contup, owner, res);
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
			TimestampDifferenceExceeds(start, GetCurrentTimestamp(),
									   nadia_quality_count_timeout))
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
	res->pages = pgBufferUsage.shared_blks_hit + pgBufferUsage.shared_blks_read - buffers_before;
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
