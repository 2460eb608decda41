#!/usr/bin/env bash
# bench/quality/cycle.sh -- per-cycle cost of the quality tasks (issue 16:
# "at the sampling bench's scale, 1,000 tables: <= 10% of a sample"),
# measured side by side with the sample in one run on one throwaway cluster.
#
# Schema: the sampling bench's $NTABLES tables and 5 x $NTABLES statements
# (bench/lib/statements.sh), each table given besides its primary key and
# index: a foreign key to the previous table (indexed on even tables,
# unindexed on odd ones: $NTABLES / 2 unindexed-key facts), a CHECK
# constraint, NOT VALID on every 10th table (and the foreign key NOT VALID
# on every 20th), and a sequence owned by its key (called once).
# History synthesized SQL-side (bench/quality/history.sql): 7 days hourly
# and 30 days daily sizes of every table, index and the database, 35 days of
# capacity samples (sequences, xid, mxid, filesystems, connections), 30 days
# of distribution samples, and hourly and daily rollups over 60 days of
# events for the anomalies task.
#
# Each round: a random $ACTIVE of the statements run once each and $ANALYZE
# random tables are analyzed (what a minute's autoanalyze does), then, each
# in its own transaction and its own long-lived session (as the worker's
# cycle), timed in the server:
#   sample        nadia_bgw.take_sample()
#   checks        nadia_bgw._quality_checks(now()): a full check (a call
#                 by hand, the worker's first after it starts)
#   checks_scoped nadia_bgw._quality_checks(now(), relids): the worker's
#                 check, given the relations the round changed (the
#                 analyzed tables and their indexes, whose pg_class rows
#                 ANALYZE updates: the relation cache invalidations the
#                 worker would receive)
#   checks_idle   the same with no relation changed
#   distribution  nadia_bgw._quality_distribution(now())
#   anomalies     nadia_bgw._quality_anomalies(now())
#   capacity      nadia_bgw._quality_capacity(now()), a cycle that
#                 updates the buckets of a batch of the series due this
#                 hour and refits them, and reads a chunk of the sequences
#                 (as the hour's first cycles do: the hour's reading of
#                 sequences restarted first, untimed)
#   capacity_idle the same with no series due (the hour's last cycles:
#                 every series refit already; marked so first, untimed)
#   capacity_hour nadia_bgw._quality_capacity(now()) as the first cycle of
#                 an hour (the hour's capacity_samples rows are deleted
#                 first, untimed): it records (and the first chunk of
#                 sequences) and marks every series due
# Printed: each one's median and max in ms and its median as a ratio to the
# sample's median (the issue's figure: <= 0.10).
#
#   bash bench/quality/cycle.sh                 (defaults below)
#   ROUNDS=30 NTABLES=1000 bash bench/quality/cycle.sh
#   PG_CONFIG=/work/pgm/pgmatrix/17/bin/pg_config bash bench/quality/cycle.sh
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../regress/lib.sh"
. "$ROOT/bench/lib.sh"
. "$ROOT/bench/lib/statements.sh"
. "$ROOT/bench/lib/timing.sh"

bench_defaults NTABLES=1000 ROUNDS=20 ANALYZE=5 PORT=5517 DIR=/tmp/nadia_bench_quality_cycle
NSTMT=$((NTABLES * 5))
bench_defaults ACTIVE=$((NSTMT / 10))

ensure_packages $NADIA_BASE_PACKAGES
build

stop() { bench_stop_cluster "$DIR"; [ -n "${KEEP:-}" ] || rm -rf "$DIR"; }
trap stop EXIT
bench_new_cluster "$DIR" "$PORT" "pg_stat_statements,nadia_bgw" <<CONF
pg_stat_statements.max = 10000
pg_stat_statements.track = top
nadia_bgw.database = 'postgres'
nadia_bgw.enabled = off
max_locks_per_transaction = 1024
autovacuum = off
CONF
export PGHOST=$DIR PGPORT=$PORT PGUSER=postgres PGDATABASE=postgres
Q() { nice psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

log "creating $NTABLES tables, their constraints, sequences and $NSTMT statements"
Q -c "CREATE EXTENSION pg_stat_statements; CREATE EXTENSION nadia_bgw"
bench_statement_tables "$NTABLES" "$DIR/all.sql"
Q <<SQL
DO \$\$
BEGIN
  FOR i IN 1..$NTABLES LOOP
    EXECUTE format('ALTER TABLE bench_t%s ADD COLUMN p int', i);
    EXECUTE format('UPDATE bench_t%s SET p = id', i);
    EXECUTE format('ALTER TABLE bench_t%s ADD FOREIGN KEY (p) REFERENCES bench_t%s (id)%s',
                   i, greatest(i - 1, 1), CASE WHEN i % 20 = 0 THEN ' NOT VALID' ELSE '' END);
    IF i % 2 = 0 THEN
      EXECUTE format('CREATE INDEX ON bench_t%s (p)', i);
    END IF;
    EXECUTE format('ALTER TABLE bench_t%s ADD CHECK (a >= 0)%s',
                   i, CASE WHEN i % 10 = 0 THEN ' NOT VALID' ELSE '' END);
    EXECUTE format('CREATE SEQUENCE bench_s%s OWNED BY bench_t%s.id', i, i);
    PERFORM nextval(format('bench_s%s', i));
  END LOOP;
END \$\$;
ANALYZE;
CREATE TABLE bench_cost (round int, what text, ms float8);
CREATE TABLE bench_changed (relid oid);
SQL
bench_timer

# a baseline sample, then a few so that the catalogs and raw tiers hold rows
for i in 1 2 3; do
	shuf -n "$ACTIVE" "$DIR/all.sql" | Q >/dev/null
	Q -c "SELECT pg_stat_force_next_flush()" >/dev/null
	Q -c "SELECT nadia_bgw.take_sample()" >/dev/null
done
log "synthesizing history (7 days hourly, 30 days daily, capacity, distribution, rollups)"
Q -v now="$(date -u +%FT%TZ)" -f "$ROOT/bench/quality/history.sql" >/dev/null
Q -c "VACUUM ANALYZE" >/dev/null
# the first call of each task records everything it finds (distribution:
# every analyzed table; anomalies: the rollups' whole horizon; capacity:
# the hour's samples, then batch after batch each series' 31 days of
# buckets and its forecast, what the worker's cycles of the first hour
# do): the steady state is what follows
Q -c "SELECT nadia_bgw._quality_checks(now())" >/dev/null
Q -c "SELECT nadia_bgw._quality_distribution(now())" >/dev/null
Q -c "SELECT nadia_bgw._quality_anomalies(now())" >/dev/null
t0=$(date +%s%N) batches=0
while :; do
	Q -c "SELECT nadia_bgw._quality_capacity(now())" >/dev/null
	batches=$((batches + 1))
	[ "$(Q -c "SELECT count(*) FROM nadia_bgw.capacity_series
	           WHERE fit_at IS NULL OR fit_at < to_timestamp(floor(extract(epoch FROM now()) / 3600) * 3600)")" = 0 ] && break
done
log "capacity: the first build took $batches cycles, $(( ($(date +%s%N) - t0) / 1000000 )) ms in all"
hist=$(Q -c "SELECT (SELECT count(*) FROM nadia_bgw.table_hourly) + (SELECT count(*) FROM nadia_bgw.table_daily)
               + (SELECT count(*) FROM nadia_bgw.index_hourly) + (SELECT count(*) FROM nadia_bgw.index_daily)
               || ' size rows, ' || (SELECT count(*) FROM nadia_bgw.capacity_samples) || ' capacity samples, '
               || (SELECT count(*) FROM nadia_bgw.distribution_samples) || ' distribution samples, '
               || (SELECT count(*) FROM nadia_bgw.capacity_forecasts) || ' forecasts, '
               || (SELECT count(*) FROM nadia_bgw.quality_facts WHERE resolved_at IS NULL) || ' open quality facts'")

# one long-lived session per measured function, as the worker's
coproc MS { nice psql -X -q -At 2>/dev/null; }
coproc MQ { nice psql -X -q -At 2>/dev/null; }
timed() { # timed ROUND WHAT FD_IN FD_OUT SQL
	local ms
	ms=$(ask "$3" "$4" "SELECT bench_time('$5');")
	Q -c "INSERT INTO bench_cost VALUES ($1, '$2', $ms)"
}
log "$ROUNDS rounds: sample, then checks, distribution, anomalies, capacity (ordinary and hourly)"
for r in $(seq 1 "$ROUNDS"); do
	shuf -n "$ACTIVE" "$DIR/all.sql" | Q >/dev/null
	picked=$(shuf -i 1-"$NTABLES" -n "$ANALYZE")
	for t in $picked; do echo "ANALYZE bench_t$t;"; done | Q
	# what the worker's invalidations would name: ANALYZE updates the
	# pg_class rows of each table and its indexes
	Q -c "TRUNCATE bench_changed; INSERT INTO bench_changed
	      SELECT c.oid FROM pg_class c WHERE c.relname IN ($(for t in $picked; do printf "'bench_t%s'," "$t"; done | sed 's/,$//'))
	      UNION ALL SELECT i.indexrelid FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
	       WHERE c.relname IN ($(for t in $picked; do printf "'bench_t%s'," "$t"; done | sed 's/,$//'))" >/dev/null
	Q -c "SELECT pg_stat_force_next_flush()" >/dev/null
	sleep 0.1
	timed "$r" sample "${MS[1]}" "${MS[0]}" "SELECT nadia_bgw.take_sample()"
	timed "$r" checks "${MQ[1]}" "${MQ[0]}" "SELECT nadia_bgw._quality_checks(now())"
	timed "$r" checks_scoped "${MQ[1]}" "${MQ[0]}" "SELECT nadia_bgw._quality_checks(now(), (SELECT array_agg(relid) FROM bench_changed))"
	timed "$r" checks_idle "${MQ[1]}" "${MQ[0]}" "SELECT nadia_bgw._quality_checks(now(), ARRAY[]::oid[])"
	timed "$r" distribution "${MQ[1]}" "${MQ[0]}" "SELECT nadia_bgw._quality_distribution(now())"
	timed "$r" anomalies "${MQ[1]}" "${MQ[0]}" "SELECT nadia_bgw._quality_anomalies(now())"
	# a batch cycle as in the hour's first cycles, which also read a chunk
	# of the sequences (the hour's reading restarted, untimed)
	# and with every series due, as after an hour's recording cycle (fit
	# in the hour before)
	Q -c "UPDATE nadia_bgw.capacity_sequence_cursor SET last_oid = 0" \
	  -c "UPDATE nadia_bgw.capacity_series SET fit_at = now() - interval '1 hour'" >/dev/null
	timed "$r" capacity "${MQ[1]}" "${MQ[0]}" "SELECT nadia_bgw._quality_capacity(now())"
	Q -c "UPDATE nadia_bgw.capacity_series SET fit_at = now()" >/dev/null
	timed "$r" capacity_idle "${MQ[1]}" "${MQ[0]}" "SELECT nadia_bgw._quality_capacity(now())"
	Q -c "DELETE FROM nadia_bgw.capacity_samples WHERE sampled_at >= date_trunc('hour', now())" \
	  -c "DELETE FROM nadia_bgw.capacity_sequence_cursor" >/dev/null
	timed "$r" capacity_hour "${MQ[1]}" "${MQ[0]}" "SELECT nadia_bgw._quality_capacity(now())"
done

log "results"
Q <<SQL
\pset format aligned
\pset tuples_only off
\echo
\echo '=== PostgreSQL $(pg_major): $("$PG_CONFIG" --version); $NTABLES tables, $ROUNDS rounds'
\echo '=== history: $hist'
\echo '=== Per-cycle cost (ms; same cluster, same run, alternating); ratio = median / the sample median'
WITH m AS (
  SELECT what, count(*) AS rounds,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS med, max(ms) AS mx
    FROM bench_cost WHERE round > 1 GROUP BY what)
SELECT m.what, m.rounds, round(m.med::numeric, 1) AS median_ms, round(m.mx::numeric, 1) AS max_ms,
       round((m.med / s.med)::numeric, 3) AS ratio_to_sample,
       CASE WHEN m.what = 'sample' THEN '' WHEN m.med / s.med <= 0.10 THEN 'yes' ELSE 'NO' END AS within_10pct
  FROM m, (SELECT med FROM m WHERE what = 'sample') s
 ORDER BY array_position(ARRAY['sample', 'checks', 'checks_scoped', 'checks_idle', 'distribution', 'anomalies', 'capacity', 'capacity_idle', 'capacity_hour'], m.what);
SQL
