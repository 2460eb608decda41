/*-------------------------------------------------------------------------
 *
 * tools.c
 *		The catalogue of nadia-mcp tools: for each, its name, description,
 *		arguments, output columns and the one fixed query it runs.
 *
 * Every query reads nadia_bgw's history (views, tables and the range
 * functions of sql/nadia_bgw--1.0.sql) and nothing else; the NADIA rollup
 * tools go through nadia_bgw.rollup_rows(), which serves registered
 * rollup tables only; they differ by a few words, kept as one descriptor
 * each (rollup_tools) from which rollup_tool() makes the ToolDef.
 * Arguments arrive as bound parameters $1..$n in the
 * order of the ToolArg table (skipping "limit"), followed by the row cap
 * (one more than may be shown, so results.c knows when it cut).  Column
 * names of the SELECT list must match the ToolColumn table: the
 * outputSchema a client validates against is generated from it.
 *
 * The data-quality and capacity tools (constraint_violations,
 * referential_integrity, data_distribution, data_anomalies,
 * capacity_forecast) call the reader functions of sql/1.1/97..99, which
 * return catalog names and numbers, never application values.
 *
 * explain_query plans nothing: planning a query needs the privileges of
 * the application on its tables, which the MCP role must not have.  It
 * reads the plans the preloaded library captured (masked) into plan
 * history, by queryid or by comparing a text with the normalized texts
 * history holds (sql/1.1/94_plan_reader.sql).
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools.h"

#define N(a) ((int) (sizeof(a) / sizeof((a)[0])))

static const char *const alert_states[] = {"open", "resolved", "all", NULL};

/*
 * The "since" parameter as a timestamptz: schema_bind_args passes a
 * duration as a negative interval ("-3600 seconds"), which the server adds
 * to its own now() -- history rows carry the server's times, and the host
 * nadia-mcp runs on may have another clock -- and an absolute time as
 * checked ISO 8601 text.  Only the branch whose condition holds is ever
 * evaluated (also when the planner folds the bound value as a constant).
 */
#define SINCE(p) \
	"(CASE WHEN pg_catalog.left(" p "::text, 1) = '-'" \
	" THEN pg_catalog.now() + " p "::text::interval" \
	" ELSE " p "::text::timestamptz END)"

#define ARG_LIMIT(def) \
	{"limit", ARG_INT, "Most rows to return.", 1, 100, 0, def, NULL}
#define SINCE_HELP(def) "Start of the time range (default " def ")."
#define ARG_SINCE_AS(help, def) \
	{"since", ARG_SINCE, help, 0, 0, 0, def, NULL}
#define ARG_SINCE_DEF(def) ARG_SINCE_AS(SINCE_HELP(def), def)

/* ---------------------------------------------------------------- */
/* statements                                                        */
/* ---------------------------------------------------------------- */

static const ToolColumn slow_cols[] = {
	{"queryid", COL_ID, "pg_stat_statements query id (a string: 64-bit)"},
	{"database", COL_TEXT, "database name"},
	{"username", COL_TEXT, "role that ran it"},
	{"calls", COL_INT, "calls in the range"},
	{"mean_exec_time_ms", COL_NUM, "mean execution time, ms"},
	{"max_exec_time_ms", COL_NUM, "longest execution in the range, ms"},
	{"total_exec_time_ms", COL_NUM, "execution time summed over the range, ms"},
	{"rows_per_call", COL_NUM, "rows returned or affected per call"},
	{"shared_blks_read", COL_INT, "shared blocks read from disk or OS cache"},
	{"cache_hit_ratio", COL_NUM, "shared block hits / (hits + reads), 0..1; null without block access"},
	{"query", COL_TEXT, "normalized query text (constants replaced by $n)"},
};

static const char slow_sql[] =
"SELECT s.queryid::text AS queryid, s.datname AS database, s.username,\n"
"       s.calls,\n"
"       round((s.total_exec_time_ms / s.calls)::numeric, 3) AS mean_exec_time_ms,\n"
"       round(s.max_exec_time_ms::numeric, 3) AS max_exec_time_ms,\n"
"       round(s.total_exec_time_ms::numeric, 3) AS total_exec_time_ms,\n"
"       round((s.rows::numeric / s.calls), 2) AS rows_per_call,\n"
"       s.shared_blks_read,\n"
"       round(s.shared_blks_hit::numeric / nullif(s.shared_blks_hit + s.shared_blks_read, 0), 4)\n"
"         AS cache_hit_ratio,\n"
"       s.query\n"
"  FROM nadia_bgw.mcp_statement_totals(" SINCE("$1") ") s\n"
" WHERE s.calls > 0 AND ($2::text IS NULL OR s.datname = $2::text)\n"
" ORDER BY s.total_exec_time_ms / s.calls DESC, s.queryid\n"
" LIMIT $3::int";

static const ToolColumn qstats_cols[] = {
	{"queryid", COL_ID, "pg_stat_statements query id (a string: 64-bit)"},
	{"database", COL_TEXT, "database name"},
	{"username", COL_TEXT, "role that ran it"},
	{"calls", COL_INT, "calls in the range"},
	{"total_exec_time_ms", COL_NUM, "execution time summed over the range, ms"},
	{"mean_exec_time_ms", COL_NUM, "mean execution time, ms"},
	{"min_exec_time_ms", COL_NUM, "shortest execution in the range, ms"},
	{"max_exec_time_ms", COL_NUM, "longest execution in the range, ms"},
	{"mean_plan_time_ms", COL_NUM, "mean planning time, ms (null unless pg_stat_statements.track_planning)"},
	{"rows", COL_INT, "rows returned or affected"},
	{"rows_per_call", COL_NUM, "rows per call"},
	{"shared_blks_hit", COL_INT, "shared blocks found in shared_buffers"},
	{"shared_blks_read", COL_INT, "shared blocks read"},
	{"shared_blks_per_call", COL_NUM, "shared blocks (hit + read) per call: a plan-change signal"},
	{"temp_blks_written", COL_INT, "temporary blocks written (sorts or hashes that spilled)"},
	{"wal_bytes", COL_INT, "WAL generated, bytes"},
	{"first_seen", COL_TIME, "first sample in the range with calls"},
	{"last_seen", COL_TIME, "last sample in the range with calls"},
	{"query", COL_TEXT, "normalized query text"},
	{"plans", COL_JSON,
	 "the plans the statement ran in the range, most calls first: planid (a string), calls, "
	 "share_of_calls, share_of_time, mean_exec_time_ms, first_seen, last_seen, summary "
	 "([] when none was captured; null when this database has no plan history)"},
};

/*
 * The statements are chosen first (the CTE), then the plans of those only
 * are read.  PLANS is the plans column: mcp_statement_plans() where plan
 * history exists, null in the fallback for a database whose nadia_bgw
 * predates it (the columns stay the same, the note says why).
 */
#define QSTATS_SQL(plans_col, plans_join) \
"WITH s AS (\n" \
"  SELECT * FROM nadia_bgw.mcp_statement_totals(" SINCE("$2") ") s\n" \
"   WHERE $1::text IS NULL\n" \
"      OR strpos(lower(s.query), lower($1::text)) > 0\n" \
"      OR s.queryid::text = $1::text\n" \
"   ORDER BY s.total_exec_time_ms DESC, s.queryid\n" \
"   LIMIT $3::int)\n" \
"SELECT s.queryid::text AS queryid, s.datname AS database, s.username, s.calls,\n" \
"       round(s.total_exec_time_ms::numeric, 3) AS total_exec_time_ms,\n" \
"       round((s.total_exec_time_ms / nullif(s.calls, 0))::numeric, 3) AS mean_exec_time_ms,\n" \
"       round(s.min_exec_time_ms::numeric, 3) AS min_exec_time_ms,\n" \
"       round(s.max_exec_time_ms::numeric, 3) AS max_exec_time_ms,\n" \
"       round((s.total_plan_time_ms / nullif(s.plans, 0))::numeric, 3) AS mean_plan_time_ms,\n" \
"       s.rows, round(s.rows::numeric / nullif(s.calls, 0), 2) AS rows_per_call,\n" \
"       s.shared_blks_hit, s.shared_blks_read,\n" \
"       round((s.shared_blks_hit + s.shared_blks_read)::numeric / nullif(s.calls, 0), 2)\n" \
"         AS shared_blks_per_call,\n" \
"       s.temp_blks_written, s.wal_bytes,\n" \
"       s.first_seen, s.last_seen, s.query, " plans_col " AS plans\n" \
"  FROM s" plans_join "\n" \
" ORDER BY s.total_exec_time_ms DESC, s.queryid"

static const char qstats_sql[] =
QSTATS_SQL("coalesce(p.plans, '[]')",
		   "\n  LEFT JOIN nadia_bgw.mcp_statement_plans(" SINCE("$2") ",\n"
		   "            (SELECT array_agg(s.stmt_id) FROM s)) p ON p.stmt_id = s.stmt_id");

static const char qstats_sql_noplans[] = QSTATS_SQL("NULL::jsonb", "");

/* ---------------------------------------------------------------- */
/* plans                                                             */
/* ---------------------------------------------------------------- */

static const ToolColumn explain_cols[] = {
	{"queryid", COL_ID, "pg_stat_statements query id (a string: 64-bit)"},
	{"database", COL_TEXT, "database name"},
	{"username", COL_TEXT, "role that ran it"},
	{"planid", COL_ID, "plan id: a hash of the plan tree (node types, relations, indexes), a string"},
	{"calls", COL_INT, "calls run with this plan in the range"},
	{"share_of_calls", COL_NUM, "this plan's share of the statement's calls in the range, 0..1"},
	{"share_of_time", COL_NUM, "this plan's share of the statement's execution time in the range, 0..1"},
	{"mean_exec_time_ms", COL_NUM, "mean execution time with this plan, ms"},
	{"min_exec_time_ms", COL_NUM, "shortest execution with this plan in the range, ms"},
	{"max_exec_time_ms", COL_NUM, "longest execution with this plan in the range, ms"},
	{"rows_per_call", COL_NUM, "rows returned or affected per call"},
	{"shared_blks_per_call", COL_NUM, "shared blocks (hit + read) per call"},
	{"first_seen", COL_TIME, "first sample in the range in which the plan ran"},
	{"last_seen", COL_TIME, "last sample in the range in which the plan ran"},
	{"plan_first_seen", COL_TIME, "when history first saw this plan (may be before the range)"},
	{"sampled_at", COL_TIME, "latest execution run with row instrumentation (null: none yet)"},
	{"sampled_calls", COL_INT, "executions in the range run with row instrumentation"},
	{"summary", COL_TEXT, "the plan's scans and joins in one line"},
	{"plan_text", COL_TEXT, "EXPLAIN of the plan's first execution, costs on, every constant masked"},
	{"worst_nodes", COL_JSON,
	 "up to 3 nodes of the latest instrumented execution, worst first: estimated vs actual rows "
	 "(misestimate: the factor, + under- / - over-estimated) and rows removed by filters; "
	 "[] when nothing was off by 2x or more, null when never instrumented"},
	{"query", COL_TEXT, "normalized query text"},
};

static const char explain_sql[] =
"SELECT e.queryid::text AS queryid, e.datname AS database, e.username, e.planid::text AS planid,\n"
"       e.calls, round(e.share_of_calls::numeric, 4) AS share_of_calls,\n"
"       round(e.share_of_time::numeric, 4) AS share_of_time,\n"
"       round(e.mean_exec_time_ms::numeric, 3) AS mean_exec_time_ms,\n"
"       round(e.min_exec_time_ms::numeric, 3) AS min_exec_time_ms,\n"
"       round(e.max_exec_time_ms::numeric, 3) AS max_exec_time_ms,\n"
"       round(e.rows::numeric / nullif(e.calls, 0), 2) AS rows_per_call,\n"
"       round((e.shared_blks_hit + e.shared_blks_read)::numeric / nullif(e.calls, 0), 2)\n"
"         AS shared_blks_per_call,\n"
"       e.first_seen, e.last_seen, e.plan_first_seen, e.sampled_at, e.sampled_calls,\n"
"       e.summary, e.plan_text, e.worst_nodes, e.query\n"
"  FROM nadia_bgw.mcp_explain_query($1::text::bigint, $2::text, " SINCE("$3") ", " SINCE("$4") ") e\n"
" LIMIT $5::int";

static const ToolColumn cost_cols[] = {
	{"queryid", COL_ID, "pg_stat_statements query id (a string: 64-bit)"},
	{"database", COL_TEXT, "database name"},
	{"calls", COL_INT, "calls in the range"},
	{"total_exec_time_ms", COL_NUM, "execution time, ms"},
	{"time_share", COL_NUM, "share of the execution time of all statements in the range, 0..1"},
	{"shared_blks_read", COL_INT, "shared blocks read"},
	{"io_share", COL_NUM, "share of all shared blocks read and temp blocks written, 0..1"},
	{"blk_io_time_ms", COL_NUM, "time spent reading and writing blocks, ms (needs track_io_timing)"},
	{"wal_bytes", COL_INT, "WAL generated, bytes"},
	{"wal_share", COL_NUM, "share of all WAL generated by statements, 0..1"},
	{"query", COL_TEXT, "normalized query text"},
};

static const char cost_sql[] =
"WITH s AS (SELECT * FROM nadia_bgw.mcp_statement_totals(" SINCE("$1") ")),\n"
"tot AS (SELECT sum(total_exec_time_ms) AS t,\n"
"               sum(shared_blks_read + temp_blks_written) AS io,\n"
"               sum(wal_bytes) AS wal FROM s)\n"
"SELECT s.queryid::text AS queryid, s.datname AS database, s.calls,\n"
"       round(s.total_exec_time_ms::numeric, 3) AS total_exec_time_ms,\n"
"       round((s.total_exec_time_ms / nullif(tot.t, 0))::numeric, 4) AS time_share,\n"
"       s.shared_blks_read,\n"
"       round((s.shared_blks_read + s.temp_blks_written)::numeric / nullif(tot.io, 0), 4) AS io_share,\n"
"       round((s.blk_read_time_ms + s.blk_write_time_ms)::numeric, 3) AS blk_io_time_ms,\n"
"       s.wal_bytes,\n"
"       round(s.wal_bytes::numeric / nullif(tot.wal, 0), 4) AS wal_share,\n"
"       s.query\n"
"  FROM s, tot\n"
" ORDER BY s.total_exec_time_ms DESC, s.queryid\n"
" LIMIT $2::int";

/* ---------------------------------------------------------------- */
/* sessions and locks                                                */
/* ---------------------------------------------------------------- */

static const ToolColumn conn_cols[] = {
	{"sampled_at", COL_TIME, "time of the sample"},
	{"max_connections", COL_INT, "the server's max_connections"},
	{"backends", COL_INT, "client backends"},
	{"used_ratio", COL_NUM, "backends / max_connections, 0..1"},
	{"active", COL_INT, "backends running a query"},
	{"idle", COL_INT, "idle backends"},
	{"idle_in_transaction", COL_INT, "backends idle inside a transaction"},
	{"waiting", COL_INT, "active backends waiting on something other than the client"},
	{"waiting_on_lock", COL_INT, "backends waiting on a heavyweight lock"},
	{"longest_query_s", COL_NUM, "age of the longest running query, s"},
	{"longest_query_queryid", COL_ID, "its query id"},
	{"longest_xact_s", COL_NUM, "age of the oldest open transaction, s"},
	{"longest_idle_in_xact_s", COL_NUM, "longest idle-in-transaction time, s"},
	{"peak_backends_1h", COL_INT, "most backends in the hour before the sample"},
	{"peak_idle_in_transaction_1h", COL_INT, "most idle-in-transaction backends in that hour"},
	{"by_wait_event_type", COL_JSON, "active backends per wait event type"},
	{"by_database", COL_JSON, "backends per database"},
};

static const char conn_sql[] =
"SELECT a.sampled_at, a.max_connections, a.backends,\n"
"       round(a.used_ratio::numeric, 4) AS used_ratio,\n"
"       a.active, a.idle, a.idle_in_transaction, a.waiting, a.waiting_on_lock,\n"
"       round(a.longest_query_s::numeric, 3) AS longest_query_s,\n"
"       a.longest_query_queryid::text AS longest_query_queryid,\n"
"       round(a.longest_xact_s::numeric, 3) AS longest_xact_s,\n"
"       round(a.longest_idle_in_xact_s::numeric, 3) AS longest_idle_in_xact_s,\n"
"       a.peak_backends_1h, a.peak_idle_in_transaction_1h,\n"
"       a.by_wait_event_type, a.by_database\n"
"  FROM nadia_bgw.connections a\n"
" LIMIT least($1::int, 1)";

static const ToolColumn lock_cols[] = {
	{"database", COL_TEXT, "database of the waiting session"},
	{"relation", COL_TEXT, "locked relation, when the lock is on one"},
	{"locktype", COL_TEXT, "lock type (relation, tuple, transactionid, ...)"},
	{"mode", COL_TEXT, "lock mode waited for"},
	{"waiting_queryid", COL_ID, "query id of the waiting statement"},
	{"waiting_query", COL_TEXT, "its normalized text, when history has it"},
	{"blocking_queryids", COL_JSON, "query ids of the blocking sessions (strings)"},
	{"samples", COL_INT, "samples in which such a wait was seen"},
	{"max_wait_s", COL_NUM, "longest wait seen, s"},
	{"first_seen", COL_TIME, "first sample with this wait"},
	{"last_seen", COL_TIME, "last sample with this wait"},
};

static const char lock_sql[] =
"WITH w AS (\n"
"  SELECT l.datname, l.relation, l.locktype, l.mode, l.queryid,\n"
"         count(*) AS samples, max(l.wait_s) AS max_wait_s,\n"
"         min(l.sampled_at) AS first_seen, max(l.sampled_at) AS last_seen,\n"
"         (SELECT coalesce(jsonb_agg(DISTINCT b::text), '[]')\n"
"            FROM unnest(array_agg(l.blocking_queryids)) AS b\n"
"           WHERE b IS NOT NULL) AS blocking_queryids\n"
"    FROM nadia_bgw.lock_wait_samples l\n"
"   WHERE l.sampled_at >= " SINCE("$1") "\n"
"   GROUP BY 1, 2, 3, 4, 5)\n"
"SELECT w.datname AS database, w.relation, w.locktype, w.mode,\n"
"       w.queryid::text AS waiting_queryid,\n"
"       (SELECT st.query FROM nadia_bgw.statements st\n"
"         WHERE st.queryid = w.queryid AND w.queryid <> 0 LIMIT 1) AS waiting_query,\n"
"       w.blocking_queryids, w.samples,\n"
"       round(w.max_wait_s::numeric, 3) AS max_wait_s, w.first_seen, w.last_seen\n"
"  FROM w\n"
" ORDER BY w.max_wait_s DESC NULLS LAST, w.samples DESC\n"
" LIMIT $2::int";

/* ---------------------------------------------------------------- */
/* tables and indexes                                                */
/* ---------------------------------------------------------------- */

static const ToolColumn index_cols[] = {
	{"schemaname", COL_TEXT, "schema"},
	{"relname", COL_TEXT, "table"},
	{"indexrelname", COL_TEXT, "index"},
	{"index_bytes", COL_INT, "index size, bytes"},
	{"idx_scan_total", COL_INT, "scans since statistics were last reset"},
	{"idx_scan_30d", COL_INT, "scans in the last 30 days of history"},
	{"table_writes_30d", COL_INT, "rows inserted, updated and deleted in the table in 30 days"},
	{"backs_constraint", COL_BOOL, "the index enforces a primary key, unique or exclusion constraint"},
	{"is_valid", COL_BOOL, "false for an index left invalid by a failed CREATE INDEX CONCURRENTLY"},
	{"verdict", COL_TEXT, "invalid, duplicate, unused, rarely used or used"},
	{"duplicate_of", COL_TEXT, "the index of the same table with the same definition to keep"},
	{"indexdef", COL_TEXT, "CREATE INDEX statement"},
};

static const char index_sql[] =
"WITH s AS (SELECT * FROM nadia_bgw.mcp_index_totals(now() - interval '30 days')),\n"
"w AS (SELECT t.relid, t.writes FROM nadia_bgw.mcp_table_totals(now() - interval '30 days') t)\n"
"SELECT i.schemaname, i.relname, i.indexrelname, i.index_bytes, i.idx_scan AS idx_scan_total,\n"
"       coalesce(s.idx_scan, 0) AS idx_scan_30d, coalesce(w.writes, 0) AS table_writes_30d,\n"
"       i.constraint_name IS NOT NULL AS backs_constraint, i.is_valid,\n"
"       CASE WHEN NOT i.is_valid THEN 'invalid'\n"
"            WHEN d.same_as IS NOT NULL THEN 'duplicate'\n"
"            WHEN coalesce(i.idx_scan, 0) = 0 AND i.constraint_name IS NULL THEN 'unused'\n"
"            WHEN coalesce(s.idx_scan, 0) < 50 AND i.constraint_name IS NULL\n"
"                 AND coalesce(w.writes, 0) > 10 * coalesce(s.idx_scan, 0) THEN 'rarely used'\n"
"            ELSE 'used' END AS verdict,\n"
"       d.same_as::text AS duplicate_of, i.indexdef\n"
"  FROM nadia_bgw.index_state i\n"
"  LEFT JOIN s ON s.indexrelid = i.indexrelid\n"
"  LEFT JOIN w ON w.relid = i.relid\n"
"  LEFT JOIN LATERAL (SELECT x.same_as FROM nadia_bgw.duplicate_indexes x\n"
"                      WHERE x.schemaname = i.schemaname AND x.relname = i.relname\n"
"                        AND x.duplicate_index = i.indexrelname\n"
"                      ORDER BY x.same_as LIMIT 1) d ON true\n"
" WHERE i.dropped_at IS NULL\n"
" ORDER BY CASE WHEN NOT i.is_valid THEN 0 WHEN d.same_as IS NOT NULL THEN 1\n"
"               WHEN coalesce(i.idx_scan, 0) = 0 AND i.constraint_name IS NULL THEN 2\n"
"               ELSE 3 END,\n"
"          i.index_bytes DESC NULLS LAST, i.indexrelname\n"
" LIMIT $1::int";

static const ToolColumn missing_cols[] = {
	{"schemaname", COL_TEXT, "schema"},
	{"relname", COL_TEXT, "table"},
	{"n_live_tup", COL_INT, "live rows (estimate)"},
	{"total_bytes", COL_INT, "table size with indexes and TOAST, bytes"},
	{"seq_scan", COL_INT, "sequential scans in the range"},
	{"seq_tup_read", COL_INT, "rows read by those scans"},
	{"avg_rows_per_seq_scan", COL_NUM, "rows read per sequential scan"},
	{"idx_scan", COL_INT, "index scans in the range"},
	{"index_scan_ratio", COL_NUM, "idx_scan / (idx_scan + seq_scan), 0..1"},
	{"source", COL_TEXT, "'advice' (an index advised from captured plans) or "
	 "'seq_scan_fallback' (a table read by sequential scans, no advice for it)"},
	{"create_statement", COL_TEXT, "the advised CREATE INDEX; null for the fallback"},
	{"queryids", COL_JSON, "query ids (strings) of the statements the index would serve"},
	{"est_gain_ms", COL_NUM, "estimated execution time saved over the advice window, ms "
	 "(calls x mean time, scaled by the planner cost ratio with/without the index)"},
	{"gain_ratio", COL_NUM, "share of those statements' time saved, 0..1"},
	{"index_bytes", COL_INT, "estimated index size, bytes (hypopg)"},
	{"writes_per_hour", COL_NUM, "rows inserted, updated or deleted in the table per hour"},
	{"verified", COL_BOOL, "checked by what-if planning (hypopg) as the statements' own role"},
	{"why_not", COL_TEXT, "why the advice is not verified"},
	{"computed_at", COL_TIME, "when the advice was computed"},
};

/* the table-level list: large tables read by sequential scans */
#define MISSING_SEQ_SCANS(since) \
"SELECT t.relid, t.schemaname::text AS schemaname, t.relname::text AS relname,\n" \
"       l.n_live_tup, l.total_bytes, t.seq_scan, t.seq_tup_read,\n" \
"       round(t.seq_tup_read::numeric / nullif(t.seq_scan, 0), 1) AS avg_rows_per_seq_scan,\n" \
"       t.idx_scan,\n" \
"       round(t.idx_scan::numeric / nullif(t.idx_scan + t.seq_scan, 0), 4) AS index_scan_ratio\n" \
"  FROM nadia_bgw.mcp_table_totals(" since ") t\n" \
"  JOIN nadia_bgw.table_stats_latest l USING (relid)\n"

/* ... of at least min_rows ($2) rows, a tenth of it read per scan on average */
#define MISSING_LARGE_SCANNED \
"t.seq_scan > 0 AND t.n_live_tup >= $2::int" \
" AND t.seq_tup_read::numeric / t.seq_scan >= 0.1 * greatest(t.n_live_tup, 1)"

/*
 * The advice of the worker's advice task first (verified first, largest
 * gain first), then the tables read by sequential scans that have no
 * advice, labelled as the fallback.
 */
static const char missing_sql[] =
"WITH tt AS (" MISSING_SEQ_SCANS(SINCE("$1")) "),\n"
"advice AS (\n"
"SELECT a.schemaname::text AS schemaname, a.relname::text AS relname,\n"
"       l.n_live_tup, l.total_bytes, t.seq_scan, t.seq_tup_read, t.avg_rows_per_seq_scan,\n"
"       t.idx_scan, t.index_scan_ratio,\n"
"       'advice'::text AS source, a.create_statement,\n"
"       pg_catalog.to_jsonb(a.queryids::text[]) AS queryids,\n"
"       round(a.est_gain_ms::numeric, 3) AS est_gain_ms,\n"
"       round(a.gain_ratio::numeric, 4) AS gain_ratio, a.index_bytes,\n"
"       round(a.writes_per_hour::numeric, 1) AS writes_per_hour,\n"
"       a.verified, a.why_not, a.computed_at, a.relid\n"
"  FROM nadia_bgw.index_advice a\n"
"  LEFT JOIN nadia_bgw.table_stats_latest l ON l.relid = a.relid\n"
"  LEFT JOIN tt t ON t.relid = a.relid\n"
" WHERE coalesce(l.n_live_tup, 0) >= $2::int)\n"
"SELECT schemaname, relname, n_live_tup, total_bytes, seq_scan, seq_tup_read,\n"
"       avg_rows_per_seq_scan, idx_scan, index_scan_ratio, source, create_statement,\n"
"       queryids, est_gain_ms, gain_ratio, index_bytes, writes_per_hour, verified,\n"
"       why_not, computed_at\n"
"  FROM (SELECT 0 AS part, * FROM advice\n"
"        UNION ALL\n"
"        SELECT 1, t.schemaname, t.relname, t.n_live_tup, t.total_bytes, t.seq_scan,\n"
"               t.seq_tup_read, t.avg_rows_per_seq_scan, t.idx_scan, t.index_scan_ratio,\n"
"               'seq_scan_fallback', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,\n"
"               t.relid\n"
"          FROM tt t\n"
"         WHERE " MISSING_LARGE_SCANNED "\n"
"           AND NOT EXISTS (SELECT 1 FROM advice a WHERE a.relid = t.relid)) r\n"
" ORDER BY part, verified DESC NULLS LAST, est_gain_ms DESC NULLS LAST,\n"
"          seq_tup_read DESC NULLS LAST, relname\n"
" LIMIT $3::int";

/* a 1.0 schema (no nadia_bgw.index_advice): the table-level list alone */
static const char missing_sql_noadvice[] =
"SELECT schemaname, relname, n_live_tup, total_bytes, seq_scan, seq_tup_read,\n"
"       avg_rows_per_seq_scan, idx_scan, index_scan_ratio,\n"
"       'seq_scan_fallback'::text AS source, NULL::text AS create_statement,\n"
"       NULL::jsonb AS queryids, NULL::numeric AS est_gain_ms, NULL::numeric AS gain_ratio,\n"
"       NULL::bigint AS index_bytes, NULL::numeric AS writes_per_hour,\n"
"       NULL::boolean AS verified, NULL::text AS why_not, NULL::timestamptz AS computed_at\n"
"  FROM (" MISSING_SEQ_SCANS(SINCE("$1")) ") t\n"
" WHERE " MISSING_LARGE_SCANNED "\n"
" ORDER BY t.seq_tup_read DESC, t.relname\n"
" LIMIT $3::int";

static const ToolColumn table_cols[] = {
	{"schemaname", COL_TEXT, "schema"},
	{"relname", COL_TEXT, "table"},
	{"total_bytes", COL_INT, "size with indexes and TOAST, bytes"},
	{"heap_bytes", COL_INT, "heap size, bytes"},
	{"index_bytes", COL_INT, "size of its indexes, bytes"},
	{"toast_bytes", COL_INT, "TOAST size, bytes"},
	{"n_live_tup", COL_INT, "live rows (estimate)"},
	{"n_dead_tup", COL_INT, "dead rows (estimate)"},
	{"dead_tuple_ratio", COL_NUM, "n_dead_tup / (n_live_tup + n_dead_tup), 0..1"},
	{"bloat_bytes_estimate", COL_INT, "heap bytes x dead ratio: a rough bloat estimate"},
	{"seq_scan_total", COL_INT, "sequential scans since statistics reset"},
	{"idx_scan_total", COL_INT, "index scans since statistics reset"},
	{"index_scan_ratio", COL_NUM, "idx_scan_total / (seq_scan_total + idx_scan_total), 0..1"},
	{"sampled_at", COL_TIME, "time of the sample these figures come from"},
};

static const char table_sql[] =
"SELECT t.schemaname, t.relname, t.total_bytes, t.heap_bytes, t.index_bytes, t.toast_bytes,\n"
"       t.n_live_tup, t.n_dead_tup,\n"
"       round(t.dead_tuple_ratio::numeric, 4) AS dead_tuple_ratio,\n"
"       t.bloat_bytes_estimate, t.seq_scan_total, t.idx_scan_total,\n"
"       round(t.index_scan_ratio::numeric, 4) AS index_scan_ratio, t.sampled_at\n"
"  FROM nadia_bgw.table_stats t\n"
" ORDER BY t.total_bytes DESC NULLS LAST, t.relname\n"
" LIMIT $1::int";

static const ToolColumn vacuum_cols[] = {
	{"schemaname", COL_TEXT, "schema"},
	{"relname", COL_TEXT, "table"},
	{"n_live_tup", COL_INT, "live rows (estimate)"},
	{"n_dead_tup", COL_INT, "dead rows (estimate)"},
	{"autovacuum_dead_threshold", COL_INT, "dead rows at which autovacuum starts (global settings)"},
	{"vacuum_due", COL_BOOL, "n_dead_tup is past that threshold"},
	{"n_mod_since_analyze", COL_INT, "rows changed since the last ANALYZE"},
	{"analyze_due", COL_BOOL, "past autoanalyze's threshold"},
	{"last_vacuum", COL_TIME, "last manual VACUUM (nadia_bgw's scheduler included)"},
	{"last_autovacuum", COL_TIME, "last autovacuum"},
	{"last_analyze", COL_TIME, "last manual ANALYZE"},
	{"last_autoanalyze", COL_TIME, "last autoanalyze"},
	{"vacuum_count_total", COL_INT, "manual vacuums since statistics reset"},
	{"autovacuum_count_total", COL_INT, "autovacuums since statistics reset"},
	{"frozenxid_age", COL_INT, "age(relfrozenxid), transactions"},
	{"freeze_max_age_ratio", COL_NUM, "frozenxid_age / autovacuum_freeze_max_age (1 = forced anti-wraparound vacuum)"},
	{"scheduler_last_action", COL_TEXT, "last job of nadia_bgw's maintenance scheduler on the table"},
	{"scheduler_last_reason", COL_TEXT, "why the scheduler planned it"},
	{"scheduler_last_outcome", COL_TEXT, "its outcome (done, skipped-locked, failed, ...)"},
	{"scheduler_last_at", COL_TIME, "when it was planned"},
	{"scheduler_jobs_7d", COL_INT, "scheduler jobs on the table in the last 7 days"},
};

#define VACUUM_SELECT \
"SELECT v.schemaname, v.relname, v.n_live_tup, v.n_dead_tup, v.autovacuum_dead_threshold,\n" \
"       v.vacuum_due, v.n_mod_since_analyze, v.analyze_due, v.last_vacuum,\n" \
"       v.last_autovacuum, v.last_analyze, v.last_autoanalyze, v.vacuum_count_total,\n" \
"       v.autovacuum_count_total, v.frozenxid_age,\n" \
"       round(v.frozenxid_age::numeric /\n" \
"             current_setting('autovacuum_freeze_max_age')::numeric, 4) AS freeze_max_age_ratio,\n"
#define VACUUM_ORDER \
" ORDER BY v.n_dead_tup DESC NULLS LAST, v.frozenxid_age DESC NULLS LAST, v.relname\n" \
" LIMIT $1::int"

/* with what the maintenance scheduler did ... */
static const char vacuum_sql[] =
VACUUM_SELECT
"       m.action AS scheduler_last_action, m.reason AS scheduler_last_reason,\n"
"       m.outcome AS scheduler_last_outcome, m.planned_at AS scheduler_last_at,\n"
"       (SELECT count(*) FROM nadia_bgw.maintenance_history j\n"
"         WHERE j.relid = v.relid AND j.planned_at >= now() - interval '7 days')\n"
"         AS scheduler_jobs_7d\n"
"  FROM nadia_bgw.vacuum_stats v\n"
"  LEFT JOIN LATERAL (SELECT h.action, h.reason, h.outcome, h.planned_at\n"
"                       FROM nadia_bgw.maintenance_history h\n"
"                      WHERE h.relid = v.relid\n"
"                      ORDER BY h.planned_at DESC LIMIT 1) m ON true\n"
VACUUM_ORDER;

/* ... and without, while the scheduler is not installed */
static const char vacuum_sql_nosched[] =
VACUUM_SELECT
"       NULL::text AS scheduler_last_action, NULL::text AS scheduler_last_reason,\n"
"       NULL::text AS scheduler_last_outcome, NULL::timestamptz AS scheduler_last_at,\n"
"       NULL::bigint AS scheduler_jobs_7d\n"
"  FROM nadia_bgw.vacuum_stats v\n"
VACUUM_ORDER;

/* ---------------------------------------------------------------- */
/* buffers and I/O                                                   */
/* ---------------------------------------------------------------- */

static const ToolColumn buffer_cols[] = {
	{"kind", COL_TEXT, "database or table"},
	{"name", COL_TEXT, "database name, or schema.table"},
	{"blks_hit", COL_INT, "blocks found in shared_buffers in the range"},
	{"blks_read", COL_INT, "blocks read from disk or the OS cache in the range"},
	{"hit_ratio", COL_NUM, "blks_hit / (blks_hit + blks_read), 0..1 (PgHero warns below 0.99)"},
};

static const char buffer_sql[] =
"(SELECT 'database' AS kind, d.datname::text AS name, d.blks_hit, d.blks_read,\n"
"        round(d.blks_hit::numeric / nullif(d.blks_hit + d.blks_read, 0), 4) AS hit_ratio\n"
"   FROM nadia_bgw.mcp_database_totals(" SINCE("$1") ") d\n"
"  ORDER BY d.blks_read DESC)\n"
"UNION ALL\n"
"(SELECT 'table', format('%I.%I', t.schemaname, t.relname),\n"
"        t.heap_blks_hit + t.idx_blks_hit + t.toast_blks_hit,\n"
"        t.heap_blks_read + t.idx_blks_read + t.toast_blks_read,\n"
"        round((t.heap_blks_hit + t.idx_blks_hit + t.toast_blks_hit)::numeric\n"
"              / nullif(t.heap_blks_hit + t.idx_blks_hit + t.toast_blks_hit\n"
"                       + t.heap_blks_read + t.idx_blks_read + t.toast_blks_read, 0), 4)\n"
"   FROM nadia_bgw.mcp_table_totals(" SINCE("$1") ") t\n"
"  WHERE t.heap_blks_read + t.idx_blks_read + t.toast_blks_read\n"
"        + t.heap_blks_hit + t.idx_blks_hit > 0\n"
"  ORDER BY t.heap_blks_read + t.idx_blks_read + t.toast_blks_read DESC,\n"
"           t.relname\n"
"  LIMIT 20)\n"
"LIMIT $2::int";

static const ToolColumn io_cols[] = {
	{"hour", COL_TIME, "start of the hour"},
	{"blks_read", COL_INT, "blocks read by all databases"},
	{"blks_hit", COL_INT, "blocks hit in shared_buffers"},
	{"blk_read_time_ms", COL_NUM, "time reading blocks, ms (needs track_io_timing)"},
	{"blk_write_time_ms", COL_NUM, "time writing blocks, ms (needs track_io_timing)"},
	{"temp_bytes", COL_INT, "temporary file bytes written"},
	{"wal_bytes", COL_INT, "WAL generated, bytes"},
	{"buffers_checkpoint", COL_INT, "buffers written by checkpoints"},
	{"buffers_clean", COL_INT, "buffers written by the background writer"},
	{"buffers_backend", COL_INT, "buffers written by backends themselves"},
	{"checkpoints", COL_INT, "checkpoints (timed + requested)"},
	{"checkpoints_req", COL_INT, "requested checkpoints (max_wal_size reached or explicit)"},
};

static const char io_sql[] =
"SELECT h.hour, h.blks_read, h.blks_hit,\n"
"       round(h.blk_read_time_ms::numeric, 3) AS blk_read_time_ms,\n"
"       round(h.blk_write_time_ms::numeric, 3) AS blk_write_time_ms,\n"
"       h.temp_bytes, h.wal_bytes, h.buffers_checkpoint, h.buffers_clean,\n"
"       h.buffers_backend, h.checkpoints, h.checkpoints_req\n"
"  FROM nadia_bgw.mcp_io_by_hour(" SINCE("$1") ") h\n"
" ORDER BY h.hour DESC\n"
" LIMIT $2::int";

static const ToolColumn repl_cols[] = {
	{"kind", COL_TEXT, "standby (a connected replica) or slot (a replication slot)"},
	{"name", COL_TEXT, "application_name of the standby, or slot name"},
	{"state", COL_TEXT, "standby state, or the slot's wal_status"},
	{"active", COL_BOOL, "the slot is in use"},
	{"sent_lag_bytes", COL_INT, "WAL not yet sent, bytes"},
	{"replay_lag_bytes", COL_INT, "WAL not yet replayed, bytes"},
	{"write_lag_s", COL_NUM, "write lag, s"},
	{"flush_lag_s", COL_NUM, "flush lag, s"},
	{"replay_lag_s", COL_NUM, "replay lag, s"},
	{"retained_bytes", COL_INT, "WAL the slot keeps from being removed, bytes"},
	{"sampled_at", COL_TIME, "time of the sample"},
};

static const char repl_sql[] =
"SELECT r.kind, r.name, r.state, r.active, r.sent_lag_bytes, r.replay_lag_bytes,\n"
"       round(r.write_lag_s::numeric, 3) AS write_lag_s,\n"
"       round(r.flush_lag_s::numeric, 3) AS flush_lag_s,\n"
"       round(r.replay_lag_s::numeric, 3) AS replay_lag_s,\n"
"       r.retained_bytes, r.sampled_at\n"
"  FROM nadia_bgw.replication_samples r\n"
" WHERE r.sampled_at = (SELECT max(s.sampled_at) FROM nadia_bgw.samples s\n"
"                        WHERE s.outcome ->> 'replication' = 'ok')\n"
" ORDER BY r.kind, r.name\n"
" LIMIT $1::int";

/* ---------------------------------------------------------------- */
/* alerts                                                            */
/* ---------------------------------------------------------------- */

static const ToolColumn alert_cols[] = {
	{"alert_id", COL_INT, "alert identifier"},
	{"kind", COL_TEXT, "what was detected (latency regression, seq-scan surge, ...)"},
	{"state", COL_TEXT, "open or resolved"},
	{"severity", COL_TEXT, "info, warning or critical"},
	{"object", COL_TEXT, "what it is about: database, relation or statement"},
	{"metric", COL_TEXT, "the figure compared"},
	{"baseline", COL_NUM, "its normal value, learned from history"},
	{"observed", COL_NUM, "the value that raised or last updated the alert"},
	{"ratio", COL_NUM, "observed / baseline"},
	{"queryid", COL_ID, "query id, for statement alerts"},
	{"opened_at", COL_TIME, "when the alert opened"},
	{"updated_at", COL_TIME, "last time a cycle confirmed it"},
	{"resolved_at", COL_TIME, "when it resolved (null while open)"},
	{"acknowledged", COL_BOOL, "an operator acknowledged it"},
	{"muted", COL_BOOL, "it matches a mute and sent no notification"},
	{"details", COL_JSON, "everything else the detector recorded"},
};

static const char alert_sql[] =
"SELECT a.alert_id, a.kind, a.state, a.severity, a.object, a.metric,\n"
"       a.baseline, a.observed, a.ratio, a.queryid::text AS queryid,\n"
"       a.opened_at, a.updated_at, a.resolved_at,\n"
"       a.acknowledged_at IS NOT NULL AS acknowledged, a.muted, a.details\n"
"  FROM nadia_bgw.alerts a\n"
" WHERE $1::text = 'all' OR a.state = $1::text\n"
" ORDER BY a.state = 'open' DESC,\n"
"          CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,\n"
"          a.opened_at DESC\n"
" LIMIT $2::int";

/* ---------------------------------------------------------------- */
/* data quality and capacity (issue 16)                              */
/* ---------------------------------------------------------------- */

/*
 * These tools read the readers of sql/1.1/97_quality_checks.sql ..
 * 99_capacity.sql, which return catalog names and numbers only: never a
 * value of the application's data (no most common value, histogram bound,
 * row or constraint expression; a grouped rollup's group is an md5).
 * "until" defaults to now: UNTIL(p) is SINCE(p), now() when not given.
 */
#define UNTIL(p) "coalesce(" SINCE(p) ", pg_catalog.now())"

static const char *const anomaly_kinds[] = {"all", "rollup", "table_writes", NULL};
static const char *const dist_columns[] = {"all", "flagged", NULL};
static const char *const capacity_kinds[] = {
	"all", "filesystem", "database", "table", "index", "xid", "mxid", "sequence",
	"connections", NULL
};

#define ARG_UNTIL \
	{"until", ARG_SINCE, "End of the time range (default: now).", 0, 0, 0, NULL, NULL}
#define ARG_SCHEMA(what) \
	{"schema", ARG_TEXT, "Only " what " in this schema (exact name).", 0, 0, 63, NULL, NULL}
#define ARG_TABLE(what) \
	{"table", ARG_TEXT, "Only " what " of this table (exact name, without schema).", \
	 0, 0, 63, NULL, NULL}

/* constraint_violations and referential_integrity: nadia_bgw.quality_fact */
static const ToolColumn fact_cols[] = {
	{"kind", COL_TEXT, "what the catalogs showed (not_valid_check, invalid_index, "
	 "unindexed_foreign_key, ...; docs/quality.md)"},
	{"schemaname", COL_TEXT, "schema of the table"},
	{"relname", COL_TEXT, "table"},
	{"objname", COL_TEXT, "the constraint, index or trigger"},
	{"columns", COL_JSON, "foreign keys: the referencing columns, in the key's order (null otherwise)"},
	{"ref_schemaname", COL_TEXT, "foreign keys: schema of the referenced table"},
	{"ref_relname", COL_TEXT, "foreign keys: the referenced table"},
	{"detail", COL_TEXT, "what fixes it, a statement built from quoted names only "
	 "(VALIDATE CONSTRAINT, CREATE INDEX, REINDEX, ENABLE TRIGGER)"},
	{"open", COL_BOOL, "the latest check still saw it"},
	{"first_seen", COL_TIME, "the check that first saw it"},
	{"last_seen", COL_TIME, "the last check that saw it (the latest check while open)"},
	{"resolved_at", COL_TIME, "the first check that no longer saw it (null while open)"},
	{"counted_rows", COL_INT, "violating or orphaned rows, when counted (null: not counted)"},
	{"count_exact", COL_BOOL, "the count is exact (false: an estimate)"},
	{"count_error_bound", COL_NUM, "bound of the estimate's error"},
	{"counted_at", COL_TIME, "when the rows were counted"},
};

/* the open facts first, then by table; fn is the reader's name */
#define FACT_SQL(fn) \
"SELECT q.kind, q.schemaname::text AS schemaname, q.relname::text AS relname,\n" \
"       q.objname::text AS objname, pg_catalog.to_jsonb(q.columns::text[]) AS columns,\n" \
"       q.ref_schemaname::text AS ref_schemaname, q.ref_relname::text AS ref_relname,\n" \
"       q.detail, q.resolved_at IS NULL AS open, q.first_seen, q.last_seen, q.resolved_at,\n" \
"       q.counted_rows, q.count_exact, q.count_error_bound, q.counted_at\n" \
"  FROM nadia_bgw." fn "(" SINCE("$1") ", " UNTIL("$2") ") q\n" \
" WHERE ($3::text IS NULL OR q.schemaname::text = $3::text)\n" \
"   AND ($4::text IS NULL OR q.relname::text = $4::text)\n" \
" ORDER BY q.resolved_at IS NULL DESC, q.schemaname, q.relname, q.kind, q.objname,\n" \
"          q.first_seen DESC\n" \
" LIMIT $5::int"

static const char constraint_sql[] = FACT_SQL("constraint_violations");
static const char referential_sql[] = FACT_SQL("referential_integrity");

static const ToolColumn dist_cols[] = {
	{"schemaname", COL_TEXT, "schema"},
	{"relname", COL_TEXT, "table"},
	{"attname", COL_TEXT, "column"},
	{"sampled_at", COL_TIME, "when nadia_bgw recorded the column's latest statistics in the range"},
	{"analyzed_at", COL_TIME, "the ANALYZE they come from"},
	{"reltuples", COL_INT, "rows of the table at that ANALYZE (estimate; -1: unknown)"},
	{"null_frac", COL_NUM, "share of NULLs, 0..1"},
	{"n_distinct_abs", COL_INT, "distinct values (estimate)"},
	{"top_freq", COL_NUM, "share of the most common value, 0..1 (null: no value is common); "
	 "the value itself is never read"},
	{"correlation", COL_NUM, "correlation of the column's order with the physical order, -1..1"},
	{"avg_width", COL_INT, "average width of a value, bytes"},
	{"prev_analyzed_at", COL_TIME, "the ANALYZE before (null: none recorded)"},
	{"prev_null_frac", COL_NUM, "null_frac at that ANALYZE"},
	{"prev_n_distinct_abs", COL_INT, "n_distinct_abs at that ANALYZE"},
	{"prev_top_freq", COL_NUM, "top_freq at that ANALYZE"},
	{"skew", COL_BOOL, "top_freq above nadia_bgw.distribution_skew_share"},
	{"null_frac_drift", COL_BOOL, "null_frac moved by more than nadia_bgw.distribution_null_drift "
	 "since the ANALYZE before (null: no previous record)"},
	{"n_distinct_drift", COL_BOOL, "distinct values changed by more than the factor "
	 "nadia_bgw.distribution_distinct_factor (null: no previous record)"},
	{"plan_queryids", COL_JSON, "query ids (strings) of the statements whose captured plans "
	 "filter, join or group on the column in the range"},
};

#define DIST_FLAGGED "(d.skew OR coalesce(d.null_frac_drift, false) OR coalesce(d.n_distinct_drift, false))"

/* the flagged columns first, then by table and column position */
static const char dist_sql[] =
"SELECT d.schemaname::text AS schemaname, d.relname::text AS relname,\n"
"       d.attname::text AS attname, d.sampled_at, d.analyzed_at,\n"
"       round(d.reltuples::numeric) AS reltuples,\n"
"       round(d.null_frac::numeric, 4) AS null_frac,\n"
"       round(d.n_distinct_abs::numeric) AS n_distinct_abs,\n"
"       round(d.top_freq::numeric, 4) AS top_freq,\n"
"       round(d.correlation::numeric, 4) AS correlation, d.avg_width,\n"
"       d.prev_analyzed_at, round(d.prev_null_frac::numeric, 4) AS prev_null_frac,\n"
"       round(d.prev_n_distinct_abs::numeric) AS prev_n_distinct_abs,\n"
"       round(d.prev_top_freq::numeric, 4) AS prev_top_freq,\n"
"       d.skew, d.null_frac_drift, d.n_distinct_drift,\n"
"       pg_catalog.to_jsonb(d.plan_queryids::text[]) AS plan_queryids\n"
"  FROM nadia_bgw.data_distribution(" SINCE("$1") ", " UNTIL("$2") ") d\n"
" WHERE ($3::text IS NULL OR d.schemaname::text = $3::text)\n"
"   AND ($4::text IS NULL OR d.relname::text = $4::text)\n"
"   AND ($5::text = 'all' OR " DIST_FLAGGED ")\n"
" ORDER BY " DIST_FLAGGED " DESC, d.schemaname, d.relname, d.attnum\n"
" LIMIT $6::int";

static const ToolColumn anomaly_cols[] = {
	{"kind", COL_TEXT, "rollup (a numeric column of a rollup) or table_writes (a table's "
	 "inserts, updates or deletes per sample)"},
	{"source", COL_TEXT, "the rollup's name, or schema.table"},
	{"metric", COL_TEXT, "the rollup's column, or n_tup_ins, n_tup_upd, n_tup_del"},
	{"group_columns", COL_JSON, "the rollup's group columns (names)"},
	{"group_hash", COL_TEXT, "md5 of the group's values ('' without groups; the values are never stored)"},
	{"bucket_start", COL_TIME, "start of the bucket judged"},
	{"bucket_end", COL_TIME, "its end"},
	{"observed", COL_NUM, "the bucket's value"},
	{"median", COL_NUM, "median of the same hour of week (or weekday) over the past seasons"},
	{"expected_low", COL_NUM, "low end of the expected range"},
	{"expected_high", COL_NUM, "high end of the expected range"},
	{"score", COL_NUM, "(observed - median) / (1.4826 x MAD); null when the past seasons did not vary"},
	{"direction", COL_TEXT, "high or low"},
	{"seasons", COL_INT, "past seasons in the baseline"},
	{"detected_at", COL_TIME, "the run of the anomalies task that judged the bucket"},
};

/*
 * The latest buckets first, the strongest first within one.  A rollup's
 * figures reach MCP only once a superuser exposed that rollup to a rollup
 * tool (nadia_bgw.mcp_rollups, the rollup tools' gate): its anomalies are
 * its aggregates, so the same gate applies.  Table write rates are
 * statistics counters, like table_stats.
 */
static const char anomaly_sql[] =
"SELECT a.kind, a.source, a.metric, pg_catalog.to_jsonb(a.group_columns) AS group_columns,\n"
"       a.group_hash, a.bucket_start, a.bucket_end, a.observed, a.median,\n"
"       a.expected_low, a.expected_high, round(a.score::numeric, 2) AS score,\n"
"       a.direction, a.seasons, a.detected_at\n"
"  FROM nadia_bgw.data_anomalies(" SINCE("$1") ", " UNTIL("$2") ") a\n"
" WHERE ($3::text = 'all' OR a.kind = $3::text)\n"
"   AND ($4::text IS NULL OR a.source = $4::text)\n"
"   AND (a.kind <> 'rollup'\n"
"        OR EXISTS (SELECT 1 FROM nadia_bgw.mcp_rollups m WHERE m.rollup = a.source))\n"
" ORDER BY a.bucket_start DESC, abs(a.score) DESC NULLS FIRST, a.kind, a.source,\n"
"          a.metric, a.group_hash\n"
" LIMIT $5::int";

static const ToolColumn capacity_cols[] = {
	{"kind", COL_TEXT, "filesystem, database, table, index, xid_freeze, xid_wraparound, "
	 "mxid_freeze, mxid_wraparound, sequence or connections"},
	{"object", COL_TEXT, "data_directory, pg_wal, a tablespace, database, schema-qualified "
	 "table, index or sequence, or server"},
	{"unit", COL_TEXT, "bytes, transactions, multixacts, values or connections"},
	{"current_value", COL_NUM, "latest value (used bytes, size, age, the sequence's position; "
	 "connections: peak of the last 7 days)"},
	{"limit_value", COL_NUM, "what it cannot pass (null: no limit)"},
	{"used_ratio", COL_NUM, "current_value / limit_value, 0..1"},
	{"slope_7d", COL_NUM, "growth per day over 7 days (robust Theil-Sen line)"},
	{"slope_30d", COL_NUM, "growth per day over 30 days"},
	{"fit_7d", COL_NUM, "R^2 of the 7-day line, 0..1 (1: the points lie on it)"},
	{"fit_30d", COL_NUM, "R^2 of the 30-day line"},
	{"points_7d", COL_INT, "6-hour buckets the 7-day line had (3 at least, else no slope)"},
	{"points_30d", COL_INT, "1-day buckets the 30-day line had"},
	{"days_to_limit", COL_NUM, "days until the limit at that growth; 0 at or past it; "
	 "null without limit or growth"},
	{"basis", COL_TEXT, "which slope the forecast used, or why there is none"},
	{"computed_at", COL_TIME, "when the capacity task computed this row (it refits every "
	 "series once an hour)"},
};

/*
 * The capacity task's stored forecasts, not capacity_forecast(): that one
 * fits every series at each call (seconds at thousands of tables), these
 * cost a read.  Only the latest forecast of each object is kept: "at"
 * before it finds nothing.  kind filters by the first word: xid matches
 * xid_freeze and xid_wraparound.
 */
static const char capacity_sql[] =
"SELECT f.kind, f.object, f.unit, f.current_value, f.limit_value,\n"
"       round(f.current_value / nullif(f.limit_value, 0), 4) AS used_ratio,\n"
"       round(f.slope_7d::numeric, 3) AS slope_7d, round(f.slope_30d::numeric, 3) AS slope_30d,\n"
"       round(f.fit_7d::numeric, 4) AS fit_7d, round(f.fit_30d::numeric, 4) AS fit_30d,\n"
"       f.points_7d, f.points_30d, round(f.days_to_limit::numeric, 1) AS days_to_limit,\n"
"       f.basis, f.computed_at\n"
"  FROM nadia_bgw.capacity_forecasts f\n"
" WHERE f.computed_at <= " UNTIL("$1") "\n"
"   AND ($2::text = 'all' OR pg_catalog.split_part(f.kind, '_', 1) = $2::text)\n"
"   AND ($3::int IS NULL OR f.days_to_limit <= $3::int)\n"
" ORDER BY f.days_to_limit NULLS LAST, f.kind, f.object\n"
" LIMIT $4::int";

/* ---------------------------------------------------------------- */

/* the tool reads nothing optional */
#define NO_FALLBACK NULL, NULL, NULL

/*
 * The tools with a query of their own.  The NADIA rollup tools, which
 * differ only by a few words, follow them in the catalogue (see
 * rollup_tools below).
 */
static const ToolDef fixed_tools[] = {
	{
		"slow_queries", "Slow queries",
		"Statements with the highest mean execution time over a time range, from "
		"pg_stat_statements history (normalized text only). Use query_stats for one "
		"statement's details.",
		{ARG_LIMIT("20"), ARG_SINCE_DEF("24h"),
		 {"database", ARG_TEXT, "Only statements run in this database.", 0, 0, 63, NULL, NULL}},
		3, slow_cols, N(slow_cols), slow_sql,
		"nadia_bgw.mcp_statement_totals() over the statement history",
		"nadia_bgw's sampler (with pg_stat_statements in shared_preload_libraries)",
		"no statement ran in the range, or pg_stat_statements is not loaded", false, NO_FALLBACK
	},
	{
		"query_stats", "Statement statistics",
		"Detailed figures of the statements whose normalized text contains "
		"query_pattern (case-insensitive) or whose queryid equals it, summed over a "
		"time range, with the plans each ran (calls and time shares, mean time); all "
		"statements by total time when no pattern is given. explain_query shows the "
		"plans in full.",
		{{"query_pattern", ARG_TEXT, "Text to look for in the normalized query, or a queryid.",
		  0, 0, 200, NULL, NULL},
		 ARG_SINCE_DEF("24h"), ARG_LIMIT("20")},
		3, qstats_cols, N(qstats_cols), qstats_sql,
		"nadia_bgw.mcp_statement_totals() over the statement history",
		"nadia_bgw's sampler (with pg_stat_statements in shared_preload_libraries)",
		"no statement in the range matches", true,
		"nadia_bgw.mcp_statement_plans", qstats_sql_noplans,
		"plans is null: this database's nadia_bgw has no plan history "
		"(nadia_bgw.mcp_statement_plans, nadia_bgw 1.1)"
	},
	{
		"explain_query", "Plans of a statement",
		"The plans a statement ran over a time range, from plan history (nothing is "
		"planned or run): per plan its share of the statement's calls and time, mean "
		"time, when it was first and last used, the masked EXPLAIN text and, where an "
		"execution was instrumented, the nodes whose row estimates were furthest off "
		"or whose filters removed the most rows. The statement is given by queryid "
		"(as slow_queries returns it) or by its normalized text (as slow_queries and "
		"query_stats show it: white space does not count, a text ending in an "
		"ellipsis matches as a prefix); with both, both must match; with neither, "
		"the plans of every statement, the busiest first.",
		{{"queryid", ARG_ID, "The statement's queryid (a string of digits).", 0, 0, 0, NULL, NULL},
		 {"query", ARG_TEXT, "The statement's normalized text (constants as $1, $2, ...).",
		  0, 0, 4100, NULL, NULL},
		 ARG_SINCE_DEF("24h"),
		 {"until", ARG_SINCE, "End of the time range (default: now).", 0, 0, 0, NULL, NULL},
		 ARG_LIMIT("20")},
		5, explain_cols, N(explain_cols), explain_sql,
		"nadia_bgw.mcp_explain_query() over the plan history",
		"nadia_bgw's plan capture and sampler (nadia_bgw 1.1 in shared_preload_libraries)",
		"no plan in the range: no statement in history has this queryid or normalized text, "
		"or the statement ran no captured plan in the range", true, NO_FALLBACK
	},
	{
		"active_connections", "Connections",
		"Connections in the latest activity sample: totals by state, usage of "
		"max_connections, the longest query and transaction (query ids, never other "
		"sessions' text), backends by wait event type and by database.",
		{{0}}, 0, conn_cols, N(conn_cols), conn_sql,
		"nadia_bgw.connections", "nadia_bgw's sampler",
		"no activity sample yet", false, NO_FALLBACK
	},
	{
		"lock_analysis", "Lock waits",
		"Lock waits seen by the sampler over a time range, grouped by relation, "
		"mode and waiting statement, with the query ids of the blockers.",
		{ARG_SINCE_DEF("1h"), ARG_LIMIT("50")},
		2, lock_cols, N(lock_cols), lock_sql,
		"nadia_bgw.lock_wait_samples", "nadia_bgw's sampler",
		"no session waited on a lock at any sample in the range", false, NO_FALLBACK
	},
	{
		"index_usage", "Index usage",
		"Every index with its size and scans, flagged invalid, duplicate (same "
		"definition as another index of the table), unused (no scan since statistics "
		"reset, not backing a constraint) or rarely used (fewer than 50 scans in 30 "
		"days while its table was written more than ten times as often).",
		{ARG_LIMIT("50")}, 1, index_cols, N(index_cols), index_sql,
		"nadia_bgw.index_state, nadia_bgw.mcp_index_totals() and nadia_bgw.duplicate_indexes", "nadia_bgw's sampler",
		"no index sampled yet", false, NO_FALLBACK
	},
	{
		"missing_indexes", "Missing index candidates",
		"Index advice computed by nadia_bgw's worker from the captured plans (source "
		"'advice'): the CREATE INDEX, the statements it would serve, the estimated "
		"gain (checked by hypothetical-index planning as the statements' own role "
		"when hypopg is installed), the index's estimated size and the table's write "
		"rate. Then, as a fallback (source 'seq_scan_fallback'), tables with at least "
		"min_rows rows read by sequential scans covering a large part of the table "
		"over the time range, for which there is no advice.",
		{ARG_SINCE_DEF("7d"),
		 {"min_rows", ARG_INT, "Smallest table (live rows) to consider.", 0, 2000000000, 0,
		  "10000", NULL},
		 ARG_LIMIT("20")},
		3, missing_cols, N(missing_cols), missing_sql,
		"nadia_bgw.index_advice and nadia_bgw.mcp_table_totals() over the table history",
		"nadia_bgw's advice task and sampler",
		"no index advice, and no large table was read by sequential scans in the range",
		true,
		"nadia_bgw.index_advice", missing_sql_noadvice,
		"no index advice: nadia_bgw.index_advice is not installed in this database "
		"(extension older than 1.1); the table-level list only"
	},
	{
		"table_stats", "Table statistics",
		"Tables by size with live and dead rows, sizes of heap, indexes and TOAST, "
		"scan counters and the writes of the last sample interval.",
		{ARG_LIMIT("50")}, 1, table_cols, N(table_cols), table_sql,
		"nadia_bgw.table_stats", "nadia_bgw's sampler",
		"no table sampled yet", false, NO_FALLBACK
	},
	{
		"vacuum_stats", "Vacuum and wraparound",
		"Dead rows, last (auto)vacuum and (auto)analyze, transaction-ID age against "
		"autovacuum_freeze_max_age, and what nadia_bgw's maintenance scheduler last "
		"did on each table.",
		{ARG_LIMIT("50")}, 1, vacuum_cols, N(vacuum_cols), vacuum_sql,
		"nadia_bgw.vacuum_stats and nadia_bgw.maintenance_history",
		"nadia_bgw's sampler",
		"no table sampled yet", false,
		"nadia_bgw.maintenance_history", vacuum_sql_nosched,
		"the scheduler_* columns are empty: nadia_bgw's maintenance scheduler "
		"(nadia_bgw.maintenance_history) is not installed in this database"
	},
	{
		"cost_analysis", "Cost by statement",
		"Each statement's share of the total execution time, of block I/O and of WAL "
		"over a time range: where the database spends its effort.",
		{ARG_SINCE_DEF("24h"), ARG_LIMIT("20")},
		2, cost_cols, N(cost_cols), cost_sql,
		"nadia_bgw.mcp_statement_totals() over the statement history",
		"nadia_bgw's sampler (with pg_stat_statements in shared_preload_libraries)",
		"no statement ran in the range", true, NO_FALLBACK
	},
	{
		"buffer_cache_stats", "Buffer cache hit ratios",
		"Shared-buffer hit ratios over a time range, per database and for the 20 "
		"tables that read the most blocks.",
		{ARG_SINCE_DEF("24h"), ARG_LIMIT("50")},
		2, buffer_cols, N(buffer_cols), buffer_sql,
		"nadia_bgw.mcp_database_totals() and nadia_bgw.mcp_table_totals()", "nadia_bgw's sampler",
		"no database or table activity in the range", false, NO_FALLBACK
	},
	{
		"io_stats", "I/O by hour",
		"Block reads and hits, I/O time, temporary files, WAL, checkpoint and "
		"background-writer activity per hour over a time range.",
		{ARG_SINCE_DEF("24h"), ARG_LIMIT("48")},
		2, io_cols, N(io_cols), io_sql,
		"nadia_bgw.mcp_io_by_hour() over the database and cluster history", "nadia_bgw's sampler",
		"no sample in the range", false, NO_FALLBACK
	},
	{
		"replication_lag", "Replication lag",
		"Standbys and replication slots in the latest sample with lag in bytes and "
		"seconds and the WAL each slot retains.",
		{ARG_LIMIT("50")}, 1, repl_cols, N(repl_cols), repl_sql,
		"nadia_bgw.replication_samples", "nadia_bgw's sampler",
		"no standby is connected and no replication slot exists (as of the latest sample)", false, NO_FALLBACK
	},
	{
		"alerts", "Alerts",
		"Regressions and threshold alerts that nadia_bgw raised from its history "
		"(latency regressions, seq-scan surges, cache-hit drops, bloat, wraparound, "
		"connections, lock waits, replication lag).",
		{{"state", ARG_ENUM, "Which alerts: open, resolved or all.", 0, 0, 0, "open", alert_states},
		 ARG_LIMIT("50")},
		2, alert_cols, N(alert_cols), alert_sql,
		"nadia_bgw.alerts", "nadia_bgw's regression detection",
		"no alert in that state", false, NO_FALLBACK
	},
	{
		"constraint_violations", "Constraints not enforced",
		"Constraints and indexes the catalogs show are not doing their job, over a "
		"time range: NOT VALID check and NOT NULL constraints, invalid indexes (a "
		"failed CREATE INDEX CONCURRENTLY), disabled triggers, each with when it was "
		"first and last seen and the statement that fixes it. Names only: no "
		"constraint expression, no row.",
		{ARG_SINCE_DEF("24h"), ARG_UNTIL, ARG_SCHEMA("tables"), ARG_TABLE("the constraints"),
		 ARG_LIMIT("50")},
		5, fact_cols, N(fact_cols), constraint_sql,
		"nadia_bgw.constraint_violations() over nadia_bgw.quality_facts",
		"nadia_bgw's quality_checks task (nadia_bgw 1.1)",
		"no such constraint, index or trigger in the range (or the quality_checks task "
		"has not run yet)", false, NO_FALLBACK
	},
	{
		"referential_integrity", "Foreign keys",
		"Foreign keys that are NOT VALID, whose internal triggers are disabled, or "
		"without an index on the referencing columns (deletes and updates of the "
		"referenced table then scan the referencing table), over a time range, with "
		"the columns, the referenced table and the statement that fixes it.",
		{ARG_SINCE_DEF("24h"), ARG_UNTIL, ARG_SCHEMA("tables"), ARG_TABLE("the foreign keys"),
		 ARG_LIMIT("50")},
		5, fact_cols, N(fact_cols), referential_sql,
		"nadia_bgw.referential_integrity() over nadia_bgw.quality_facts",
		"nadia_bgw's quality_checks task (nadia_bgw 1.1)",
		"no such foreign key in the range (or the quality_checks task has not run yet)",
		false, NO_FALLBACK
	},
	{
		"data_distribution", "Column distributions",
		"The shape of each column at its latest ANALYZE in a time range, from the "
		"planner's statistics (numbers only, never a value): share of NULLs, distinct "
		"values, share of the most common value, correlation, width; the figures of "
		"the ANALYZE before; flags for skew and for drift of NULLs or distinct values; "
		"the statements whose plans filter on the column. Flagged columns first.",
		{ARG_SINCE_DEF("7d"), ARG_UNTIL, ARG_SCHEMA("tables"), ARG_TABLE("the columns"),
		 {"columns", ARG_ENUM, "Which columns: all, or only those flagged (skew or drift).",
		  0, 0, 0, "all", dist_columns},
		 ARG_LIMIT("50")},
		6, dist_cols, N(dist_cols), dist_sql,
		"nadia_bgw.data_distribution() over nadia_bgw.distribution_samples",
		"nadia_bgw's distribution task (nadia_bgw 1.1; it records each ANALYZE)",
		"no column statistics recorded in the range (no table analyzed, or none matches)",
		false, NO_FALLBACK
	},
	{
		"data_anomalies", "Business-metric anomalies",
		"Buckets of business metrics that fell outside their seasonal range (median "
		"and MAD of the same hour of week or weekday over past weeks), over a time "
		"range: the numeric columns of the rollups exposed to MCP (per group, a group "
		"named by an md5 of its values) and the tables' insert, update and delete rates. "
		"The latest buckets first.",
		{ARG_SINCE_DEF("7d"), ARG_UNTIL,
		 {"kind", ARG_ENUM, "Which series: all, rollup or table_writes.", 0, 0, 0, "all",
		  anomaly_kinds},
		 {"source", ARG_TEXT, "Only this rollup (its name) or table (schema.table).",
		  0, 0, 130, NULL, NULL},
		 ARG_LIMIT("50")},
		5, anomaly_cols, N(anomaly_cols), anomaly_sql,
		"nadia_bgw.data_anomalies() over nadia_bgw.metric_anomalies",
		"nadia_bgw's anomalies task (nadia_bgw 1.1)",
		"no anomaly in the range (or too little history to judge: a bucket needs past seasons)",
		false, NO_FALLBACK
	},
	{
		"capacity_forecast", "Capacity forecast",
		"When filesystems, databases, tables, indexes, transaction and multixact IDs "
		"(freeze and wraparound), sequences and connections reach their limits at the "
		"growth of the last 7 (else 30) days, fitted by robust lines over nadia_bgw's "
		"history; the nearest first. The capacity task's latest forecasts (refit "
		"hourly, computed_at says when); none before its first run.",
		{{"at", ARG_SINCE, "Only forecasts computed at or before this instant (default: "
		  "now): a duration back or an ISO 8601 time. Only the latest forecast of each "
		  "object is kept.", 0, 0, 0, NULL, NULL},
		 {"kind", ARG_ENUM, "Which objects: all, or one kind (xid and mxid cover freeze and "
		  "wraparound).", 0, 0, 0, "all", capacity_kinds},
		 {"within_days", ARG_INT, "Only what reaches its limit within this many days.",
		  0, 36500, 0, NULL, NULL},
		 ARG_LIMIT("50")},
		4, capacity_cols, N(capacity_cols), capacity_sql,
		"nadia_bgw.capacity_forecasts (the capacity task's latest forecasts)",
		"nadia_bgw's capacity task and sampler (nadia_bgw 1.1)",
		"no forecast stored (the capacity task has not run yet, or computed them after "
		"that instant)",
		false, NO_FALLBACK
	},
};

/* ---------------------------------------------------------------- */
/* NADIA rollups                                                     */
/* ---------------------------------------------------------------- */

/*
 * Which rollup a NADIA tool reads is configured in the database
 * (nadia_bgw.mcp_expose_rollup() fills nadia_bgw.mcp_rollups, whose CHECK
 * names these tools), so a rollup tool is only a name and a few words:
 * rollup_tool() makes the rest, the same for all of them.  A new one is a
 * row here and a name in that CHECK.
 */
typedef struct RollupTool
{
	const char *name;
	const char *title;
	const char *description;
	const char *since;			/* default of "since" */
	const char *limit;			/* default of "limit" */
	const char *what;			/* the rollup it expects, in words */
} RollupTool;

static const RollupTool rollup_tools[] = {
	{
		"review_queue_stats", "NADIA review queue",
		"The NADIA review queue per day from its rollup: pending reviews and review "
		"latency.",
		"30d", "31", "review-queue"
	},
	{
		"user_activity_patterns", "NADIA user activity",
		"Messages and distinct users per hour from the NADIA hourly activity rollup.",
		"2d", "48", "hourly user-activity"
	},
	{
		"llm_cost_tracking", "NADIA LLM cost",
		"LLM cost per day and model from the NADIA cost rollup.",
		"30d", "100", "LLM-cost"
	},
	{
		"recovery_system_stats", "NADIA recovered messages",
		"Messages recovered by the NADIA recovery system per day, from its rollup.",
		"30d", "31", "recovered-messages"
	},
};

static const ToolColumn rollup_cols[] = {
	{"bucket", COL_TEXT, "the rollup's time bucket (a date or a timestamp)"},
	{"values", COL_JSON, "the rollup's aggregates for the bucket (and group), by column name"},
};

/*
 * The tool's name (from rollup_tools, never from a client) is the only
 * text of the query that varies; rollup_rows() finds the rollup by it.
 */
#define ROLLUP_SQL(tool) \
"SELECT r.bucket, r.\"values\"\n" \
"  FROM nadia_bgw.rollup_rows('" tool "', " SINCE("$1") ", $2::int) r\n" \
" ORDER BY r.ord\n" \
" LIMIT $2::int"

/* the texts of a rollup tool that embed its name or defaults */
typedef struct RollupTexts
{
	char		since_help[64];
	char		sql[512];
	char		sources[128];
	char		provider[160];
} RollupTexts;

#define N_TOOLS (N(fixed_tools) + N(rollup_tools))

static ToolDef catalogue[N_TOOLS];
static RollupTexts rollup_texts[N(rollup_tools)];
static bool catalogue_ready = false;

/*
 * Format into a buffer of the catalogue.  The texts are fixed at compile
 * time, so one that does not fit is a mistake in this file: stop at once
 * (any tools/list shows it) rather than serve a cut query.
 */
static const char *
put(char *buf, size_t len, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t) n >= len)
		abort();
	return buf;
}

static void
rollup_tool(ToolDef *t, const RollupTool *r, RollupTexts *x)
{
	const ToolArg args[] = {
		ARG_SINCE_AS(put(x->since_help, sizeof(x->since_help),
						 SINCE_HELP("%s"), r->since), r->since),
		ARG_LIMIT(r->limit),
	};

	memset(t, 0, sizeof(*t));	/* not heavy, nothing optional */
	t->name = r->name;
	t->title = r->title;
	t->description = r->description;
	memcpy(t->args, args, sizeof(args));
	t->nargs = N(args);
	t->cols = rollup_cols;
	t->ncols = N(rollup_cols);
	t->sql = put(x->sql, sizeof(x->sql), ROLLUP_SQL("%s"), r->name);
	t->sources = put(x->sources, sizeof(x->sources),
					 "the rollup exposed for %s (nadia_bgw.mcp_rollups, nadia_bgw.rollups)",
					 r->name);
	t->provider = put(x->provider, sizeof(x->provider),
					  "nadia_bgw's rollups (a NADIA %s rollup exposed with "
					  "nadia_bgw.mcp_expose_rollup)", r->what);
	t->empty_note = "the rollup has no bucket in the range";
}

/* the fixed tools, then the rollup tools; made on first use */
static const ToolDef *
tools_catalogue(void)
{
	if (!catalogue_ready)
	{
		memcpy(catalogue, fixed_tools, sizeof(fixed_tools));
		for (int i = 0; i < N(rollup_tools); i++)
			rollup_tool(&catalogue[N(fixed_tools) + i], &rollup_tools[i],
						&rollup_texts[i]);
		catalogue_ready = true;
	}
	return catalogue;
}

const ToolDef *
tools_all(int *n)
{
	*n = N_TOOLS;
	return tools_catalogue();
}

const ToolDef *
tools_find(const char *name)
{
	const ToolDef *tools = tools_catalogue();

	for (int i = 0; i < N_TOOLS; i++)
		if (strcmp(tools[i].name, name) == 0)
			return &tools[i];
	return NULL;
}
