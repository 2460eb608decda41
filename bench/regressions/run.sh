#!/usr/bin/env bash
# bench/regressions/run.sh -- regression detection on the NADIA demo
# workload: detection latency (in worker cycles) of injected regressions,
# false alerts during the steady phases, and the cost of a detection run
# against the cost of the sample it judges, with almost no history and with
# 30 days of it.  One throwaway cluster, one run.
#
# Workload of one cycle ("the application", pgbench, one client):
#   the review UI's per-user history lookup (demo/pgbench/user_history.sql),
#   a per-user score through a PL/pgSQL function, new messages
#   (demo/pgbench/insert_hot.sql) and review updates
#   (demo/pgbench/update_review.sql), $XACTS transactions; plus a random
#   10% of $NSTMT background statements over $NTABLES small tables, so that
#   pg_stat_statements holds a realistic number of entries.
# Then nadia_bgw.wake(wait => true): the worker samples and detects.
#
# Scenarios, each: inject, cycles until its alert opens (= detection
# latency), undo, cycles until it resolves, then $STEADY steady cycles in
# which any alert opened is a false alert:
#   index      DROP INDEX idx_interactions_user_created (the lookup's index)
#   sleep      CREATE OR REPLACE the score function with pg_sleep(0.02) added
#   lock       a session holds SHARE ROW EXCLUSIVE on interactions; a writer waits
#   flood      idle connections up to 85% of max_connections
#   bloat      autovacuum off on interactions, 40% of its rows updated
#
#   bash bench/regressions/run.sh
#   DAYS=30 ROWS_PER_DAY=10000 STEADY=10 bash bench/regressions/run.sh
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../regress/lib.sh"
. "$ROOT/bench/lib.sh"

bench_defaults DAYS=30 ROWS_PER_DAY=10000 XACTS=100 NTABLES=200 WARMUP=20 STEADY=10 COST_ROUNDS=20 \
	MAXCONN=50 PORT=5552 DIR=/tmp/nadia_bench_regressions
NSTMT=$((NTABLES * 5))

ensure_packages $NADIA_BASE_PACKAGES
build

BG_PIDS=()
stop() {
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	bench_stop_cluster "$DIR"
	[ -n "${KEEP:-}" ] || rm -rf "$DIR"
}
trap stop EXIT
bench_new_cluster "$DIR" "$PORT" pg_stat_statements,nadia_bgw <<CONF
max_connections = $MAXCONN
pg_stat_statements.max = 5000
pg_stat_statements.track = top
nadia_bgw.database = 'postgres'
# cycles are driven by wake(), one per round of the workload
nadia_bgw.interval = 3600
# the one time-based threshold a scenario needs, shortened to keep the run short
nadia_bgw.lock_wait_seconds = 1
CONF
export PGHOST=$DIR PGPORT=$PORT PGUSER=postgres PGDATABASE=postgres
Q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

log "loading the NADIA data: $DAYS days x $ROWS_PER_DAY messages"
DAYS=$DAYS ROWS_PER_DAY=$ROWS_PER_DAY SEED=42 MATVIEW=0 PSQL="psql -X -q -v ON_ERROR_STOP=1" \
	bash "$ROOT/demo/load-data.sh"
Q -c "CREATE EXTENSION pg_stat_statements; CREATE EXTENSION nadia_bgw"
Q <<SQL
CREATE SCHEMA nadia_bench;
CREATE FUNCTION nadia_bench.user_score(uid bigint) RETURNS numeric
LANGUAGE plpgsql AS \$f\$
BEGIN
    RETURN (SELECT avg(quality_score) FROM public.interactions
             WHERE user_id = uid AND created_at > now() - interval '7 days');
END \$f\$;
DO \$\$
BEGIN
  FOR i IN 1..$NTABLES LOOP
    EXECUTE format('CREATE TABLE nadia_bench.t%s (id int PRIMARY KEY, a int, b text)', i);
    EXECUTE format('INSERT INTO nadia_bench.t%s SELECT g, g %% 50, md5(g::text) FROM generate_series(1, 200) g', i);
  END LOOP;
END \$\$;
VACUUM ANALYZE;
CREATE TABLE nadia_bench.cycles (cycle int, phase text, sample_ms float8, regressions_ms float8);
CREATE TABLE nadia_bench.opened (cycle int, phase text, alert_id bigint, kind text, object text);
CREATE TABLE nadia_bench.phases (phase text, kind text, injected_at int, detected_at int,
                                 undone_at int, resolved_at int, steady_from int, steady_to int);
SQL
for i in $(seq 1 "$NTABLES"); do
	echo "SELECT b FROM nadia_bench.t$i WHERE id = 1;"
	echo "SELECT count(*) FROM nadia_bench.t$i WHERE a < 10;"
	echo "UPDATE nadia_bench.t$i SET a = a + 1 WHERE id = 2;"
	echo "SELECT max(a) FROM nadia_bench.t$i;"
	echo "SELECT id FROM nadia_bench.t$i WHERE a = 3 ORDER BY id LIMIT 5;"
done >"$DIR/background.sql"
cat >"$DIR/score.sql" <<'EOF'
\set uid random_exponential(1000000000, 1000019999, 5.0)
SELECT nadia_bench.user_score(:uid);
EOF
P=$ROOT/demo/pgbench
WRITES="-f $P/insert_hot.sql@2 -f $P/update_review.sql@1"
READS="-f $P/user_history.sql@5 -f $DIR/score.sql@5"
WORKLOAD="$READS $WRITES"

CYCLE=0
PHASE=warmup
cycle() {
	CYCLE=$((CYCLE + 1))
	# shellcheck disable=SC2086
	nice pgbench -n -t "$XACTS" $WORKLOAD >/dev/null 2>"$DIR/pgbench.err" || { cat "$DIR/pgbench.err"; exit 1; }
	shuf -n $((NSTMT / 10)) "$DIR/background.sql" | Q >/dev/null
	Q -c "SELECT pg_stat_force_next_flush()" >/dev/null
	Q -c "SELECT nadia_bgw.wake(wait => true, timeout_ms => 600000)" >/dev/null
	Q -c "INSERT INTO nadia_bench.cycles
	      SELECT $CYCLE, '$PHASE',
	             (SELECT last_duration_ms FROM nadia_bgw.status WHERE task = 'sample'),
	             (SELECT last_duration_ms FROM nadia_bgw.status WHERE task = 'regressions');
	      INSERT INTO nadia_bench.opened
	      SELECT $CYCLE, '$PHASE', alert_id, kind, object FROM nadia_bgw.alerts
	       WHERE alert_id > (SELECT coalesce(max(alert_id), 0) FROM nadia_bench.opened)"
}
open_count() { Q -c "SELECT count(*) FROM nadia_bgw.alerts WHERE state = 'open' AND kind = '$1' ${2:-}"; }

# scenario NAME KIND FILTER INJECT UNDO
scenario() {
	local name=$1 kind=$2 filter=$3 inject=$4 undo=$5 injected detected=NULL undone resolved=NULL from
	log "scenario $name"
	PHASE=$name
	injected=$CYCLE
	eval "$inject"
	for _ in 1 2 3 4 5; do
		cycle
		if [ "$(open_count "$kind" "$filter")" -gt 0 ]; then detected=$CYCLE; break; fi
	done
	eval "$undo"
	undone=$CYCLE
	for _ in $(seq 1 12); do
		cycle
		if [ "$(open_count "$kind" "$filter")" = 0 ]; then
			resolved=$CYCLE; break
		fi
	done
	PHASE=steady
	from=$((CYCLE + 1))
	for _ in $(seq 1 "$STEADY"); do cycle; done
	Q -c "INSERT INTO nadia_bench.phases VALUES ('$name', '$kind', $injected, $detected, $undone,
	      $resolved, $from, $CYCLE)"
}

log "warm-up: $WARMUP cycles"
for _ in $(seq 1 "$WARMUP"); do cycle; done
Q -c "INSERT INTO nadia_bench.phases VALUES ('warm-up', NULL, NULL, NULL, NULL, NULL, 1, $CYCLE)"

scenario index query_latency "AND query LIKE '%user_id = \$1%ORDER BY created_at%'" \
	'Q -c "DROP INDEX idx_interactions_user_created"' \
	'Q -c "CREATE INDEX idx_interactions_user_created ON public.interactions (user_id, created_at DESC)"'

scenario sleep query_latency "AND query LIKE '%user_score%'" \
	'Q -c "CREATE OR REPLACE FUNCTION nadia_bench.user_score(uid bigint) RETURNS numeric LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM pg_sleep(0.02); RETURN (SELECT avg(quality_score) FROM public.interactions WHERE user_id = uid AND created_at > now() - interval '"'"'7 days'"'"'); END \$f\$"' \
	'Q -c "CREATE OR REPLACE FUNCTION nadia_bench.user_score(uid bigint) RETURNS numeric LANGUAGE plpgsql AS \$f\$ BEGIN RETURN (SELECT avg(quality_score) FROM public.interactions WHERE user_id = uid AND created_at > now() - interval '"'"'7 days'"'"'); END \$f\$"'

lock_inject() {
	psql -X -q -c "BEGIN; LOCK TABLE public.interactions IN SHARE ROW EXCLUSIVE MODE; SELECT pg_sleep(3600)" \
		>/dev/null 2>&1 &
	BG_PIDS+=($!)
	until [ "$(Q -c "SELECT count(*) FROM pg_locks WHERE relation = 'public.interactions'::regclass
	                 AND mode = 'ShareRowExclusiveLock' AND granted")" = 1 ]; do sleep 0.05; done
	psql -X -q -c "UPDATE public.interactions SET quality_score = quality_score
	               WHERE id = (SELECT id FROM public.interactions LIMIT 1)" >/dev/null 2>&1 &
	BG_PIDS+=($!)
	WORKLOAD=$READS # writers would only queue behind the lock
}
lock_undo() {
	Q -c "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE relation = 'public.interactions'::regclass
	      AND mode = 'ShareRowExclusiveLock' AND granted" >/dev/null
	wait
	BG_PIDS=()
	WORKLOAD="$READS $WRITES"
}
scenario lock lock_wait "" lock_inject lock_undo

flood_inject() {
	local n
	n=$(( (MAXCONN * 85 + 99) / 100 ))
	for _ in $(seq 1 "$n"); do
		psql -X -q -c "SELECT pg_sleep(3600)" >/dev/null 2>&1 &
		BG_PIDS+=($!)
	done
	until [ "$(Q -c "SELECT count(*) >= $n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3600)'")" = t ]; do
		sleep 0.05
	done
}
flood_undo() {
	Q -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3600)'" >/dev/null
	wait
	BG_PIDS=()
}
scenario flood connections "" flood_inject flood_undo

bloat_inject() {
	Q -c "ALTER TABLE public.interactions SET (autovacuum_enabled = off)"
	Q -c "UPDATE public.interactions SET quality_score = quality_score WHERE random() < 0.4"
}
bloat_undo() {
	Q -c "ALTER TABLE public.interactions RESET (autovacuum_enabled)"
	Q -c "VACUUM public.interactions"
}
scenario bloat dead_tuples "AND relname = 'public.interactions'" bloat_inject bloat_undo

log "cost with 30 days of history"
PHASE=cost_little_history
for _ in $(seq 1 "$COST_ROUNDS"); do cycle; done
# History the worker keeps by default (raw 1 day, hourly 28 days, daily
# beyond), filled in behind the real samples: a day of 1-minute raw samples
# copied from the real ones (ending an hour before the first real sample),
# hourly rows for the 28 days before that and daily rows for 2 more days.
origin=$(Q -c "SELECT date_trunc('minute', min(sampled_at)) - interval '1 hour' FROM nadia_bgw.samples")
Q -v origin="$origin" -v step=-1 -v first=1 -v last=1380 -v skip=0 \
	-f "$ROOT/bench/lib/replicate_samples.sql" -f - <<'SQL'
INSERT INTO nadia_bgw.samples (sampled_at, duration_ms, taken_by, outcome)
  SELECT sim_at, 0, 'take_sample', '{}' FROM minute_map;
CREATE TEMP TABLE bounds AS
  SELECT date_trunc('hour', min(sim_at)) AS raw_from FROM minute_map;
SELECT count(nadia_bgw.ensure_partitions('hourly', g))
  FROM bounds, generate_series(raw_from - interval '28 days', raw_from, '1 day') g;
SELECT count(nadia_bgw.ensure_partitions('daily', g))
  FROM bounds, generate_series(raw_from - interval '30 days', raw_from - interval '28 days', '1 day') g;
DO $$
DECLARE t text; keys text; cols text; aggs text; raw_from timestamptz := (SELECT raw_from FROM bounds);
BEGIN
  FOREACH t IN ARRAY ARRAY['statement', 'table', 'database'] LOOP
    keys := CASE t WHEN 'statement' THEN 'stmt_id, toplevel' WHEN 'table' THEN 'relid' ELSE 'datid' END;
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum),
           string_agg(format('max(%I)', attname), ', ' ORDER BY attnum) INTO cols, aggs
      FROM pg_attribute WHERE attrelid = ('nadia_bgw.' || t || '_samples')::regclass AND attnum > 0
       AND NOT attisdropped AND attname NOT IN ('sampled_at', 'stmt_id', 'toplevel', 'relid', 'datid');
    -- every hour of the simulated day, repeated for the 28 days before it
    EXECUTE format('INSERT INTO nadia_bgw.%I (sampled_at, %s, %s, samples)
                      SELECT date_trunc(''hour'', h.sampled_at) - d * interval ''1 day'', %s, %s, count(*)
                        FROM nadia_bgw.%I h JOIN minute_map m ON m.sim_at = h.sampled_at,
                             generate_series(1, 28) d
                       GROUP BY 1, %s',
                   t || '_hourly', keys, cols, keys, aggs, t || '_samples', keys);
    EXECUTE format('INSERT INTO nadia_bgw.%I (sampled_at, %s, %s, samples)
                      SELECT date_trunc(''day'', $1) - d * interval ''1 day'', %s, %s, count(*)
                        FROM nadia_bgw.%I h JOIN minute_map m ON m.sim_at = h.sampled_at,
                             generate_series(29, 30) d
                       GROUP BY 1, %s',
                   t || '_daily', keys, cols, keys, aggs, t || '_samples', keys) USING raw_from;
  END LOOP;
END $$;
UPDATE nadia_bgw.tier_state SET done_until = (SELECT raw_from FROM bounds) WHERE tier = 'hourly';
UPDATE nadia_bgw.tier_state SET done_until = (SELECT date_trunc('day', raw_from) FROM bounds) WHERE tier = 'daily';
VACUUM ANALYZE;
SQL
PHASE=cost_30_days
for _ in $(seq 1 "$COST_ROUNDS"); do cycle; done
HIST=$(Q -c "SELECT pg_size_pretty(sum(pg_total_relation_size(child))) FROM nadia_bgw.history_partitions")
SAMPLES=$(Q -c "SELECT count(*) FROM nadia_bgw.samples")
HOURLY=$(Q -c "SELECT count(*) FROM nadia_bgw.statement_hourly")
SPAN=$(Q -c "SELECT date_trunc('hour', now() - min(sampled_at)) FROM nadia_bgw.statement_daily")
STMTS=$(Q -c "SELECT count(*) FROM pg_stat_statements")

log "results"
Q <<SQL
\pset format aligned
\pset tuples_only off
\pset null '-'
\echo
\echo '=== Detection latency: worker cycles from injection to the alert (target <= 2)'
SELECT phase AS scenario, kind AS expected_alert, detected_at - injected_at AS detection_cycles,
       resolved_at - undone_at AS cycles_to_resolve_after_undo,
       (SELECT string_agg(DISTINCT o.kind, ', ') FROM nadia_bench.opened o
         WHERE o.cycle > p.injected_at AND o.cycle < p.steady_from AND o.kind <> p.kind) AS other_alerts_opened
  FROM nadia_bench.phases p WHERE kind IS NOT NULL ORDER BY injected_at;
\echo '=== False alerts: alerts opened during steady phases (target 0)'
SELECT count(DISTINCT c.cycle) AS steady_cycles,
       (SELECT count(*) FROM nadia_bench.opened o WHERE o.phase IN ('warmup', 'steady')) AS alerts_opened
  FROM nadia_bench.cycles c WHERE c.phase IN ('warmup', 'steady');
SELECT o.cycle, o.phase, o.kind, o.object FROM nadia_bench.opened o
 WHERE o.phase IN ('warmup', 'steady') ORDER BY o.cycle;
\echo '=== Cost per cycle (ms, median): detection vs the sample it judges (target <= 20%)'
SELECT phase, count(*) AS cycles,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY sample_ms)::numeric, 1) AS sample_ms,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY regressions_ms)::numeric, 1) AS detection_ms,
       round((100 * percentile_cont(0.5) WITHIN GROUP (ORDER BY regressions_ms)
              / percentile_cont(0.5) WITHIN GROUP (ORDER BY sample_ms))::numeric, 1) AS detection_pct_of_sample
  FROM nadia_bench.cycles WHERE phase IN ('steady', 'cost_little_history', 'cost_30_days')
 GROUP BY phase ORDER BY min(cycle);
SQL
echo "history present after the cost_30_days phase: $SPAN back, $HIST in partitions, $SAMPLES samples, $HOURLY hourly statement rows; $STMTS pg_stat_statements entries"
echo "workload per cycle: $XACTS pgbench transactions + $((NSTMT / 10)) of $NSTMT background statements; data: $DAYS days x $ROWS_PER_DAY messages"
