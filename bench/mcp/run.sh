#!/usr/bin/env bash
# bench/mcp/run.sh -- latency of every nadia-mcp tool and the server's
# memory, with 7 days of history at a 60 s interval.
#
# Builds and installs nadia_bgw and nadia-mcp into a private copy of
# PostgreSQL, starts a throwaway cluster (port $PORT), writes 7 days of
# history (bench/mcp/history.sql: the last day raw, six days hourly, as the
# sampler leaves them), loads a week of NADIA demo data with its rollups
# when the rollup module is there, and drives nadia-mcp with the official
# TypeScript SDK client (regress/mcp-client, npm ci): every tool ROUNDS
# times with its default arguments after one warm-up call, latency
# measured in the client (request sent -> answer parsed).  Prints p50/p95/
# max per tool, the ratio of p95 to the 50 ms target and of the server's
# RSS to the 20 MB target.  The cluster is removed at the end.
#
#   bash bench/mcp/run.sh
#   ROUNDS=50 STATEMENTS=1000 ACTIVE_PCT=20 TABLES=50 bash bench/mcp/run.sh
#   BENCH_KEEP=1 ...    leave the cluster running

set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../regress/lib.sh"
. "$ROOT/bench/lib.sh"

bench_defaults PORT=5531 BENCH_DIR=/tmp/nadia_mcp_bench ROUNDS=30 STATEMENTS=500 ACTIVE_PCT=20 TABLES=50
DIR=$BENCH_DIR
DB=nadia_hitl

ensure_packages $NADIA_BASE_PACKAGES nodejs
log "building"
build

stop() {
	bench_stop_cluster "$DIR"
	rm -rf "$DIR"
}
[ -z "${BENCH_KEEP:-}" ] && trap stop EXIT
bench_new_cluster "$DIR" "$PORT" pg_stat_statements,nadia_bgw <<CONF
nadia_bgw.database = '$DB'
nadia_bgw.enabled = off
shared_buffers = 256MB
CONF

export PGHOST=$DIR PGPORT=$PORT PGUSER=postgres PGDATABASE=$DB
PSQL="$BINDIR/psql -X -q -v ON_ERROR_STOP=1"
$PSQL -d postgres -c "CREATE DATABASE $DB"
$PSQL -c "CREATE EXTENSION nadia_bgw" -c "CREATE EXTENSION pg_stat_statements" \
	-c "CREATE ROLE nadia_mcp LOGIN IN ROLE nadia_bgw_reader"

log "writing 7 days of history ($STATEMENTS statements, $ACTIVE_PCT% active a minute, $TABLES tables)"
$PSQL -v statements="$STATEMENTS" -v active_pct="$ACTIVE_PCT" -v tables="$TABLES" \
	-f "$ROOT/bench/mcp/history.sql"
$BINDIR/psql -X -c "SELECT (SELECT count(*) FROM nadia_bgw.samples) AS raw_samples,
	(SELECT count(DISTINCT sampled_at) FROM nadia_bgw.statement_hourly) AS hourly_buckets,
	(SELECT count(*) FROM nadia_bgw.statement_samples) + (SELECT count(*) FROM nadia_bgw.statement_hourly) AS statement_rows,
	pg_size_pretty((SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
	  WHERE c.relnamespace = 'nadia_bgw'::regnamespace AND c.relkind IN ('r', 'p'))) AS history"

if [ "$($PSQL -At -c "SELECT to_regclass('nadia_bgw.rollups') IS NOT NULL")" = t ]; then
	log "NADIA demo data (7 days x 2,000 rows) and its rollups"
	PSQL="$PSQL" DAYS=7 ROWS_PER_DAY=2000 MATVIEW=0 bash "$ROOT/demo/load-data.sh"
	$PSQL <<'SQL'
SELECT nadia_bgw.create_rollup(name => 'llm_cost_daily', source => 'interactions', time_column => 'created_at',
    bucket => '1 day', bucket_column => 'date', group_by => ARRAY['llm1_model', 'llm2_model'],
    aggregates => ARRAY['COUNT(*) AS messages', 'SUM(COALESCE(llm1_cost_usd, 0) + COALESCE(llm2_cost_usd, 0)) AS total_cost']);
SELECT nadia_bgw.create_rollup(name => 'review_queue_daily', source => 'interactions', time_column => 'created_at',
    bucket => '1 day', bucket_column => 'date',
    aggregates => ARRAY['COUNT(*) FILTER (WHERE review_status = ''pending'') AS pending',
                        'AVG(review_completed_at - created_at) AS avg_review_latency']);
SELECT nadia_bgw.create_rollup(name => 'user_activity_hourly', source => 'interactions', time_column => 'created_at',
    bucket => '1 hour', bucket_column => 'hour',
    aggregates => ARRAY['COUNT(DISTINCT user_id) AS active_users', 'COUNT(*) AS messages']);
SELECT nadia_bgw.create_rollup(name => 'recovered_daily', source => 'interactions', time_column => 'created_at',
    bucket => '1 day', bucket_column => 'date', filter => 'is_recovered_message',
    aggregates => ARRAY['COUNT(*) AS recovered']);
SELECT nadia_bgw.mcp_expose_rollup('llm_cost_tracking', 'llm_cost_daily'),
       nadia_bgw.mcp_expose_rollup('review_queue_stats', 'review_queue_daily'),
       nadia_bgw.mcp_expose_rollup('user_activity_patterns', 'user_activity_hourly'),
       nadia_bgw.mcp_expose_rollup('recovery_system_stats', 'recovered_daily');
SQL
fi
if [ "$($PSQL -At -c "SELECT to_regclass('nadia_bgw.alerts') IS NOT NULL")" = t ]; then
	$PSQL -c "INSERT INTO nadia_bgw.alerts (alert_key, kind, severity, peak_severity, object, object_type,
	            metric, baseline, observed, ratio, opened_at)
	          SELECT 'bench-' || g, 'latency_regression', 'warning', 'warning', 'query ' || g, 'query',
	                 'mean_exec_time_ms', 2, 9, 4.5, now() - g * interval '1 hour'
	            FROM generate_series(1, 20) g"
fi
$PSQL -c "VACUUM ANALYZE"

log "installing the SDK client (npm ci)"
CLIENT=$DIR/mcp-client
mkdir -p "$CLIENT"
cp "$ROOT"/regress/mcp-client/{package.json,package-lock.json,client.mjs} "$CLIENT/"
(cd "$CLIENT" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
chown -R "$(run_user)" "$CLIENT"

log "calling every tool $ROUNDS times"
CONN="host=$DIR port=$PORT dbname=$DB user=nadia_mcp"
as_user nice node "$CLIENT/client.mjs" bench "$BINDIR/nadia-mcp" "$CONN" "$ROUNDS" \
	--rate-per-minute=0 --heavy-per-hour=0 --max-concurrent=0 >"$DIR/report.json"

node - "$DIR/report.json" <<'JS'
const r = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
if (r.fatal) { console.error(r.fatal); process.exit(1); }
const pad = (s, n) => String(s).padEnd(n);
const num = (x) => (x == null ? '-' : x.toFixed(1)).padStart(8);
console.log(`\n${pad('tool', 24)}${'p50 ms'.padStart(8)}${'p95 ms'.padStart(8)}${'max ms'.padStart(8)}${'rows'.padStart(6)}  p95/50ms`);
let worst = 0;
for (const [name, t] of Object.entries(r.tools)) {
  worst = Math.max(worst, t.p95_ms);
  console.log(`${pad(name, 24)}${num(t.p50_ms)}${num(t.p95_ms)}${num(t.max_ms)}${String(t.rows).padStart(6)}  ${(t.p95_ms / 50).toFixed(2)}${t.isError ? '  ERROR: ' + t.error : ''}`);
}
const rss = r.rss ? r.rss.hwm_kb / 1024 : NaN;
console.log(`\nworst p95: ${worst.toFixed(1)} ms = ${(worst / 50).toFixed(2)} x the 50 ms target`);
console.log(`server peak RSS: ${rss.toFixed(1)} MB = ${(rss / 20).toFixed(2)} x the 20 MB target (${r.rounds} rounds, ${r.errors} tool errors)`);
JS
