# 30_history.sh -- statistics history: a workload runs while the worker
# samples every interval; then the history answers the monitoring questions.
# Uses the NADIA interactions table and its pgbench scripts when an earlier
# step loaded them, else pgbench's own small schema.
set -euo pipefail

DURATION=${DEMO_HISTORY_SECONDS:-20}
PGBENCH="$BINDIR/pgbench"

say "Statistics history: the worker's 'sample' task, and a sample taken now with nadia_bgw.take_sample()"
$PSQL -c "SELECT nadia_bgw.take_sample() AS sample_id"

if [ "$($PSQL -At -c "SELECT to_regclass('public.interactions') IS NOT NULL")" = t ] &&
	[ -f "$ROOT/demo/pgbench/insert_hot.sql" ]; then
	say "Running the NADIA workload for ${DURATION}s (bot inserts, review updates, dashboard reads)"
	cat >"$DEMO_DIR/dashboard_read.sql" <<'SQL'
\set uid random_exponential(1000000000, 1000019999, 5.0)
SELECT id, user_message FROM public.interactions WHERE user_id = :uid ORDER BY created_at DESC LIMIT 20;
SELECT review_status, count(*) FROM public.interactions
 WHERE created_at >= now() - interval '1 day' GROUP BY 1;
SQL
	$PGBENCH -n -c 4 -j 2 -T "$DURATION" \
		-f "$ROOT/demo/pgbench/insert_hot.sql@5" \
		-f "$ROOT/demo/pgbench/update_review.sql@2" \
		-f "$DEMO_DIR/dashboard_read.sql@3" | grep -E "^(tps|number of transactions actually)"
else
	say "Running a pgbench workload for ${DURATION}s (no NADIA table loaded by an earlier step)"
	$PGBENCH -i -q -s 2 >/dev/null 2>&1
	$PGBENCH -n -c 4 -j 2 -T "$DURATION" | grep -E "^(tps|number of transactions actually)"
fi
$PSQL -c "SELECT pg_stat_force_next_flush()" >/dev/null
$PSQL -c "SELECT nadia_bgw.wake(wait => true)" >/dev/null

say "The samples: when, how long, what each source did"
$PSQL -c "SELECT sample_id, sampled_at::time(0) AS at, taken_by, round(duration_ms::numeric, 1) AS ms,
                 failed_sources, rows_written->>'statements' AS stmt_rows,
                 rows_written->>'tables' AS table_rows, rows_written->>'indexes' AS index_rows
            FROM nadia_bgw.samples ORDER BY sample_id DESC LIMIT 6"

say "Top statements by total time over the last 24 hours (nadia_bgw.top_statements)"
$PSQL -c "SELECT calls, round(total_exec_time_ms::numeric, 1) AS total_ms,
                 round(mean_exec_time_ms::numeric, 3) AS mean_ms,
                 round((100 * share_of_total_time)::numeric, 1) AS pct,
                 round((100 * cache_hit_ratio)::numeric, 1) AS hit_pct,
                 left(regexp_replace(query, '\s+', ' ', 'g'), 70) AS query
            FROM nadia_bgw.top_statements LIMIT 8"

say "Tables: size, dead tuples, bloat estimate (nadia_bgw.table_stats)"
$PSQL -c "SELECT relname, pg_size_pretty(total_bytes) AS total, n_live_tup, n_dead_tup,
                 round((100 * dead_tuple_ratio)::numeric, 1) AS dead_pct,
                 pg_size_pretty(bloat_bytes_estimate) AS bloat_est, seq_scan_total, idx_scan_total
            FROM nadia_bgw.table_stats ORDER BY total_bytes DESC NULLS LAST LIMIT 6"

say "Indexes: scans, unused, duplicates (nadia_bgw.index_usage, nadia_bgw.duplicate_indexes)"
$PSQL -c "SELECT relname, indexrelname, pg_size_pretty(index_bytes) AS size, idx_scan_total,
                 idx_scan_30d, backs_constraint, unused, rarely_used
            FROM nadia_bgw.index_usage ORDER BY index_bytes DESC NULLS LAST LIMIT 8"
$PSQL -c "SELECT * FROM nadia_bgw.duplicate_indexes"

say "Connections (nadia_bgw.connections) and cache hit ratios (nadia_bgw.cache_hit_ratios)"
$PSQL -c "SELECT sampled_at::time(0) AS at, max_connections, backends, active, idle,
                 idle_in_transaction, waiting, peak_backends_1h,
                 round(longest_xact_s::numeric, 1) AS longest_xact_s
            FROM nadia_bgw.connections"
$PSQL -c "SELECT scope, name, round((100 * hit_ratio_24h)::numeric, 2) AS hit_pct_24h,
                 blks_read_24h, blks_hit_24h
            FROM nadia_bgw.cache_hit_ratios WHERE scope = 'database' OR blks_hit_24h > 1000
            ORDER BY blks_hit_24h DESC LIMIT 6"

say "What history costs: rows and bytes per table"
$PSQL -c "SELECT parent::text AS history_table, count(*) AS partitions,
                 pg_size_pretty(sum(pg_total_relation_size(child))) AS size
            FROM nadia_bgw.history_partitions GROUP BY 1 ORDER BY sum(pg_total_relation_size(child)) DESC"

say "The reader role sees history, not the application's data"
$PSQL -q -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS demo_mcp" \
	-c "CREATE ROLE demo_mcp LOGIN IN ROLE nadia_bgw_reader"
$PSQL -c "SET ROLE demo_mcp" -c "SELECT count(*) AS statements_visible FROM nadia_bgw.statement_history"
for t in interactions pgbench_accounts; do
	if [ "$($PSQL -At -c "SELECT to_regclass('public.$t') IS NOT NULL")" = t ]; then
		$PSQL -c "SET ROLE demo_mcp" -c "SELECT count(*) FROM public.$t" 2>&1 | grep -E "ERROR" || true
	fi
done
