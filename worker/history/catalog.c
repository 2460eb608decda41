/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		The catalogue of the delta sources: for each, its tables and a
 *		column table saying what each history column holds and how.
 *
 * Cumulative sources (statements, tables, indexes, databases, cluster) are
 * described by a column table: what each history column holds and how
 * (delta, minimum, maximum, gauge), which columns detect a change, which
 * mark a reset.  Statements, tables, indexes and plans are "tracked" sources:
 * their readers (sampler_readers.c) return one row per object and
 * tracked_sample.c compares them with the last-seen values it keeps in
 * shared memory.  Databases and cluster (a few rows) are sampled by one
 * generated statement each (delta_sql.c).  tiers.c aggregates the same
 * columns into the hourly and daily tiers.
 *
 * Columns that differ between PostgreSQL versions are written "@a|b": the
 * first column that exists in the source relations is used, else NULL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"

#include "history/history_internal.h"

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
static const NadiaHistColumn statement_cols[] = {
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
 * was rewritten: see SIZE_SPREAD in tracked_sample.c).
 */
#define WRT (CNT | HC_TRIGGER)
#define LAZY (LATE | HC_LAZY)
static const NadiaHistColumn table_cols[] = {
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
static const NadiaHistColumn index_cols[] = {
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
static const NadiaHistColumn database_cols[] = {
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
 * Groups of counters reset together (see NadiaHistColumn): the background
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

static const NadiaHistColumn cluster_cols[] = {
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

/*
 * Plans: one row per (queryid, dbid, userid, planid) of the capture's
 * store, nadia_bgw._plan_store(false) (worker/plans/, counters cumulative
 * since the entry was created), read by plan_store.c.  History rows are
 * keyed by the plans row (plan_ref), made by tracked_plans.c the first
 * time a plan is seen.  The store's created_at restarts every counter: a
 * store that was set up again counts from zero.  last_seen and sampled_at
 * are kept to refresh the plans row (its last use, its latest
 * instrumented execution); they move with calls, so they detect nothing.
 */
static const NadiaHistColumn plan_cols[] = {
	{"queryid", "s.queryid", I8, KEY},
	{"dbid", "s.dbid", "oid", KEY},
	{"userid", "s.userid", "oid", KEY},
	{"planid", "s.planid", I8, KEY},
	{"created_at", "i.created_at", TS, RSET},
	{"calls", "s.calls", I8, CNT},
	{"total_exec_time", "s.total_exec_time", F8, CNT & ~HC_DETECT},
	{"rows", "s.rows", I8, CNT & ~HC_DETECT},
	{"shared_blks_hit", "s.shared_blks_hit", I8, CNT & ~HC_DETECT},
	{"shared_blks_read", "s.shared_blks_read", I8, CNT & ~HC_DETECT},
	{"sampled_calls", "s.sampled_calls", I8, CNT & ~HC_DETECT},
	{"min_exec_time", "s.min_exec_time", F8, HC_MIN | HC_STATE | HC_HIST},
	{"max_exec_time", "s.max_exec_time", F8, HC_MAX | HC_STATE | HC_HIST},
	{"last_seen", "s.last_seen", TS, HC_STATE},
	{"sampled_at", "s.sampled_at", TS, HC_STATE},
	/* the plans row, made or looked up once per (new) entry */
	{"plan_ref", "(tracked_plans.c)", "integer", HC_LATE | HC_DICT | HC_STATE | HC_HIST | HC_HKEY},
};

const NadiaHistSource nadia_delta_sources[] = {
	/* tracked sources: read by sampler_readers.c, no generated SQL */
	{"statements", NULL, "nadia_bgw.statement_samples",
		"nadia_bgw.statement_hourly", "nadia_bgw.statement_daily",
		NULL, NULL, NULL,
		"SELECT stats_reset FROM %s.pg_stat_statements_info",
		statement_cols, lengthof(statement_cols),
	nadia_read_statements, NULL, NULL, NULL, nadia_tracked_dictionary},
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
	/* tracked, sampled after statements (whose dictionary says "excluded") */
	{"plans", NULL, "nadia_bgw.plan_samples",
		"nadia_bgw.plan_hourly", "nadia_bgw.plan_daily",
		NULL, NULL, NULL,
		"SELECT created_at FROM nadia_bgw._plan_store_info()",
		plan_cols, lengthof(plan_cols),
		nadia_read_plans, NULL, NULL, NULL, nadia_plan_dictionary,
	nadia_plans_unavailable, nadia_check_plan_store},
};

const int	nadia_n_delta_sources = lengthof(nadia_delta_sources);

/* The position of a column in its source's column table. */
int
nadia_column_index(const NadiaHistSource *src, const char *name)
{
	int			i;

	for (i = 0; i < src->ncols; i++)
		if (strcmp(src->cols[i].name, name) == 0)
			return i;
	elog(ERROR, "source \"%s\" has no column \"%s\"", src->name, name);
	return -1;
}

Oid
nadia_column_type(const NadiaHistColumn *col)
{
	const char *t = col->type;

	if (strcmp(t, "bigint") == 0)
		return INT8OID;
	if (strcmp(t, "double precision") == 0)
		return FLOAT8OID;
	if (strcmp(t, "timestamptz") == 0)
		return TIMESTAMPTZOID;
	if (strcmp(t, "integer") == 0)
		return INT4OID;
	if (strcmp(t, "oid") == 0)
		return OIDOID;
	if (strcmp(t, "xid") == 0)
		return XIDOID;
	if (strcmp(t, "boolean") == 0)
		return BOOLOID;
	if (strcmp(t, "name") == 0)
		return NAMEOID;
	if (strcmp(t, "\"char\"") == 0)
		return CHAROID;
	return TEXTOID;
}
