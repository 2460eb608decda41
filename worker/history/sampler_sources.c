/*-------------------------------------------------------------------------
 *
 * sampler_sources.c
 *		The sources of statistics history and the SQL that samples them.
 *
 * Cumulative sources (statements, tables, indexes, databases, cluster) are
 * described by a column table: what each history column holds and how
 * (delta, minimum, maximum, gauge), which columns detect a change, which
 * mark a reset.  Statements, tables and indexes are "tracked" sources:
 * their readers (sampler_readers.c) return one row per object and
 * sampler_tracked.c compares them with the last-seen values it keeps in
 * shared memory.  Databases and cluster (a few rows) are sampled by one
 * generated statement each, which reads the statistics view, joins it
 * with the source's UNLOGGED "state" table (the last cumulative values
 * seen), writes the per-interval deltas of the rows that changed into the
 * history table and brings the state up to date.  Either way the cost of
 * a sample depends on the number of objects and of changed rows, never on
 * history size.  history_tiers.c aggregates the same columns into tiers.
 *
 * A row whose counters went backwards, or whose reset marker (stats_reset,
 * stats_since) moved, is "restarted": its delta is the current value (what
 * accumulated since the reset), never a negative or inflated difference.
 * The first sample of a source only takes the baseline.
 *
 * Gauge sources (activity, lock waits, replication) insert what they see.
 *
 * Columns that differ between PostgreSQL versions are written "@a|b": the
 * first column that exists in the source relations is used, else NULL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>

#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "history/history.h"

#define I8 "bigint"
#define F8 "double precision"
#define TS "timestamptz"

#define KEY		(HC_KEY | HC_STATE)
#define CNT		(HC_DELTA | HC_DETECT | HC_STATE | HC_HIST)
#define GAUGE	(HC_DETECT | HC_STATE | HC_HIST)
#define SONLY	(HC_DETECT | HC_STATE)
#define RSET	(HC_RESTART | HC_DETECT | HC_STATE)
#define LATE	(HC_LATE | HC_STATE | HC_HIST)

/* pg_stat_statements: one row per (queryid, dbid, userid, toplevel) */
static const HistColumn statement_cols[] = {
	{"queryid", "s.queryid", I8, KEY},
	{"dbid", "s.dbid", "oid", KEY},
	{"userid", "s.userid", "oid", KEY},
	{"toplevel", "s.toplevel", "boolean", KEY | HC_HKEY | HC_HIST},
	{"info_reset", "(SELECT i.stats_reset FROM %s.pg_stat_statements_info i)", TS, RSET},
	{"stats_since", "@stats_since", TS, RSET},
	{"calls", "s.calls", I8, CNT},
	{"plans", "s.plans", I8, CNT},
	{"total_exec_time", "s.total_exec_time", F8, CNT & ~HC_DETECT},
	{"total_plan_time", "s.total_plan_time", F8, CNT & ~HC_DETECT},
	{"rows", "s.rows", I8, CNT & ~HC_DETECT},
	{"shared_blks_hit", "s.shared_blks_hit", I8, CNT & ~HC_DETECT},
	{"shared_blks_read", "s.shared_blks_read", I8, CNT & ~HC_DETECT},
	{"shared_blks_dirtied", "s.shared_blks_dirtied", I8, CNT & ~HC_DETECT},
	{"shared_blks_written", "s.shared_blks_written", I8, CNT & ~HC_DETECT},
	{"local_blks_hit", "s.local_blks_hit", I8, CNT & ~HC_DETECT},
	{"local_blks_read", "s.local_blks_read", I8, CNT & ~HC_DETECT},
	{"local_blks_dirtied", "s.local_blks_dirtied", I8, CNT & ~HC_DETECT},
	{"local_blks_written", "s.local_blks_written", I8, CNT & ~HC_DETECT},
	{"temp_blks_read", "s.temp_blks_read", I8, CNT & ~HC_DETECT},
	{"temp_blks_written", "s.temp_blks_written", I8, CNT & ~HC_DETECT},
	/* 1.11 (17) split these into shared_ and local_: their sum keeps 15's meaning */
	{"blk_read_time", "@blk_read_time|shared_blk_read_time+local_blk_read_time", F8, CNT & ~HC_DETECT},
	{"blk_write_time", "@blk_write_time|shared_blk_write_time+local_blk_write_time", F8, CNT & ~HC_DETECT},
	{"wal_records", "s.wal_records", I8, CNT & ~HC_DETECT},
	{"wal_fpi", "s.wal_fpi", I8, CNT & ~HC_DETECT},
	{"wal_bytes", "s.wal_bytes", I8, CNT & ~HC_DETECT},
	{"min_exec_time", "s.min_exec_time", F8, HC_MIN | HC_STATE | HC_HIST},
	{"max_exec_time", "s.max_exec_time", F8, HC_MAX | HC_STATE | HC_HIST},
	{"min_plan_time", "s.min_plan_time", F8, HC_MIN | HC_STATE | HC_HIST},
	{"max_plan_time", "s.max_plan_time", F8, HC_MAX | HC_STATE | HC_HIST},
	/* the text dictionary row, looked up once per (new) entry */
	{"stmt_id", "coalesce(p.stmt_id, (SELECT t.stmt_id FROM nadia_bgw.statements t"
		" WHERE t.queryid = c.queryid AND t.dbid = c.dbid AND t.userid = c.userid))",
	"integer", HC_LATE | HC_DICT | HC_STATE | HC_HIST | HC_HKEY},
	{"excluded", "coalesce(p.excluded, (SELECT t.excluded FROM nadia_bgw.statements t"
		" WHERE t.queryid = c.queryid AND t.dbid = c.dbid AND t.userid = c.userid))",
	"boolean", HC_LATE | HC_DICT | HC_STATE},
};

/*
 * Tables: what pg_stat_user_tables and pg_statio_user_tables show, read in
 * C by sampler_readers.c (the expressions name the pgstat accessor each
 * column matches).  Our own schema is left out.  Sizes are measured again
 * when the table was written, vacuumed or rewritten since they were last
 * measured (each table at most every tenth sample, unless it is new or
 * was rewritten: see SIZE_SPREAD in sampler_tracked.c).
 */
#define WRT (CNT | HC_TRIGGER)
#define LAZY (LATE | HC_LAZY)
static const HistColumn table_cols[] = {
	{"relid", "c.oid", "oid", KEY | HC_HKEY | HC_HIST},
	{"schemaname", "n.nspname", "name", SONLY | HC_CATALOG},
	{"relname", "c.relname", "name", SONLY | HC_CATALOG},
	{"relfilenode", "c.relfilenode", "oid", SONLY | HC_TRIGGER},
	{"reltoastrelid", "c.reltoastrelid", "oid", SONLY},
	{"relfrozenxid", "c.relfrozenxid", "xid", SONLY},
	{"seq_scan", "pg_catalog.pg_stat_get_numscans(c.oid)", I8, CNT},
	{"seq_tup_read", "pg_catalog.pg_stat_get_tuples_returned(c.oid)", I8, CNT},
	{"idx_scan", "ix.idx_scan", I8, CNT},
	{"idx_tup_fetch", "ix.idx_tup_fetch + pg_catalog.pg_stat_get_tuples_fetched(c.oid)", I8, CNT},
	{"n_tup_ins", "pg_catalog.pg_stat_get_tuples_inserted(c.oid)", I8, WRT},
	{"n_tup_upd", "pg_catalog.pg_stat_get_tuples_updated(c.oid)", I8, WRT},
	{"n_tup_del", "pg_catalog.pg_stat_get_tuples_deleted(c.oid)", I8, WRT},
	{"n_tup_hot_upd", "pg_catalog.pg_stat_get_tuples_hot_updated(c.oid)", I8, CNT},
	{"vacuum_count", "pg_catalog.pg_stat_get_vacuum_count(c.oid)", I8, WRT},
	{"autovacuum_count", "pg_catalog.pg_stat_get_autovacuum_count(c.oid)", I8, WRT},
	{"analyze_count", "pg_catalog.pg_stat_get_analyze_count(c.oid)", I8, CNT},
	{"autoanalyze_count", "pg_catalog.pg_stat_get_autoanalyze_count(c.oid)", I8, CNT},
	{"heap_blks_read", "pg_catalog.pg_stat_get_blocks_fetched(c.oid) - pg_catalog.pg_stat_get_blocks_hit(c.oid)", I8, CNT},
	{"heap_blks_hit", "pg_catalog.pg_stat_get_blocks_hit(c.oid)", I8, CNT},
	{"idx_blks_read", "ix.idx_blks_read", I8, CNT},
	{"idx_blks_hit", "ix.idx_blks_hit", I8, CNT},
	{"toast_blks_read", "CASE WHEN c.reltoastrelid <> 0 THEN pg_catalog.pg_stat_get_blocks_fetched(c.reltoastrelid)"
		" - pg_catalog.pg_stat_get_blocks_hit(c.reltoastrelid) END", I8, CNT},
	{"toast_blks_hit", "CASE WHEN c.reltoastrelid <> 0 THEN pg_catalog.pg_stat_get_blocks_hit(c.reltoastrelid) END", I8, CNT},
	{"tidx_blks_read", "tx.idx_blks_read", I8, CNT},
	{"tidx_blks_hit", "tx.idx_blks_hit", I8, CNT},
	{"n_live_tup", "pg_catalog.pg_stat_get_live_tuples(c.oid)", I8, GAUGE},
	{"n_dead_tup", "pg_catalog.pg_stat_get_dead_tuples(c.oid)", I8, GAUGE},
	{"n_mod_since_analyze", "pg_catalog.pg_stat_get_mod_since_analyze(c.oid)", I8, GAUGE},
	{"n_ins_since_vacuum", "pg_catalog.pg_stat_get_ins_since_vacuum(c.oid)", I8, GAUGE},
	{"last_vacuum", "pg_catalog.pg_stat_get_last_vacuum_time(c.oid)", TS, GAUGE | HC_WHENCHANGED},
	{"last_autovacuum", "pg_catalog.pg_stat_get_last_autovacuum_time(c.oid)", TS, GAUGE | HC_WHENCHANGED},
	{"last_analyze", "pg_catalog.pg_stat_get_last_analyze_time(c.oid)", TS, GAUGE | HC_WHENCHANGED},
	{"last_autoanalyze", "pg_catalog.pg_stat_get_last_autoanalyze_time(c.oid)", TS, GAUGE | HC_WHENCHANGED},
	{"frozenxid_age", "pg_catalog.age(c.relfrozenxid)", "integer", LAZY | HC_AGE},
	{"heap_bytes", "pg_catalog.pg_relation_size(c.relid)", I8, LAZY},
	{"index_bytes", "pg_catalog.pg_indexes_size(c.relid)", I8, LAZY},
	{"toast_bytes", "CASE WHEN c.reltoastrelid <> 0 THEN pg_catalog.pg_total_relation_size(c.reltoastrelid) ELSE 0 END", I8, LAZY},
	{"total_bytes", "pg_catalog.pg_total_relation_size(c.relid)", I8, LAZY},
};

/*
 * Indexes: pg_stat_user_indexes + pg_statio_user_indexes + pg_index, read
 * in C like tables.  A row is written when the index's counters moved or
 * its size was measured again (after its table was written or the index
 * rebuilt); the definition is read again when the index is rebuilt,
 * renamed or its constraint changed.
 */
static const HistColumn index_cols[] = {
	{"indexrelid", "i.oid", "oid", KEY | HC_HKEY | HC_HIST},
	{"relid", "x.indrelid", "oid", SONLY | HC_CATALOG},
	{"schemaname", "n.nspname", "name", SONLY | HC_CATALOG},
	{"relname", "t.relname", "name", SONLY | HC_CATALOG},
	{"indexrelname", "i.relname", "name", SONLY | HC_CATALOG},
	{"relfilenode", "i.relfilenode", "oid", SONLY | HC_TRIGGER},
	{"table_writes", "pg_catalog.pg_stat_get_tuples_inserted(x.indrelid) + pg_catalog.pg_stat_get_tuples_updated(x.indrelid)"
		" + pg_catalog.pg_stat_get_vacuum_count(x.indrelid) + pg_catalog.pg_stat_get_autovacuum_count(x.indrelid)",
	I8, HC_STATE | HC_TRIGGER},
	{"is_valid", "x.indisvalid", "boolean", SONLY | HC_CATALOG},
	{"is_unique", "x.indisunique", "boolean", SONLY | HC_CATALOG},
	{"is_primary", "x.indisprimary", "boolean", SONLY | HC_CATALOG},
	{"constraint_name", "k.conname", "name", SONLY | HC_CATALOG},
	{"constraint_type", "k.contype", "\"char\"", SONLY | HC_CATALOG},
	{"index_key", "(SELECT concat_ws(' ', x2.indrelid, x2.indkey::text, x2.indclass::text, x2.indcollation::text,"
		" pg_catalog.pg_get_expr(x2.indexprs, x2.indrelid), 'WHERE', pg_catalog.pg_get_expr(x2.indpred, x2.indrelid))"
		" FROM pg_catalog.pg_index x2 WHERE x2.indexrelid = c.indexrelid)", "text", HC_LATE | HC_STATE | HC_CATALOG},
	{"indexdef", "pg_catalog.pg_get_indexdef(c.indexrelid)", "text", HC_LATE | HC_STATE | HC_CATALOG},
	{"idx_scan", "pg_catalog.pg_stat_get_numscans(i.oid)", I8, CNT},
	{"idx_tup_read", "pg_catalog.pg_stat_get_tuples_returned(i.oid)", I8, CNT},
	{"idx_tup_fetch", "pg_catalog.pg_stat_get_tuples_fetched(i.oid)", I8, CNT},
	/* per-index block I/O is in the table's idx_blks_*; kept as state only */
	{"idx_blks_read", "pg_catalog.pg_stat_get_blocks_fetched(i.oid) - pg_catalog.pg_stat_get_blocks_hit(i.oid)", I8, HC_STATE},
	{"idx_blks_hit", "pg_catalog.pg_stat_get_blocks_hit(i.oid)", I8, HC_STATE},
	{"index_bytes", "pg_catalog.pg_relation_size(c.indexrelid)", I8, LAZY},
};

/*
 * Databases.  pg_database_size() walks the database's directory, so it is
 * taken every tenth sample (and at first sight); in between the state
 * keeps the last value.
 */
static const HistColumn database_cols[] = {
	{"datid", "d.datid", "oid", KEY | HC_HKEY | HC_HIST},
	{"datname", "d.datname", "name", SONLY},
	{"stats_reset", "d.stats_reset", TS, HC_STATE},
	{"xact_commit", "d.xact_commit", I8, CNT},
	{"xact_rollback", "d.xact_rollback", I8, CNT},
	{"blks_read", "d.blks_read", I8, CNT},
	{"blks_hit", "d.blks_hit", I8, CNT},
	{"tup_returned", "d.tup_returned", I8, CNT},
	{"tup_fetched", "d.tup_fetched", I8, CNT},
	{"tup_inserted", "d.tup_inserted", I8, CNT},
	{"tup_updated", "d.tup_updated", I8, CNT},
	{"tup_deleted", "d.tup_deleted", I8, CNT},
	{"conflicts", "d.conflicts", I8, CNT},
	{"temp_files", "d.temp_files", I8, CNT},
	{"temp_bytes", "d.temp_bytes", I8, CNT},
	{"deadlocks", "d.deadlocks", I8, CNT},
	{"checksum_failures", "@checksum_failures", I8, CNT},
	{"blk_read_time", "@blk_read_time", F8, CNT},
	{"blk_write_time", "@blk_write_time", F8, CNT},
	{"session_time", "@session_time", F8, CNT},
	{"active_time", "@active_time", F8, CNT},
	{"idle_in_transaction_time", "@idle_in_transaction_time", F8, CNT},
	{"sessions", "@sessions", I8, CNT},
	{"sessions_abandoned", "@sessions_abandoned", I8, CNT},
	{"sessions_fatal", "@sessions_fatal", I8, CNT},
	{"sessions_killed", "@sessions_killed", I8, CNT},
	{"numbackends", "d.numbackends", "integer", GAUGE},
	{"frozenxid_age", "(SELECT pg_catalog.age(x.datfrozenxid) FROM pg_catalog.pg_database x WHERE x.oid = c.datid)",
	"integer", LATE},
	{"size_bytes", "CASE WHEN p.size_bytes IS NULL OR $3 % 10 = 0 THEN pg_catalog.pg_database_size(c.datid) END",
	I8, LATE | HC_KEEP},
};

/*
 * Cluster-wide background writer, checkpointer and WAL counters.  These
 * views are part of the server, whose major version is the one this
 * library was built for, so their columns are chosen at compile time:
 *	- 17 moved the checkpoint counters from pg_stat_bgwriter to
 *	  pg_stat_checkpointer (k) under new names, with their own stats_reset,
 *	  and dropped buffers_backend and buffers_backend_fsync, which
 *	  pg_stat_io (16+) holds: writes and fsyncs of shared buffers
 *	  (object 'relation') by every process but the checkpointer and the
 *	  background writer;
 *	- 18 moved wal_write, wal_sync and their times from pg_stat_wal to
 *	  pg_stat_io (object 'wal', context 'normal': writes, fsyncs,
 *	  write_time, fsync_time; context 'init' counts the new zero-filled
 *	  segments, which pg_stat_wal never counted).
 * The history keeps the 15 names and meanings on every version.
 */
#define IO_BACKEND_WRITES \
	"(SELECT sum(writes) AS writes, sum(fsyncs) AS fsyncs FROM pg_catalog.pg_stat_io" \
	" WHERE object = 'relation' AND backend_type NOT IN ('checkpointer', 'background writer')) io"
#define IO_WAL \
	"(SELECT sum(writes) AS writes, sum(fsyncs) AS fsyncs, sum(write_time) AS write_time," \
	" sum(fsync_time) AS fsync_time FROM pg_catalog.pg_stat_io" \
	" WHERE object = 'wal' AND context = 'normal') iw"

/*
 * Groups of counters reset together (see HistColumn): the background
 * writer's, the checkpointer's (its own view from 17 on), the WAL's, and
 * from 17 on pg_stat_io's shared-buffer writes and, on 18, its WAL writes.
 * A group restarts when its marker moved or one of its counters went
 * backwards: pg_stat_reset_shared('wal') must not make the checkpoint
 * counters' cumulative values look like one interval's work.  Only the
 * background writer and the WAL have a marker in cluster_state
 * (bgwriter_reset, wal_reset); the other groups are seen reset by their
 * counters going backwards, and every reset moves the source's reset time
 * (a 'stats_reset' event).
 */
#define G_BGW	1
#define G_WAL	3
#if PG_VERSION_NUM >= 170000
#define CLUSTER_CKPT(old, new)		"k." new
#define G_CKPT	2
#define CLUSTER_BACKEND(old, io)	"io." io
#define G_BACKEND	4
#define CLUSTER_RESET_17	", k.stats_reset"
#define CLUSTER_FROM_17		" CROSS JOIN pg_catalog.pg_stat_checkpointer k CROSS JOIN " IO_BACKEND_WRITES
#else
#define CLUSTER_CKPT(old, new)		"b." old
#define G_CKPT	G_BGW
#define CLUSTER_BACKEND(old, io)	"b." old
#define G_BACKEND	G_BGW
#define CLUSTER_RESET_17	""
#define CLUSTER_FROM_17		""
#endif
#if PG_VERSION_NUM >= 180000
#define CLUSTER_WAL(old, io)		"iw." io
#define G_WALIO	5
#define CLUSTER_FROM_18		" CROSS JOIN " IO_WAL
#else
#define CLUSTER_WAL(old, io)		"w." old
#define G_WALIO	G_WAL
#define CLUSTER_FROM_18		""
#endif

static const HistColumn cluster_cols[] = {
	{"node", "1", "integer", KEY | HC_HKEY | HC_HIST},
	{"bgwriter_reset", "b.stats_reset", TS, RSET, G_BGW},
	{"wal_reset", "w.stats_reset", TS, RSET, G_WAL},
	{"checkpoints_timed", CLUSTER_CKPT("checkpoints_timed", "num_timed"), I8, CNT, G_CKPT},
	{"checkpoints_req", CLUSTER_CKPT("checkpoints_req", "num_requested"), I8, CNT, G_CKPT},
	{"checkpoint_write_time", CLUSTER_CKPT("checkpoint_write_time", "write_time"), F8, CNT, G_CKPT},
	{"checkpoint_sync_time", CLUSTER_CKPT("checkpoint_sync_time", "sync_time"), F8, CNT, G_CKPT},
	{"buffers_checkpoint", CLUSTER_CKPT("buffers_checkpoint", "buffers_written"), I8, CNT, G_CKPT},
	{"buffers_clean", "b.buffers_clean", I8, CNT, G_BGW},
	{"maxwritten_clean", "b.maxwritten_clean", I8, CNT, G_BGW},
	{"buffers_backend", CLUSTER_BACKEND("buffers_backend", "writes"), I8, CNT, G_BACKEND},
	{"buffers_backend_fsync", CLUSTER_BACKEND("buffers_backend_fsync", "fsyncs"), I8, CNT, G_BACKEND},
	{"buffers_alloc", "b.buffers_alloc", I8, CNT, G_BGW},
	{"wal_records", "w.wal_records", I8, CNT, G_WAL},
	{"wal_fpi", "w.wal_fpi", I8, CNT, G_WAL},
	{"wal_bytes", "w.wal_bytes", I8, CNT, G_WAL},
	{"wal_buffers_full", "w.wal_buffers_full", I8, CNT, G_WAL},
	{"wal_write", CLUSTER_WAL("wal_write", "writes"), I8, CNT, G_WALIO},
	{"wal_sync", CLUSTER_WAL("wal_sync", "fsyncs"), I8, CNT, G_WALIO},
	{"wal_write_time", CLUSTER_WAL("wal_write_time", "write_time"), F8, CNT, G_WALIO},
	{"wal_sync_time", CLUSTER_WAL("wal_sync_time", "fsync_time"), F8, CNT, G_WALIO},
};

const HistSource nadia_delta_sources[] = {
	/* tracked sources: read by sampler_readers.c, no generated SQL */
	{"statements", NULL, "nadia_bgw.statement_samples",
		"nadia_bgw.statement_hourly", "nadia_bgw.statement_daily",
		NULL, NULL, NULL,
		"SELECT stats_reset FROM %s.pg_stat_statements_info",
		statement_cols, lengthof(statement_cols),
	nadia_read_statements, NULL, NULL},
	{"tables", NULL, "nadia_bgw.table_samples",
		"nadia_bgw.table_hourly", "nadia_bgw.table_daily",
		NULL, NULL, NULL,
		"SELECT pg_catalog.pg_stat_get_db_stat_reset_time(d.oid) FROM pg_catalog.pg_database d"
		" WHERE d.datname = pg_catalog.current_database()",
		table_cols, lengthof(table_cols),
	nadia_read_tables, nadia_measure_table, nadia_catalog_tables},
	{"indexes", NULL, "nadia_bgw.index_samples",
		"nadia_bgw.index_hourly", "nadia_bgw.index_daily",
		NULL, NULL, NULL,
		"SELECT pg_catalog.pg_stat_get_db_stat_reset_time(d.oid) FROM pg_catalog.pg_database d"
		" WHERE d.datname = pg_catalog.current_database()",
		index_cols, lengthof(index_cols),
	nadia_read_indexes, nadia_measure_index, nadia_catalog_indexes, nadia_index_catalog_ready},
	/* sources sampled by the generated SQL of build_source() */
	{"databases", "nadia_bgw.database_state", "nadia_bgw.database_samples",
		"nadia_bgw.database_hourly", "nadia_bgw.database_daily",
		"pg_catalog.pg_stat_database d", "d.datid <> 0",
		"pg_catalog.pg_stat_database",
		NULL,
	database_cols, lengthof(database_cols)},
	{"cluster", "nadia_bgw.cluster_state", "nadia_bgw.cluster_samples",
		"nadia_bgw.cluster_hourly", "nadia_bgw.cluster_daily",
		"pg_catalog.pg_stat_bgwriter b CROSS JOIN pg_catalog.pg_stat_wal w" CLUSTER_FROM_17 CLUSTER_FROM_18,
		NULL, NULL,
		"SELECT greatest(b.stats_reset, w.stats_reset" CLUSTER_RESET_17 ") FROM pg_catalog.pg_stat_bgwriter b"
		" CROSS JOIN pg_catalog.pg_stat_wal w" CLUSTER_FROM_17 CLUSTER_FROM_18,
	cluster_cols, lengthof(cluster_cols)},
};

const int	nadia_n_delta_sources = lengthof(nadia_delta_sources);

/* ---------------------------------------------------------------------
 * SQL generation
 * ---------------------------------------------------------------------
 */

/* The generated statements, built once per backend and source. */
typedef struct BuiltSource
{
	char	   *sample_sql;
	SPIPlanPtr	sample_plan;	/* kept for the life of the backend */
	char	   *vanished_sql;
	char	   *pgss_schema;
} BuiltSource;

#define NADIA_MAX_DELTA_SOURCES 16
static BuiltSource built[NADIA_MAX_DELTA_SOURCES];

/* built[] is indexed by a source's position in nadia_delta_sources */
StaticAssertDecl(lengthof(nadia_delta_sources) <= NADIA_MAX_DELTA_SOURCES,
				 "raise NADIA_MAX_DELTA_SOURCES with the number of delta sources");

/*
 * Column names available in the relations of "rels" (a space-separated
 * list; missing relations are skipped).  Used for "@a|b" expressions.
 */
static List *
available_columns(const char *rels)
{
	StringInfoData q;
	List	   *cols = NIL;
	uint64		i;
	char	   *copy,
			   *tok,
			   *save;

	if (rels == NULL)
		return NIL;
	initStringInfo(&q);
	appendStringInfoString(&q, "SELECT a.attname::text FROM pg_catalog.pg_attribute a"
						   " WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attrelid IN (");
	copy = pstrdup(rels);
	i = 0;
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
	{
		if (i++ > 0)
			appendStringInfoString(&q, ", ");
		appendStringInfo(&q, "pg_catalog.to_regclass(%s)", quote_literal_cstr(tok));
	}
	appendStringInfoString(&q, ")");
	if (SPI_execute(q.data, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "column detection failed");
	for (i = 0; i < SPI_processed; i++)
		cols = lappend(cols, nadia_spi_getstring(i, 1));
	return cols;
}

static bool
has_column(List *cols, const char *name)
{
	ListCell   *lc;

	foreach(lc, cols)
	{
		if (strcmp((char *) lfirst(lc), name) == 0)
			return true;
	}
	return false;
}

/* Resolve a column's source expression ("@a|b" alternatives, "%s" schema). */
static void
append_expr(StringInfo buf, const HistColumn *col, List *avail, const char *schema)
{
	const char *e = col->expr;

	if (e[0] == '@')
	{
		char	   *copy = pstrdup(e + 1);
		char	   *tok,
				   *save;

		for (tok = strtok_r(copy, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
		{
			if (has_column(avail, tok))
			{
				appendStringInfo(buf, "(%s)::%s", quote_identifier(tok), col->type);
				return;
			}
		}
		appendStringInfo(buf, "NULL::%s", col->type);
		return;
	}
	if (strstr(e, "%s") != NULL)
	{
		appendStringInfoString(buf, "(");
		appendStringInfo(buf, e, schema);
		appendStringInfo(buf, ")::%s", col->type);
		return;
	}
	appendStringInfo(buf, "(%s)::%s", e, col->type);
}

/* "first key" of the state table, used to tell whether a row joined */
static const char *
first_key(const HistSource *src)
{
	int			i;

	for (i = 0; i < src->ncols; i++)
		if (src->cols[i].flags & HC_KEY)
			return src->cols[i].name;
	elog(ERROR, "source \"%s\" has no key", src->name);
	return NULL;
}

static void
append_key_join(StringInfo buf, const HistSource *src, const char *a, const char *b)
{
	int			i,
				n = 0;

	for (i = 0; i < src->ncols; i++)
	{
		if (!(src->cols[i].flags & HC_KEY))
			continue;
		appendStringInfo(buf, "%s%s.%s = %s.%s", n++ ? " AND " : "",
						 a, src->cols[i].name, b, src->cols[i].name);
	}
}

/* the source query: SELECT <expressions> FROM ... WHERE ... */
static void
append_source_query(StringInfo buf, const HistSource *src, List *avail,
					const char *schema, bool keys_only)
{
	int			i,
				n = 0;

	appendStringInfoString(buf, "SELECT ");
	for (i = 0; i < src->ncols; i++)
	{
		const HistColumn *col = &src->cols[i];

		if (col->flags & HC_LATE)
			continue;
		if (keys_only && !(col->flags & HC_KEY))
			continue;
		if (n++ > 0)
			appendStringInfoString(buf, ", ");
		append_expr(buf, col, avail, schema);
		appendStringInfo(buf, " AS %s", col->name);
	}
	appendStringInfoString(buf, " FROM ");
	if (strstr(src->from, "%s") != NULL)
		appendStringInfo(buf, src->from, schema);
	else
		appendStringInfoString(buf, src->from);
	if (src->where)
		appendStringInfo(buf, " WHERE %s", src->where);
}

/*
 * Build the one statement that samples a delta source.  Parameters:
 * $1 sampled_at, $2 "write history" (false for the baseline), $3 sample id.
 * It returns rows seen, rows changed, new rows, restarted rows, history
 * rows written.
 */
static void
build_source(const HistSource *src, int idx, const char *schema)
{
	StringInfoData q;
	StringInfoData recompute;
	List	   *avail;
	const char *k0 = first_key(src);
	int			i,
				n,
				g,
				max_group = 0;
	MemoryContext old;

	for (i = 0; i < src->ncols; i++)
		max_group = Max(max_group, src->cols[i].group);

	avail = available_columns(src->detect_rels ?
							  psprintf(src->detect_rels, schema) : NULL);

	initStringInfo(&q);
	/* cur: what the statistics say now */
	appendStringInfoString(&q, "WITH cur AS (");
	append_source_query(&q, src, avail, schema, false);
	appendStringInfoString(&q, "), d AS (SELECT c.*");
	appendStringInfo(&q, ", p.%s IS NULL AS is_new, p.dropped_at IS NOT NULL AS resurrected", k0);
	/* restart: of the whole row (group 0) or of one group, see HistColumn */
	for (g = 0; g <= max_group; g++)
	{
		appendStringInfo(&q, ", (p.%s IS NOT NULL AND (p.dropped_at IS NOT NULL", k0);
		for (i = 0; i < src->ncols; i++)
		{
			const HistColumn *col = &src->cols[i];

			/* the row restarts with any of its groups */
			if (g > 0 && col->group != g)
				continue;
			if (col->flags & HC_DELTA)
				appendStringInfo(&q, " OR c.%s < p.%s", col->name, col->name);
			if (col->flags & HC_RESTART)
				appendStringInfo(&q, " OR c.%s IS DISTINCT FROM p.%s", col->name, col->name);
		}
		if (g == 0)
			appendStringInfoString(&q, ")) AS restart");
		else
			appendStringInfo(&q, ")) AS restart_%d", g);
	}
	/* lazy columns are measured again only when a trigger column moved */
	initStringInfo(&recompute);
	appendStringInfo(&recompute, "p.%s IS NULL OR p.dropped_at IS NOT NULL", k0);
	for (i = 0; i < src->ncols; i++)
		if (src->cols[i].flags & HC_TRIGGER)
			appendStringInfo(&recompute, " OR c.%s IS DISTINCT FROM p.%s",
							 src->cols[i].name, src->cols[i].name);
	for (i = 0; i < src->ncols; i++)
	{
		const HistColumn *col = &src->cols[i];

		if (col->flags & HC_LATE)
		{
			if (col->flags & HC_LAZY)
				appendStringInfo(&q, ", CASE WHEN %s THEN (%s)::%s END AS %s",
								 recompute.data, col->expr, col->type, col->name);
			else
				appendStringInfo(&q, ", (%s)::%s AS %s", col->expr, col->type, col->name);
			if (col->flags & (HC_KEEP | HC_LAZY))
				appendStringInfo(&q, ", p.%s AS p_%s", col->name, col->name);
		}
		if (col->flags & (HC_DELTA | HC_MIN | HC_MAX | HC_WHENCHANGED))
			appendStringInfo(&q, ", p.%s AS p_%s", col->name, col->name);
	}
	appendStringInfo(&q, " FROM cur c LEFT JOIN %s p ON ", src->state_table);
	append_key_join(&q, src, "c", "p");
	appendStringInfo(&q, " WHERE p.%s IS NULL OR p.dropped_at IS NOT NULL OR ", k0);
	n = 0;
	for (i = 0; i < src->ncols; i++)
		if (src->cols[i].flags & HC_DETECT)
			appendStringInfo(&q, "%sc.%s", n++ ? ", " : "ROW(", src->cols[i].name);
	appendStringInfoString(&q, ") IS DISTINCT FROM ");
	n = 0;
	for (i = 0; i < src->ncols; i++)
		if (src->cols[i].flags & HC_DETECT)
			appendStringInfo(&q, "%sp.%s", n++ ? ", " : "ROW(", src->cols[i].name);
	appendStringInfoString(&q, ")");

	/* h: history rows */
	appendStringInfo(&q, "), h AS (INSERT INTO %s (sampled_at", src->hist_table);
	for (i = 0; i < src->ncols; i++)
		if (src->cols[i].flags & HC_HIST)
			appendStringInfo(&q, ", %s", src->cols[i].name);
	appendStringInfoString(&q, ") SELECT $1");
	for (i = 0; i < src->ncols; i++)
	{
		const HistColumn *col = &src->cols[i];
		const char *nm = col->name;

		if (!(col->flags & HC_HIST))
			continue;
		if (col->flags & HC_DELTA && col->group > 0)
			appendStringInfo(&q, ", CASE WHEN d.is_new OR d.restart_%d THEN nullif(d.%s, 0)"
							 " ELSE nullif(d.%s - d.p_%s, 0) END", col->group, nm, nm, nm);
		else if (col->flags & HC_DELTA)
			appendStringInfo(&q, ", CASE WHEN d.is_new OR d.restart THEN nullif(d.%s, 0)"
							 " ELSE nullif(d.%s - d.p_%s, 0) END", nm, nm, nm);
		else if (col->flags & HC_MIN)
			appendStringInfo(&q, ", CASE WHEN d.is_new OR d.restart OR d.%s < d.p_%s THEN d.%s END",
							 nm, nm, nm);
		else if (col->flags & HC_MAX)
			appendStringInfo(&q, ", CASE WHEN d.is_new OR d.restart OR d.%s > d.p_%s THEN d.%s END",
							 nm, nm, nm);
		else if (col->flags & HC_WHENCHANGED)
			appendStringInfo(&q, ", CASE WHEN d.is_new OR d.restart OR d.%s IS DISTINCT FROM d.p_%s"
							 " THEN d.%s END", nm, nm, nm);
		else
			appendStringInfo(&q, ", d.%s", nm);
	}
	appendStringInfoString(&q, " FROM d WHERE $2");
	appendStringInfoString(&q, " RETURNING 1)");

	/* u: state of known rows */
	appendStringInfo(&q, ", u AS (UPDATE %s p SET changed_at = $1, dropped_at = NULL", src->state_table);
	for (i = 0; i < src->ncols; i++)
	{
		const HistColumn *col = &src->cols[i];

		if (!(col->flags & HC_STATE) || (col->flags & (HC_KEY | HC_NOUPDATE)))
			continue;
		if (col->flags & (HC_KEEP | HC_LAZY))
			appendStringInfo(&q, ", %s = coalesce(d.%s, d.p_%s)", col->name, col->name, col->name);
		else
			appendStringInfo(&q, ", %s = d.%s", col->name, col->name);
	}
	appendStringInfoString(&q, " FROM d WHERE NOT d.is_new AND ");
	append_key_join(&q, src, "p", "d");
	appendStringInfoString(&q, " RETURNING 1)");

	/* i: state of new rows */
	appendStringInfo(&q, ", i AS (INSERT INTO %s (changed_at", src->state_table);
	for (i = 0; i < src->ncols; i++)
		if (src->cols[i].flags & HC_STATE)
			appendStringInfo(&q, ", %s", src->cols[i].name);
	appendStringInfoString(&q, ") SELECT $1");
	for (i = 0; i < src->ncols; i++)
		if (src->cols[i].flags & HC_STATE)
			appendStringInfo(&q, ", d.%s", src->cols[i].name);
	appendStringInfoString(&q, " FROM d WHERE d.is_new RETURNING 1)");

	appendStringInfo(&q, " SELECT (SELECT count(*) FROM cur), (SELECT count(*) FROM d),"
					 " (SELECT count(*) FROM d WHERE is_new), (SELECT count(*) FROM d WHERE restart),"
					 " (SELECT count(*) FROM h),"
					 " (SELECT count(*) FROM %s WHERE dropped_at IS NULL)"
					 " + (SELECT count(*) FROM d WHERE is_new OR resurrected)",
					 src->state_table);

	elog(DEBUG1, "nadia_bgw: sampling SQL of source \"%s\": %s", src->name, q.data);
	old = MemoryContextSwitchTo(TopMemoryContext);
	built[idx].sample_sql = pstrdup(q.data);
	built[idx].pgss_schema = pstrdup(schema ? schema : "");
	MemoryContextSwitchTo(old);

	/* objects that disappeared (dropped tables, evicted statements) */
	resetStringInfo(&q);
	appendStringInfo(&q, "UPDATE %s p SET dropped_at = $1 WHERE p.dropped_at IS NULL"
					 " AND NOT EXISTS (SELECT 1 FROM (", src->state_table);
	append_source_query(&q, src, avail, schema, true);
	appendStringInfoString(&q, ") c WHERE ");
	append_key_join(&q, src, "c", "p");
	appendStringInfoString(&q, ")");
	old = MemoryContextSwitchTo(TopMemoryContext);
	built[idx].vanished_sql = pstrdup(q.data);
	MemoryContextSwitchTo(old);

}

/* Run a statement with the sampler's three parameters; returns SPI code. */
static int
exec_params(const char *sql, TimestampTz ts, bool write_history, int64 sample_id,
			bool read_only)
{
	Oid			types[3] = {TIMESTAMPTZOID, BOOLOID, INT8OID};
	Datum		values[3];

	values[0] = TimestampTzGetDatum(ts);
	values[1] = BoolGetDatum(write_history);
	values[2] = Int64GetDatum(sample_id);
	return nadia_spi_exec(sql, 3, types, values, NULL, read_only, 0);
}

/*
 * Source-wide bookkeeping: true when the source already has a baseline.
 * Also records a 'stats_reset' event when the source's reset time moved.
 */
bool
nadia_source_bookkeeping(const HistSource *src, TimestampTz ts, int64 sample_id,
				   const char *schema)
{
	StringInfoData q;
	bool		initialized;
	bool		isnull;
	bool		has_sysid;
	Datum		reset = (Datum) 0;
	bool		reset_null = true;
	Oid			types[4] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	if (src->reset_query)
	{
		initStringInfo(&q);
		appendStringInfo(&q, src->reset_query, schema);
		if (nadia_spi_exec(q.data, 0, NULL, NULL, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "reset query of source \"%s\" failed", src->name);
		if (SPI_processed == 1)
		{
			reset = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &reset_null);
		}
	}

	values[0] = CStringGetTextDatum(src->name);
	values[1] = TimestampTzGetDatum(ts);
	values[2] = reset;
	if (reset_null)
		nulls[2] = 'n';
	values[3] = Int64GetDatum((int64) GetSystemIdentifier());

	/*
	 * The cluster the baseline was taken in (1.1: source_state has a
	 * system_identifier column; a 1.0 schema not yet updated has not).  A
	 * syscache probe, not a query: this runs for every source of every
	 * sample.
	 */
	has_sysid = get_attnum(get_relname_relid("source_state",
											 get_namespace_oid("nadia_bgw", false)),
						   "system_identifier") != InvalidAttrNumber;

	/* previous reset time, whether a baseline exists and in which cluster */
	if (nadia_spi_exec(has_sysid ?
					   "SELECT initialized_at IS NOT NULL, initialized_at IS NOT NULL"
					   " AND stats_reset IS DISTINCT FROM $3, stats_reset,"
					   " system_identifier IS NOT NULL AND system_identifier <> $4"
					   " FROM nadia_bgw.source_state WHERE source = $1" :
					   "SELECT initialized_at IS NOT NULL, initialized_at IS NOT NULL"
					   " AND stats_reset IS DISTINCT FROM $3, stats_reset, false"
					   " FROM nadia_bgw.source_state WHERE source = $1",
					   4, types, values, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading nadia_bgw.source_state failed");
	if (SPI_processed == 0)
	{
		initialized = false;
		if (nadia_spi_exec(has_sysid ?
						   "INSERT INTO nadia_bgw.source_state (source, stats_reset, system_identifier)"
						   " VALUES ($1, $3, $4)" :
						   "INSERT INTO nadia_bgw.source_state (source, stats_reset)"
						   " VALUES ($1, $3)", 4, types, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "writing nadia_bgw.source_state failed");
	}
	else
	{
		bool		moved;
		bool		other_cluster;

		initialized = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		moved = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		other_cluster = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));

		/*
		 * The state tables are unlogged: after a crash or a failover they are
		 * empty, and deltas against nothing would be whole cumulative
		 * values.  Take a new baseline instead.
		 */
		if (initialized)
		{
			bool		lost;

			/*
			 * pg_upgrade (or a restored file-level copy of another cluster)
			 * brings the unlogged state tables across with the old
			 * cluster's counters, while the new cluster counts from zero:
			 * deltas against them would be negative or hold the upgrade's
			 * own work.  The system identifier tells: a new cluster means
			 * a new baseline, as after a crash.
			 */
			if (other_cluster)
			{
				if (src->state_table &&
					SPI_execute(psprintf("DELETE FROM %s", src->state_table),
								false, 0) != SPI_OK_DELETE)
					elog(ERROR, "clearing %s failed", src->state_table);
				lost = true;
			}
			else if (src->reader != NULL)
				lost = !nadia_tracked_has_baseline(src);
			else
			{
				if (SPI_execute(psprintf("SELECT NOT EXISTS (SELECT 1 FROM %s)", src->state_table),
								false, 1) != SPI_OK_SELECT)
					elog(ERROR, "reading %s failed", src->state_table);
				lost = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			}
			if (lost)
			{
				initialized = false;
				nadia_record_event(sample_id, ts, src->name, "state_lost", 0,
								   other_cluster ?
								   nadia_event_details("reason", "other cluster (system identifier changed)",
												 NULL, 0, NULL, NULL) :
								   NULL);
				if (SPI_execute_with_args("UPDATE nadia_bgw.source_state SET initialized_at = NULL"
										  " WHERE source = $1", 3, types, values, nulls,
										  false, 0) != SPI_OK_UPDATE)
					elog(ERROR, "writing nadia_bgw.source_state failed");
			}
		}
		if (moved)
			nadia_record_event(sample_id, ts, src->name, "stats_reset", 0,
							   nadia_event_details("stats_reset",
											 reset_null ? NULL :
											 timestamptz_to_str(DatumGetTimestampTz(reset)),
											 NULL, 0, NULL, NULL));
		if (nadia_spi_exec(has_sysid ?
						   "UPDATE nadia_bgw.source_state SET stats_reset = $3, system_identifier = $4"
						   " WHERE source = $1" :
						   "UPDATE nadia_bgw.source_state SET stats_reset = $3 WHERE source = $1",
						   4, types, values, nulls, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "writing nadia_bgw.source_state failed");
	}
	return initialized;
}

/* The source has its baseline from now on. */
void
nadia_source_initialized(const HistSource *src, TimestampTz ts)
{
	if (nadia_spi_exec("UPDATE nadia_bgw.source_state SET initialized_at = $2 WHERE source = $1",
					   2, (Oid[]) {TEXTOID, TIMESTAMPTZOID},
					   (Datum[]) {CStringGetTextDatum(src->name), TimestampTzGetDatum(ts)},
					   NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "writing nadia_bgw.source_state failed");
}

/*
 * The details of a stats event as JSON, built with cJSON (never by
 * quoting by hand): each key given (non-NULL) adds a field.  "str_value"
 * NULL is JSON null; "num_text" is a number in text (a GUC's value), NULL
 * or not a number giving null.
 */
char *
nadia_event_details(const char *str_key, const char *str_value,
			  const char *num_key, int64 num_value,
			  const char *num2_key, const char *num2_text)
{
	cJSON	   *root = cJSON_CreateObject();
	char	   *printed = NULL;
	char	   *result;
	bool		ok = (root != NULL);

	if (ok && str_key)
		ok = (str_value ? cJSON_AddStringToObject(root, str_key, str_value)
			  : cJSON_AddNullToObject(root, str_key)) != NULL;
	if (ok && num_key)
		ok = cJSON_AddNumberToObject(root, num_key, (double) num_value) != NULL;
	if (ok && num2_key)
	{
		char	   *end = NULL;
		double		v = num2_text ? strtod(num2_text, &end) : 0;

		ok = (num2_text && end != num2_text && *end == '\0'
			  ? cJSON_AddNumberToObject(root, num2_key, v)
			  : cJSON_AddNullToObject(root, num2_key)) != NULL;
	}
	if (ok)
		printed = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (printed == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while building a stats event")));
	result = pstrdup(printed);
	cJSON_free(printed);
	return result;
}

void
nadia_record_event(int64 sample_id, TimestampTz ts, const char *source,
				   const char *kind, int64 count, const char *details_json)
{
	Oid			types[6] = {INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, INT8OID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(sample_id);
	values[1] = TimestampTzGetDatum(ts);
	values[2] = CStringGetTextDatum(source);
	values[3] = CStringGetTextDatum(kind);
	values[4] = Int64GetDatum(count);
	/* details: JSON that the caller built with cJSON (nadia_event_details()) */
	if (details_json)
		values[5] = CStringGetTextDatum(details_json);
	else
		nulls[5] = 'n';
	if (nadia_spi_exec("INSERT INTO nadia_bgw.stats_events"
							  " (sample_id, sampled_at, source, kind, count, details)"
							  " VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
							  6, types, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "recording a stats event failed");
}

/*
 * Sample one delta source.  Returns the number of history rows written.
 */
int64
nadia_sample_delta_source(const HistSource *src, TimestampTz ts, int64 sample_id,
						  const char *pgss_schema, int64 *seen_out)
{
	int			idx = src - nadia_delta_sources;
	bool		initialized;
	int64		seen,
				restarted,
				written,
				live;
	bool		isnull;
	Datum		values[3];

	/* statements, tables, indexes: last-seen values in shared memory */
	if (src->reader != NULL)
	{
		initialized = nadia_source_bookkeeping(src, ts, sample_id, pgss_schema);
		return nadia_sample_tracked_source(src, ts, sample_id, initialized, pgss_schema, seen_out);
	}

	if (built[idx].sample_plan == NULL ||
		strcmp(built[idx].pgss_schema, pgss_schema ? pgss_schema : "") != 0)
	{
		SPIPlanPtr	plan;

		build_source(src, idx, pgss_schema);
		/* a generic plan: the parameters never change its shape */
		plan = SPI_prepare_cursor(built[idx].sample_sql, 3,
								  (Oid[]) {TIMESTAMPTZOID, BOOLOID, INT8OID},
								  CURSOR_OPT_GENERIC_PLAN);
		if (plan == NULL)
			elog(ERROR, "preparing the sampling statement of source \"%s\" failed: %s",
				 src->name, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		built[idx].sample_plan = plan;
	}

	initialized = nadia_source_bookkeeping(src, ts, sample_id, pgss_schema);

	values[0] = TimestampTzGetDatum(ts);
	values[1] = BoolGetDatum(initialized);
	values[2] = Int64GetDatum(sample_id);
	if (SPI_execute_plan(built[idx].sample_plan, values, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "sampling source \"%s\" failed", src->name);
	seen = nadia_spi_getint8(0, 1, &isnull);
	restarted = nadia_spi_getint8(0, 4, &isnull);
	written = nadia_spi_getint8(0, 5, &isnull);
	live = nadia_spi_getint8(0, 6, &isnull);
	*seen_out = seen;

	if (restarted > 0 && initialized)
		nadia_record_event(sample_id, ts, src->name, "counters_restarted", restarted, NULL);

	/* objects gone since the last sample: mark them in the state */
	if (live > seen &&
		exec_params(built[idx].vanished_sql, ts, initialized, sample_id, false) != SPI_OK_UPDATE)
		elog(ERROR, "marking vanished objects of source \"%s\" failed", src->name);

	if (!initialized)
		nadia_source_initialized(src, ts);
	return written;
}

/*
 * Store the text of statements seen for the first time, once per
 * (queryid, dbid, userid), capped at nadia_bgw.query_text_max bytes.
 * Only what statement_text.c lets through is stored: the normalized text
 * of optimizable statements, the command tag and object names of every
 * other one ("redacted").  The text file of pg_stat_statements is read
 * only when there is a new entry.
 */
typedef struct NewStatement
{
	Datum		queryid;
	Datum		dbid;
	Datum		userid;
	char	   *datname;
	char	   *username;
	char	   *query;
	int32		query_len;
	bool		excluded;
} NewStatement;

int64
nadia_sample_statement_texts(const char *schema, TimestampTz ts)
{
	char	   *q;
	uint64		n,
				i;
	NewStatement *rows;
	SPIPlanPtr	plan;
	Oid			types[10] = {INT8OID, OIDOID, OIDOID, TEXTOID, TEXTOID, TEXTOID,
		INT4OID, BOOLOID, BOOLOID, TIMESTAMPTZOID};
	int64		stored = 0;

	q = psprintf("SELECT DISTINCT ON (s.queryid, s.dbid, s.userid) s.queryid, s.dbid, s.userid,"
				 " db.datname::text, r.rolname::text, s.query, pg_catalog.octet_length(s.query),"
				 " s.query ~ 'nadia_bgw\\.(take_sample|maintain_history)\\s*\\('"
				 " FROM %s.pg_stat_statements(true) s"
				 " LEFT JOIN pg_catalog.pg_database db ON db.oid = s.dbid"
				 " LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid"
				 " WHERE s.queryid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM nadia_bgw.statements t"
				 "  WHERE t.queryid = s.queryid AND t.dbid = s.dbid AND t.userid = s.userid)"
				 " ORDER BY s.queryid, s.dbid, s.userid",
				 schema);
	if (SPI_execute(q, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading new statement texts failed");
	n = SPI_processed;
	if (n == 0)
		return 0;

	/* copy the rows out: classifying a text runs a subtransaction */
	rows = palloc0(sizeof(NewStatement) * n);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		rows[i].queryid = SPI_getbinval(tup, desc, 1, &isnull);
		rows[i].dbid = SPI_getbinval(tup, desc, 2, &isnull);
		rows[i].userid = SPI_getbinval(tup, desc, 3, &isnull);
		rows[i].datname = SPI_getvalue(tup, desc, 4);
		rows[i].username = SPI_getvalue(tup, desc, 5);
		rows[i].query = SPI_getvalue(tup, desc, 6);
		d = SPI_getbinval(tup, desc, 7, &isnull);
		rows[i].query_len = isnull ? 0 : DatumGetInt32(d);
		d = SPI_getbinval(tup, desc, 8, &isnull);
		rows[i].excluded = !isnull && DatumGetBool(d);
	}

	plan = SPI_prepare("INSERT INTO nadia_bgw.statements"
					   " (queryid, dbid, userid, datname, username, query, query_len,"
					   "  redacted, excluded, first_seen)"
					   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
					   " ON CONFLICT DO NOTHING",
					   10, types);
	if (plan == NULL)
		elog(ERROR, "preparing the statement text insert failed: %s",
			 SPI_result_code_string(SPI_result));
	for (i = 0; i < n; i++)
	{
		Datum		values[10];
		char		nulls[10];
		bool		reduced = false;
		char	   *text;

		CHECK_FOR_INTERRUPTS();
		text = nadia_safe_statement_text(rows[i].query, nadia_bgw_query_text_max,
										 &reduced);
		memset(nulls, ' ', sizeof(nulls));
		values[0] = rows[i].queryid;
		values[1] = rows[i].dbid;
		values[2] = rows[i].userid;
		values[3] = rows[i].datname ? CStringGetTextDatum(rows[i].datname) : (Datum) 0;
		nulls[3] = rows[i].datname ? ' ' : 'n';
		values[4] = rows[i].username ? CStringGetTextDatum(rows[i].username) : (Datum) 0;
		nulls[4] = rows[i].username ? ' ' : 'n';
		values[5] = text ? CStringGetTextDatum(text) : (Datum) 0;
		nulls[5] = text ? ' ' : 'n';
		values[6] = Int32GetDatum(rows[i].query_len);
		nulls[6] = rows[i].query ? ' ' : 'n';
		values[7] = BoolGetDatum(reduced);
		values[8] = BoolGetDatum(rows[i].excluded);
		values[9] = TimestampTzGetDatum(ts);
		if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "storing statement texts failed");
		stored += SPI_processed;
	}
	SPI_freeplan(plan);
	return stored;
}

/*
 * Evictions: pg_stat_statements_info.dealloc counts entries thrown out to
 * make room.  A rise is recorded and warned about (the worker warns at most
 * once an hour), since evicted statements lose their history.
 */
void
nadia_check_pgss_evictions(const char *schema, TimestampTz ts, int64 sample_id,
						   bool from_worker, int64 entries)
{
	char	   *q;
	bool		isnull;
	int64		dealloc,
				prev;
	bool		prev_null;
	bool		warn_due;

	q = psprintf("SELECT i.dealloc, st.dealloc,"
				 " st.last_warning_at IS NULL OR st.last_warning_at < $1 - interval '1 hour'"
				 " FROM %s.pg_stat_statements_info i"
				 " LEFT JOIN nadia_bgw.source_state st ON st.source = 'statements'", schema);
	if (exec_params(q, ts, false, sample_id, false) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading pg_stat_statements_info failed");
	dealloc = nadia_spi_getint8(0, 1, &isnull);
	prev = nadia_spi_getint8(0, 2, &prev_null);
	warn_due = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));

	if (!prev_null && dealloc > prev)
	{
		const char *max = GetConfigOption("pg_stat_statements.max", true, false);

		nadia_record_event(sample_id, ts, "statements", "dealloc", dealloc - prev,
						   nadia_event_details(NULL, NULL, "entries", entries, "max", max));
		if (!from_worker || warn_due)
		{
			ereport(WARNING,
					(errcode(ERRCODE_WARNING),
					 errmsg("pg_stat_statements evicted " INT64_FORMAT " entries since the previous sample",
							dealloc - prev),
					 errdetail("%lld entries are tracked, pg_stat_statements.max is %s; evicted statements lose their history.",
							   (long long) entries, max ? max : "unknown"),
					 errhint("Raise pg_stat_statements.max.")));
			if (nadia_spi_exec("UPDATE nadia_bgw.source_state SET last_warning_at = $1"
									  " WHERE source = 'statements'", 1,
									  (Oid[]) {TIMESTAMPTZOID}, (Datum[]) {TimestampTzGetDatum(ts)},
									  NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "writing nadia_bgw.source_state failed");
		}
	}
	if (nadia_spi_exec("UPDATE nadia_bgw.source_state SET dealloc = $1 WHERE source = 'statements'",
							  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(dealloc)},
							  NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "writing nadia_bgw.source_state failed");
}

/* ---------------------------------------------------------------------
 * Gauge sources
 * ---------------------------------------------------------------------
 */

static int64
exec_insert(const char *sql, TimestampTz ts)
{
	if (exec_params(sql, ts, true, 0, false) != SPI_OK_INSERT)
		elog(ERROR, "sampling failed: %s", sql);
	return (int64) SPI_processed;
}

/*
 * Connections by state against max_connections, the longest query,
 * transaction and idle-in-transaction session, waiting backends by wait
 * event type.  Query ids only: the text of other sessions is never read.
 */
int64
nadia_sample_activity(TimestampTz ts)
{
	return exec_insert(
					   "WITH a AS MATERIALIZED (SELECT * FROM pg_catalog.pg_stat_activity"
					   "  WHERE backend_type = 'client backend' AND pid <> pg_catalog.pg_backend_pid())"
					   " INSERT INTO nadia_bgw.activity_samples SELECT $1,"
					   " pg_catalog.current_setting('max_connections')::integer,"
					   " (SELECT count(*) FROM a),"
					   " (SELECT count(*) FROM a WHERE state = 'active'),"
					   " (SELECT count(*) FROM a WHERE state = 'idle'),"
					   " (SELECT count(*) FROM a WHERE state = 'idle in transaction'),"
					   " (SELECT count(*) FROM a WHERE state = 'idle in transaction (aborted)'),"
					   " (SELECT count(*) FROM a WHERE state = 'active' AND wait_event_type IS NOT NULL"
					   "   AND wait_event_type NOT IN ('Client', 'Activity'))," 
					   " (SELECT count(*) FROM a WHERE wait_event_type = 'Lock'),"
					   " q.s, q.pid, q.query_id, x.s, x.pid, x.query_id, t.s, t.pid,"
					   " (SELECT pg_catalog.jsonb_object_agg(w, n) FROM (SELECT wait_event_type AS w, count(*) AS n"
					   "   FROM a WHERE state = 'active' AND wait_event_type IS NOT NULL GROUP BY 1) z),"
					   " (SELECT pg_catalog.jsonb_object_agg(coalesce(datname, '-'), n) FROM (SELECT datname, count(*) AS n"
					   "   FROM a GROUP BY 1) z)"
					   " FROM (SELECT 1) one"
					   " LEFT JOIN LATERAL (SELECT extract(epoch FROM $1 - query_start)::float8 AS s, pid, query_id"
					   "   FROM a WHERE state = 'active' ORDER BY query_start LIMIT 1) q ON true"
					   " LEFT JOIN LATERAL (SELECT extract(epoch FROM $1 - xact_start)::float8 AS s, pid, query_id"
					   "   FROM a WHERE xact_start IS NOT NULL ORDER BY xact_start LIMIT 1) x ON true"
					   " LEFT JOIN LATERAL (SELECT extract(epoch FROM $1 - state_change)::float8 AS s, pid"
					   "   FROM a WHERE state LIKE 'idle in transaction%' ORDER BY state_change LIMIT 1) t ON true",
					   ts);
}

/*
 * Blocked backends with who blocks them (pg_blocking_pids).  Query ids,
 * never texts.  A relation of another database is recorded as "oid N":
 * regclass would name whatever relation has that OID in this one.
 */
int64
nadia_sample_lock_waits(TimestampTz ts)
{
	return exec_insert(
					   "INSERT INTO nadia_bgw.lock_wait_samples"
					   " SELECT $1, a.pid, a.datname, a.usename, l.locktype, l.mode,"
					   " CASE WHEN l.relation IS NULL THEN NULL"
					   "      WHEN l.database = (SELECT d.oid FROM pg_catalog.pg_database d"
					   "                          WHERE d.datname = pg_catalog.current_database())"
					   "      THEN l.relation::regclass::text"
					   "      ELSE 'oid ' || l.relation END,"
					   " extract(epoch FROM $1 - coalesce(l.waitstart, a.state_change))::float8,"
					   " a.query_id, b.pids,"
					   " (SELECT pg_catalog.array_agg(o.query_id ORDER BY o.pid) FROM pg_catalog.pg_stat_activity o"
					   "   WHERE o.pid = ANY (b.pids))"
					   " FROM pg_catalog.pg_locks l"
					   " JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid"
					   " CROSS JOIN LATERAL (SELECT pg_catalog.pg_blocking_pids(a.pid) AS pids) b"
					   " WHERE NOT l.granted",
					   ts);
}

/* Streaming standbys and replication slots. */
int64
nadia_sample_replication(TimestampTz ts)
{
	return exec_insert(
					   "INSERT INTO nadia_bgw.replication_samples"
					   " SELECT $1, 'standby', r.application_name, r.state, true,"
					   " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.sent_lsn)::bigint,"
					   " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.write_lsn)::bigint,"
					   " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.flush_lsn)::bigint,"
					   " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.replay_lsn)::bigint,"
					   " extract(epoch FROM r.write_lag)::float8, extract(epoch FROM r.flush_lag)::float8,"
					   " extract(epoch FROM r.replay_lag)::float8, NULL"
					   " FROM pg_catalog.pg_stat_replication r"
					   " UNION ALL"
					   " SELECT $1, 'slot', s.slot_name, s.wal_status, s.active,"
					   " NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
					   " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn)::bigint"
					   " FROM pg_catalog.pg_replication_slots s",
					   ts);
}
