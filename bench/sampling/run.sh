#!/usr/bin/env bash
# bench/sampling/run.sh -- cost and storage of nadia_bgw's statistics
# sampling against the floor (bare reads of the statistics views) and PoWA,
# measured side by side in one run on one throwaway cluster.
#
# Workload: $NTABLES tables with a primary key and one index, $NSTMT distinct
# statements over them (5 per table), and between two samples a random
# $ACTIVE of those statements run once each (~10%).  Each round then measures,
# in this order and each in its own transaction, with the statistics snapshot
# cleared first:
#   floor  - SELECT * FROM pg_stat_statements, pg_stat_user_tables,
#            pg_stat_user_indexes (every row fetched, in PL/pgSQL)
#   nadia  - SELECT nadia_bgw.take_sample()
#   powa   - SELECT powa_take_snapshot()   (PoWA 4, local mode)
# PoWA is packaged by Debian for PostgreSQL 15 only (postgresql-15-powa):
# with another PG_CONFIG, or when PoWA is not in that installation, the
# bench says so and skips it; the ratio to the floor is printed either way.
# Storage is measured from the sizes of the history relations.  A simulated
# day (1,440 one-minute samples) is built from the rows the real samples
# wrote, then downsampled with nadia_bgw.maintain_history(); 30 days of
# history are then added to the tiers and the sample cost measured again.
#
#   bash bench/sampling/run.sh                 (defaults below)
#   ROUNDS=100 NTABLES=1000 bash bench/sampling/run.sh
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../regress/lib.sh"
. "$ROOT/bench/lib.sh"
. "$ROOT/bench/lib/statements.sh"
. "$ROOT/bench/lib/timing.sh"

# ROUNDS: PoWA coalesces every 100 snapshots
bench_defaults NTABLES=1000 ROUNDS=100 ROUNDS_30D=20 PORT=5511 DIR=/tmp/nadia_bench_sampling
NSTMT=$((NTABLES * 5))
bench_defaults ACTIVE=$((NSTMT / 10))

ensure_packages $NADIA_BASE_PACKAGES
if [ "$PG_CONFIG" = "$DEFAULT_PG_CONFIG" ]; then
	ensure_packages postgresql-15-powa
fi
build
# PoWA: its library and extension script in the installation under test
if [ -e "$("$PG_CONFIG" --pkglibdir)/powa.so" ] &&
	[ -e "$("$PG_CONFIG" --sharedir)/extension/powa.control" ]; then
	POWA=1
else
	POWA=
	log "PoWA is not installed for PostgreSQL $(pg_major) (Debian packages it for 15 only): skipping PoWA, measuring nadia against the floor only"
fi

stop() { bench_stop_cluster "$DIR"; [ -n "${KEEP:-}" ] || rm -rf "$DIR"; }
trap stop EXIT
bench_new_cluster "$DIR" "$PORT" "pg_stat_statements,${POWA:+powa,}nadia_bgw" <<CONF
pg_stat_statements.max = 10000
pg_stat_statements.track = top
nadia_bgw.database = 'postgres'
nadia_bgw.enabled = off
max_locks_per_transaction = 1024
${POWA:+powa.frequency = -1}
${POWA:+powa.coalesce = 100}
CONF
export PGHOST=$DIR PGPORT=$PORT PGUSER=postgres PGDATABASE=postgres
Q() { nice psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

log "creating $NTABLES tables and $NSTMT statements"
Q -c "CREATE EXTENSION pg_stat_statements; CREATE EXTENSION nadia_bgw"
if [ -n "$POWA" ]; then
	Q -c "CREATE EXTENSION btree_gist; CREATE EXTENSION powa"
fi
# five statement shapes per table: NSTMT distinct normalized statements
bench_statement_tables "$NTABLES" "$DIR/all.sql"
Q <<SQL
CREATE FUNCTION bench_floor() RETURNS void LANGUAGE plpgsql AS \$f\$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM pg_stat_statements LOOP END LOOP;
  FOR r IN SELECT * FROM pg_stat_user_tables LOOP END LOOP;
  FOR r IN SELECT * FROM pg_stat_user_indexes LOOP END LOOP;
END \$f\$;
CREATE TABLE bench_cost (round int, phase text, floor_ms float8, nadia_ms float8, powa_ms float8);
SQL
bench_timer

# baselines: the first sample/snapshot of each only records where counters are
Q -c "SELECT nadia_bgw.take_sample()" >/dev/null
[ -z "$POWA" ] || Q -c "SELECT powa_take_snapshot()" >/dev/null 2>&1

size_nadia_raw() {
	Q -c "SELECT sum(pg_total_relation_size(child)) FROM nadia_bgw.history_partitions p
	       JOIN nadia_bgw.history_tables t USING (parent) WHERE t.tier = 'raw'"
}
# without PoWA its sizes are 0 and its ratios NULL (printed empty)
size_powa_current() {
	[ -n "$POWA" ] || { echo 0; return; }
	Q -c "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
	       WHERE c.relkind = 'r' AND c.relname LIKE 'powa%history_current%'"
}
size_powa_all() {
	[ -n "$POWA" ] || { echo 0; return; }
	Q -c "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
	       WHERE c.relkind = 'r' AND c.relname ~ '^powa_.*history'"
}
# what PoWA keeps once it coalesced (the aggregated *_history tables)
size_powa_coalesced() {
	[ -n "$POWA" ] || { echo 0; return; }
	Q -c "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
	       WHERE c.relkind = 'r' AND c.relname ~ '^powa_.*history' AND c.relname !~ '_current'"
}

# The three measurements run in one long-lived session each, as a worker
# would (plans and caches warm); the workload runs in its own sessions.
coproc MF { nice psql -X -q -At 2>/dev/null; }
coproc MN { nice psql -X -q -At 2>/dev/null; }
coproc MP { nice psql -X -q -At 2>/dev/null; }
round() { # round N PHASE
	shuf -n "$ACTIVE" "$DIR/all.sql" | Q >/dev/null
	Q -c "SELECT pg_stat_force_next_flush()" >/dev/null
	sleep 0.1
	f=$(ask "${MF[1]}" "${MF[0]}" "SELECT bench_time('SELECT bench_floor()');")
	n=$(ask "${MN[1]}" "${MN[0]}" "SELECT bench_time('SELECT nadia_bgw.take_sample()');")
	if [ -n "$POWA" ]; then
		p=$(ask "${MP[1]}" "${MP[0]}" "SELECT bench_time('SELECT powa_take_snapshot()');")
	else
		p=NULL
	fi
	Q -c "INSERT INTO bench_cost VALUES ($1, '$2', $f, $n, $p)"
}

nadia_raw0=$(size_nadia_raw)
powa_cur0=$(size_powa_current)
powa_all0=$(size_powa_all)
powa_coal0=$(size_powa_coalesced)
log "$ROUNDS rounds (workload, floor, nadia${POWA:+, powa})"
HALF=$((ROUNDS / 2))
for r in $(seq 1 "$ROUNDS"); do
	round "$r" none
	if [ "$r" -eq "$HALF" ]; then
		nadia_raw_half=$(size_nadia_raw)
		powa_cur_half=$(size_powa_current)
	fi
done
nadia_raw1=$(size_nadia_raw)
Q -c "VACUUM" >/dev/null
powa_all1=$(size_powa_all)
powa_coal1=$(size_powa_coalesced)
powa_coalesces=$([ -z "$POWA" ] && echo "n/a (PoWA skipped)" || Q -c "SELECT count(*) FROM powa_statements_history")

log "simulating a day of 1-minute samples from the real ones"
# one real sample's rows -> one simulated minute, cycling through the real
# samples; the day is 2026-01-01 (UTC), far from the real samples.
Q -v origin='2026-01-01 00:00+00' -v step=1 -v first=0 -v last=1439 -v skip=1 \
	-c "SET TimeZone = 'UTC'" -f "$ROOT/bench/lib/replicate_samples.sql" \
	-c "UPDATE nadia_bgw.tier_state SET done_until = '2026-01-01 00:00+00'"
day_raw=$(Q -c "SELECT sum(pg_total_relation_size(child)) FROM nadia_bgw.history_partitions p
                 JOIN nadia_bgw.history_tables t USING (parent)
                WHERE t.tier = 'raw' AND p.hi <= '2026-01-02 00:00+00'")
Q -c "SELECT nadia_bgw.maintain_history('2026-01-02 00:05+00')" >/dev/null
day_tiers=$(Q -c "SELECT sum(pg_total_relation_size(child)) FROM nadia_bgw.history_partitions p
                   JOIN nadia_bgw.history_tables t USING (parent) WHERE t.tier <> 'raw'")
hourly_rows=$(Q -c "SELECT count(*) FROM nadia_bgw.statement_hourly")

log "adding 30 days of history"
Q <<'SQL'
SET TimeZone = 'UTC';
SELECT count(nadia_bgw.ensure_partitions('hourly', g)) FROM generate_series('2026-01-02'::timestamptz, '2026-01-31', '1 day') g;
SELECT count(nadia_bgw.ensure_partitions('daily', g)) FROM generate_series('2026-01-02'::timestamptz, '2026-01-31', '1 day') g;
DO $$
DECLARE t text; cols text;
BEGIN
  FOREACH t IN ARRAY ARRAY['statement_hourly', 'table_hourly', 'index_hourly', 'database_hourly', 'cluster_hourly',
                           'statement_daily', 'table_daily', 'index_daily', 'database_daily', 'cluster_daily'] LOOP
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
      FROM pg_attribute WHERE attrelid = ('nadia_bgw.' || t)::regclass AND attnum > 0
       AND NOT attisdropped AND attname <> 'sampled_at';
    EXECUTE format('INSERT INTO nadia_bgw.%I (sampled_at, %s) SELECT h.sampled_at + d * interval ''1 day'', %s
                      FROM nadia_bgw.%I h, generate_series(1, 29) d
                     WHERE h.sampled_at < ''2026-01-02''',
                   t, cols, cols, t);
  END LOOP;
END $$;
SQL
# a full day of raw samples is present as well (the simulated day is kept)
Q -c "VACUUM ANALYZE" >/dev/null
hist_total=$(Q -c "SELECT pg_size_pretty(sum(pg_total_relation_size(child))) FROM nadia_bgw.history_partitions")
for r in $(seq 1 "$ROUNDS_30D"); do
	round "$r" 30d
done

log "results"
if [ -n "$POWA" ]; then
	POWA_NOTE="PoWA measured side by side"
else
	POWA_NOTE="PoWA skipped: not packaged for PostgreSQL $(pg_major) (powa_ms, the PoWA sizes and ratios are empty or 0)"
fi
Q <<SQL
\pset format aligned
\pset tuples_only off
\echo
\echo '=== PostgreSQL $(pg_major): $("$PG_CONFIG" --version)${POWA:+, PoWA $(Q -c "SELECT extversion FROM pg_extension WHERE extname = 'powa'")}'
\echo '$POWA_NOTE'
\echo '=== Sampling cost (ms, median over rounds; same workload, same cluster, one run)'
SELECT phase, count(*) AS rounds,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY floor_ms)::numeric, 1) AS floor_ms,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY nadia_ms)::numeric, 1) AS nadia_ms,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY powa_ms)::numeric, 1) AS powa_ms,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY nadia_ms) /
              percentile_cont(0.5) WITHIN GROUP (ORDER BY floor_ms))::numeric, 2) AS nadia_over_floor,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY nadia_ms) /
              percentile_cont(0.5) WITHIN GROUP (ORDER BY powa_ms))::numeric, 2) AS nadia_over_powa
  FROM bench_cost WHERE round > 1 GROUP BY phase ORDER BY phase DESC;
\echo '=== Sample cost with 30 days of history / with none (median nadia_ms)'
SELECT round(((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY nadia_ms) FROM bench_cost WHERE phase = '30d' AND round > 1) /
              (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY nadia_ms) FROM bench_cost WHERE phase = 'none' AND round > 1))::numeric, 2)
       AS ratio_30d_over_none;
\echo '=== Storage'
SELECT 'nadia bytes per raw sample' AS what, (($nadia_raw1 - $nadia_raw0) / $ROUNDS)::bigint AS bytes
UNION ALL SELECT 'powa bytes per snapshot before coalescing (first $HALF snapshots)', (($powa_cur_half - $powa_cur0) / $HALF)::bigint
UNION ALL SELECT 'powa bytes per snapshot once coalesced (coalesced tables / $ROUNDS snapshots)', (($powa_coal1 - $powa_coal0) / $ROUNDS)::bigint
UNION ALL SELECT 'powa bytes per snapshot, all history tables after $ROUNDS snapshots (vacuumed)', (($powa_all1 - $powa_all0) / $ROUNDS)::bigint
UNION ALL SELECT 'nadia simulated day: raw (1440 samples)', $day_raw
UNION ALL SELECT 'nadia simulated day: hourly + daily tiers after downsampling', $day_tiers
UNION ALL SELECT 'powa day once coalesced (1440 x coalesced per-snapshot)', (($powa_coal1 - $powa_coal0) / $ROUNDS * 1440)::bigint;
\echo '=== Ratios'
SELECT round(((($nadia_raw1 - $nadia_raw0)::numeric / $ROUNDS) / nullif(($powa_cur_half - $powa_cur0)::numeric / $HALF, 0)), 3)
         AS raw_sample_over_powa_snapshot,
       round(($day_tiers::numeric / nullif(($powa_coal1 - $powa_coal0)::numeric / $ROUNDS * 1440, 0)), 3)
         AS day_tiers_over_powa_day,
       round((($day_raw + $day_tiers)::numeric / nullif(($powa_coal1 - $powa_coal0)::numeric / $ROUNDS * 1440, 0)), 3)
         AS day_raw_plus_tiers_over_powa_day;
\echo 'powa_statements_history rows after the run (0 = PoWA did not coalesce): $powa_coalesces'
\echo 'statement rows in the hourly tier for the day: $hourly_rows; nadia history with 30 days present: $hist_total'
SELECT count(*) AS statements_tracked FROM pg_stat_statements;
SQL
