#!/usr/bin/env bash
# bench/rollup/run.sh -- incremental rollup refresh vs REFRESH MATERIALIZED
# VIEW CONCURRENTLY, and the writers' cost of change capture, side by side
# in one run on one throwaway cluster.
#
#   bash bench/rollup/run.sh                    90 days x 50,000 rows/day
#   DAYS=180 bash bench/rollup/run.sh           doubled history
#   DAYS=30 ROWS_PER_DAY=10000 bash bench/rollup/run.sh     quick
#
# Knobs: DAYS, ROWS_PER_DAY, HORIZON_DAYS (days the dashboard covers, both
# the materialized view's WHERE and the rollup's horizon; default 90, the
# review's view), SEED, PGBENCH_SECONDS (per run, default 20),
# PARTS (default "refresh paired writers probe load": which sections to run),
# PAIRED_ROUNDS (paired capture on/off pgbench rounds, default 5),
# ROUNDS (alternating capture off/on pgbench rounds, default 3),
# REFRESH_ROUNDS (interleaved refresh rounds, default 5),
# BENCH_DIR (default /tmp/nadia_bench_rollup), BENCH_PORT (default 5521),
# BENCH_KEEP=1 (leave the cluster running), BENCH_REUSE=1 (reuse a loaded
# cluster in BENCH_DIR).  Run it with nice on a shared machine.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../regress/lib.sh"
. "$ROOT/bench/lib.sh"

bench_defaults DAYS=90 ROWS_PER_DAY=50000 HORIZON_DAYS=90 SEED=42 PGBENCH_SECONDS=20 ROUNDS=3 REFRESH_ROUNDS=5 \
	BENCH_DIR=/tmp/nadia_bench_rollup BENCH_PORT=5521 PAIRED_ROUNDS=5 "PARTS=refresh paired writers probe load"
part() { grep -qw "$1" <<<"$PARTS"; }
CPU_ROUNDS=$((ROUNDS * 2 + 1))

ensure_packages $NADIA_BASE_PACKAGES
build
BINDIR=$(private_bindir "$BENCH_DIR/inst")
# every session in UTC, as the server's timezone below: the materialized
# view's DATE() and the rollup (demo/dashboard_rollup.sql) cut UTC days
export PGHOST=$BENCH_DIR PGPORT=$BENCH_PORT PGUSER=postgres PGDATABASE=nadia_hitl PGTZ=UTC

stop_cluster() {
	if [ -z "${BENCH_KEEP:-}" ]; then
		bench_stop_cluster "$BENCH_DIR"
	fi
}

if [ -n "${BENCH_REUSE:-}" ] && [ -f "$BENCH_DIR/loaded-$DAYS-$ROWS_PER_DAY-$SEED" ]; then
	make -s -C "$ROOT" install DESTDIR="$BENCH_DIR/inst" >/dev/null
	use_private_libs "$BENCH_DIR/inst"
	as_user "$BINDIR/pg_ctl" -D "$BENCH_DIR/data" -l "$BENCH_DIR/server.log" -w restart >/dev/null 2>&1 ||
		bench_start_cluster "$BENCH_DIR"
	trap stop_cluster EXIT
	export PATH="$BINDIR:$PATH"
else
	bench_new_cluster "$BENCH_DIR" "$BENCH_PORT" nadia_bgw <<CONF
nadia_bgw.database = 'nadia_hitl'
# the benchmark refreshes by hand: the worker would compete for the CPU
nadia_bgw.enabled = off
timezone = 'UTC'
shared_buffers = 2GB
maintenance_work_mem = 512MB
work_mem = 64MB
max_wal_size = 8GB
checkpoint_timeout = 30min
CONF
	trap stop_cluster EXIT
	psql -X -q -d postgres -c "CREATE DATABASE nadia_hitl"
	log "loading $DAYS days x $ROWS_PER_DAY rows (seed $SEED, last day = today)"
	t0=$(date +%s)
	DAYS=$DAYS ROWS_PER_DAY=$ROWS_PER_DAY SEED=$SEED LAST_DAY=$(date -u +%F) GEN_TZ=UTC MATVIEW=1 \
		bash "$ROOT/demo/load-data.sh"
	log "loaded in $(($(date +%s) - t0)) s"
	psql -X -q -c "CREATE EXTENSION nadia_bgw" -c "VACUUM ANALYZE interactions"
	touch "$BENCH_DIR/loaded-$DAYS-$ROWS_PER_DAY-$SEED"
fi

PSQL="psql -X -q -v ON_ERROR_STOP=1"
# ms SQL: server round trip time of one statement, from psql's \timing
ms() { psql -X -At -v ON_ERROR_STOP=1 -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "inf" }'; }
med() { printf '%s\n' "$@" | median; }
minimum() { printf '%s\n' "$@" | sort -n | head -n 1; }
# pct A B: the change from A to B in percent, signed
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f", (b - a) / a * 100 }'; }

# reset: the dashboard as the review's materialized view (kept under a second
# name for the CONCURRENTLY runs), and the rollup replacing the original
$PSQL >/dev/null <<'SQL'
SELECT nadia_bgw.drop_rollup(name) FROM nadia_bgw.rollup;
DROP MATERIALIZED VIEW IF EXISTS dashboard_daily_metrics;
DROP MATERIALIZED VIEW IF EXISTS dashboard_daily_metrics_mv;
SQL
sed "s/INTERVAL '90 days'/INTERVAL '$HORIZON_DAYS days'/" "$ROOT/demo/dashboard_matview.sql" | $PSQL
sed -e 's/dashboard_daily_metrics/dashboard_daily_metrics_mv/g' \
	-e "s/INTERVAL '90 days'/INTERVAL '$HORIZON_DAYS days'/" "$ROOT/demo/dashboard_matview.sql" | $PSQL
log "creating the dashboard rollup (replaces the materialized view)"
create_ms=$(ms "$(sed "s/'90 days'/'$HORIZON_DAYS days'/" "$ROOT/demo/dashboard_rollup.sql")")
$PSQL -c "SELECT nadia_bgw.refresh_rollup('dashboard_daily_metrics')" >/dev/null
rows=$(psql -X -At -c "SELECT count(*) FROM interactions")
size=$(psql -X -At -c "SELECT pg_size_pretty(pg_total_relation_size('interactions'))")

check() { psql -X -At -c "SELECT missing || ' missing / ' || extra || ' extra' FROM nadia_bgw.rollup_check('dashboard_daily_metrics')"; }

if part refresh; then
refresh_ms() { psql -X -At -c "SELECT nadia_bgw.refresh_rollup('dashboard_daily_metrics')" >/dev/null
	psql -X -At -c "SELECT round(last_refresh_ms::numeric, 3) FROM nadia_bgw.rollups WHERE name = 'public.dashboard_daily_metrics'"; }
# Interleaved rounds: each round times the floor, CONCURRENTLY and both
# rollup refreshes back to back, so a change in the machine's other load
# hits all of them alike; the ratios are taken per round, then the median.
# Seeds carry a per-run salt so a reused cluster gets new rows (new ids).
salt=$((RANDOM % 10000))
log "warm-up: one CONCURRENTLY (reads the whole horizon into the caches), not counted"
ms "REFRESH MATERIALIZED VIEW CONCURRENTLY dashboard_daily_metrics_mv" >/dev/null
floors=(); concs=(); hots=(); colds=(); r_hot=(); r_cold=(); r_floor=()
for k in $(seq 1 "$REFRESH_ROUNDS"); do
	log "refresh round $k of $REFRESH_ROUNDS: floor, CONCURRENTLY, 1,000 rows today, 1,000 rows over 10 old days"
	f=$(ms "SELECT DATE(created_at), COUNT(*), COUNT(DISTINCT user_id), AVG(quality_score),
    SUM(COALESCE(llm1_cost_usd, 0) + COALESCE(llm2_cost_usd, 0)),
    COUNT(*) FILTER (WHERE cta_data IS NOT NULL), COUNT(*) FILTER (WHERE quality_score >= 4)
  FROM interactions WHERE created_at >= current_date AND created_at < current_date + 1 GROUP BY 1")
	c=$(ms "REFRESH MATERIALIZED VIEW CONCURRENTLY dashboard_daily_metrics_mv")
	$PSQL -c "INSERT INTO interactions SELECT * FROM nadia_demo.rows($((SEED * 1000000 + salt * 100 + k)), 0, 1000, current_date, 'UTC')"
	h=$(refresh_ms)
	$PSQL -c "INSERT INTO interactions SELECT r.* FROM generate_series(1, 10) d,
	          LATERAL nadia_demo.rows($((SEED * 1000000 + salt * 100 + 50 + k)), d * 100, 100, current_date - d * 7, 'UTC') r"
	o=$(refresh_ms)
	floors+=("$f"); concs+=("$c"); hots+=("$h"); colds+=("$o")
	r_floor+=("$(ratio "$h" "$f")"); r_hot+=("$(ratio "$c" "$h")"); r_cold+=("$(ratio "$c" "$o")")
done
floor=$(med "${floors[@]}"); conc=$(med "${concs[@]}"); hot=$(med "${hots[@]}"); cold=$(med "${colds[@]}")
log "rollup refresh when nothing changed (20 runs)"
# one session, as the worker: plpgsql is compiled once
idle=$( (echo '\timing on'; for k in $(seq 1 20); do echo "SELECT nadia_bgw.refresh_rollup('dashboard_daily_metrics');"; done) |
	psql -X -At | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 19 | median)
exact=$(check)

cat <<REPORT

== Rollup refresh: $DAYS days x $ROWS_PER_DAY rows/day ($rows rows, $size), dashboard over the last $HORIZON_DAYS days, PostgreSQL $(psql -X -At -c "SHOW server_version")
create_rollup (fill + capture)                     $create_ms ms
floor: one day through the created_at index        $floor ms   (rounds: ${floors[*]})
REFRESH MATERIALIZED VIEW CONCURRENTLY             $conc ms   (rounds: ${concs[*]})
rollup, 1,000 new rows today                       $hot ms   (rounds: ${hots[*]})
    per round: x floor ${r_floor[*]}; x faster than CONCURRENTLY ${r_hot[*]}
    median: $(med "${r_floor[@]}") x floor, $(med "${r_hot[@]}") x faster than CONCURRENTLY
rollup, 1,000 rows over 10 old days                $cold ms   (rounds: ${colds[*]})
    per round: x faster than CONCURRENTLY ${r_cold[*]}
    median: $(ratio "$cold" "$floor") x floor, $(med "${r_cold[@]}") x faster than CONCURRENTLY
rollup, nothing changed (check only)               $idle ms   $(ratio "$conc" "$idle") x faster than CONCURRENTLY
rollup vs full query (EXCEPT both ways)            $exact
REPORT
fi

# --- writers: pgbench with the capture trigger disabled (the same table
# without capture) and enabled, alternating to cancel drift
trig=$(psql -X -At -c "SELECT tgname FROM pg_trigger WHERE tgrelid = 'interactions'::regclass
                        AND tgname LIKE 'zz_nadia_bgw_rollup_%' AND tgname NOT LIKE '%truncate'")
# capture TABLE TRIGGER DISABLE|"ENABLE ALWAYS": switch a rollup's capture off or on
capture() { $PSQL -c "ALTER TABLE $1 $3 TRIGGER $2" 2>/dev/null; }
# alternate ROUNDS TABLE TRIGGER CMD...: ROUNDS rounds of CMD with TABLE's
# capture TRIGGER disabled, then enabled (alternating cancels drift); CMD's
# outputs in the arrays off and on
alternate() {
	local rounds=$1 table=$2 trigger=$3 r
	shift 3
	off=(); on=()
	for r in $(seq 1 "$rounds"); do
		capture "$table" "$trigger" DISABLE; off+=("$("$@")")
		capture "$table" "$trigger" "ENABLE ALWAYS"; on+=("$("$@")")
	done
}
# each_writer CMD: CMD SCRIPT CLIENTS for each insert script at 1 and 8 clients
each_writer() {
	local script c
	for script in insert_hot insert_backfill; do
		for c in 1 8; do "$1" "$script" "$c"; done
	done
}
# the row labels of the comparisons that insert rows now or 1-80 days ago
back_label() { if [ "$1" = 0 ]; then echo 'rows now (hot)'; else echo 'rows 1-80 d ago'; fi; }
tps() { pgbench -n -T "$PGBENCH_SECONDS" -c "$2" -j "$2" -f "$ROOT/demo/pgbench/$1.sql" 2>/dev/null |
	sed -n 's/^tps = \([0-9.]*\) .*/\1/p'; }
if part writers; then
echo
echo "== Writers: pgbench single-row INSERT, ${PGBENCH_SECONDS}s runs, $ROUNDS alternating rounds (median TPS)"
writers_tps() { # writers_tps SCRIPT CLIENTS
	local moff mon
	alternate "$ROUNDS" interactions "$trig" tps "$1" "$2"
	moff=$(med "${off[@]}")
	mon=$(med "${on[@]}")
	printf '%-16s %d client(s): without capture %9.1f tps, with capture %9.1f tps  (%s%%)  runs off: %s  on: %s\n' \
		"$1" "$2" "$moff" "$mon" "$(pct "$moff" "$mon")" "${off[*]}" "${on[*]}"
}
each_writer writers_tps
$PSQL -c "SELECT nadia_bgw.refresh_rollup('dashboard_daily_metrics')" >/dev/null

# the same comparison measured as the writing backend's own CPU time per
# row (from /proc), which the other load of a shared machine disturbs less
# than TPS; n single-row INSERT transactions from a procedure
$PSQL -f "$ROOT/bench/rollup/writer_loop.sql"
cpu_loop() {
	printf '%s\n' "SELECT pg_backend_pid() AS pid \\gset" "\\setenv NPID :pid" \
		"\\! awk '{print \$14 + \$15}' /proc/\$NPID/stat" "CALL bench_writer_loop($1, $2);" \
		"\\! awk '{print \$14 + \$15}' /proc/\$NPID/stat" |
		psql -X -At | tr '\n' ' ' | awk -v n="$1" '{printf "%.1f\n", ($3 - $1) * 1000000 / 100 / n}'
}
echo

echo "== Writers: backend CPU per single-row INSERT transaction (us), 10,000 rows per run, $CPU_ROUNDS alternating rounds (min; median)"
for back in 0 80; do
	alternate "$CPU_ROUNDS" interactions "$trig" cpu_loop 10000 "$back"
	minoff=$(minimum "${off[@]}")
	minon=$(minimum "${on[@]}")
	moff=$(med "${off[@]}")
	mon=$(med "${on[@]}")
	printf '%-16s min: without %6.1f us, with %6.1f us (%s%%); median: without %6.1f, with %6.1f (%s%%)  runs off: %s  on: %s\n' \
		"$(back_label "$back")" "$minoff" "$minon" "$(pct "$minoff" "$minon")" "$moff" "$mon" \
		"$(pct "$moff" "$mon")" "${off[*]}" "${on[*]}"
done

fi

# --- writers, paired: capture on and off in the SAME pgbench run, so both
# see the same machine.  Two identical tables -- interactions, with the
# rollup's capture trigger, and interactions_twin, a copy (same rows,
# indexes and defaults) without any rollup -- and each transaction picks
# one of two scripts at random: the same INSERT into one or the other.
# (Capture fires ALWAYS, also under session_replication_role = replica,
# so the replica role cannot stand in for "no capture".)  pgbench reports
# each script's latency; in a closed loop a client's TPS is the inverse of
# its latency, so the TPS loss of capture is 1 - latency(off) /
# latency(on).  Repeated PAIRED_ROUNDS times, median.
if part paired; then
log "copying interactions into interactions_twin (the same table without a rollup)"
$PSQL >/dev/null <<'SQL'
DROP TABLE IF EXISTS interactions_twin;
CREATE TABLE interactions_twin (LIKE interactions INCLUDING ALL);
INSERT INTO interactions_twin SELECT * FROM interactions;
VACUUM ANALYZE interactions_twin;
SQL
for script in insert_hot insert_backfill; do
	cp "$ROOT/demo/pgbench/$script.sql" "$BENCH_DIR/${script}_on.sql"
	sed 's/public\.interactions$/public.interactions_twin/; s/public\.interactions /public.interactions_twin /' \
		"$ROOT/demo/pgbench/$script.sql" >"$BENCH_DIR/${script}_off.sql"
	grep -q interactions_twin "$BENCH_DIR/${script}_off.sql" || { echo "no twin in ${script}_off.sql"; exit 1; }
done
# one line per round: latency of script 1 (capture on), of script 2 (off)
paired_lat() {
	pgbench -n -T "$PGBENCH_SECONDS" -c "$2" -j "$2" -f "$BENCH_DIR/$1_on.sql" \
		-f "$BENCH_DIR/$1_off.sql" 2>/dev/null |
		awk '/^SQL script [12]:/ {s = $3} /^ - latency average/ && s {sub(":", "", s); lat[s] = $5}
		     END {print lat["1"], lat["2"]}'
}
echo
echo "== Writers, paired: interactions (capture) and interactions_twin (none) mixed 1:1 in one pgbench run, ${PGBENCH_SECONDS}s, $PAIRED_ROUNDS rounds"
writers_paired() { # writers_paired SCRIPT CLIENTS
	local losses=() lats=() r lon loff
	for r in $(seq 1 "$PAIRED_ROUNDS"); do
		read -r lon loff < <(paired_lat "$1" "$2")
		losses+=("$(awk -v on="$lon" -v off="$loff" 'BEGIN { printf "%.2f", (1 - off / on) * 100 }')")
		lats+=("$loff/$lon")
	done
	printf '%-16s %d client(s): TPS loss with capture, median %s%%  (rounds: %s; latency ms off/on: %s)\n' \
		"$1" "$2" "$(med "${losses[@]}")" "${losses[*]}" "${lats[*]}"
}
each_writer writers_paired
$PSQL -c "DROP TABLE interactions_twin" -c "SELECT nadia_bgw.refresh_rollup('dashboard_daily_metrics')" >/dev/null
echo "rollup vs full query after the paired runs: $(check)"
fi

if part probe; then
# the capture's own cost, isolated on a narrow unindexed table where
# nothing else hides it: 20,000 single-row transactions without waiting for
# the WAL flush (synchronous_commit = off), min of the rounds
$PSQL >/dev/null <<'SQL'
DROP TABLE IF EXISTS capture_probe CASCADE;
CREATE TABLE capture_probe (at timestamptz NOT NULL, v integer);
SELECT nadia_bgw.create_rollup(name => 'capture_probe_daily', source => 'capture_probe',
       time_column => 'at', bucket => '1 day', timezone => 'UTC', aggregates => ARRAY['count(*)']);
SELECT nadia_bgw.refresh_rollup('capture_probe_daily');
CREATE OR REPLACE PROCEDURE probe_loop(n integer, back integer, INOUT us_per_row double precision DEFAULT NULL)
LANGUAGE plpgsql AS $p$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
    FOR i IN 1 .. n LOOP
        INSERT INTO capture_probe VALUES (CASE WHEN back = 0 THEN now()
                                               ELSE current_date - (1 + i % back) END, i);
        COMMIT;
    END LOOP;
    us_per_row := extract(epoch FROM clock_timestamp() - t0) * 1000000 / n;
END $p$;
SQL
# probe_run BACK: us per row of 20,000 rows (BACK as in probe_loop)
probe_run() { PGOPTIONS="-c synchronous_commit=off" psql -X -At -c "CALL probe_loop(20000, $1)"; }
ptrig=$(psql -X -At -c "SELECT tgname FROM pg_trigger WHERE tgrelid = 'capture_probe'::regclass AND tgname NOT LIKE '%truncate'")
echo
echo "== Capture cost alone: narrow unindexed table, 20,000 single-row transactions, $CPU_ROUNDS rounds (min wall time per row)"
for back in 0 80; do
	alternate "$CPU_ROUNDS" capture_probe "$ptrig" probe_run "$back"
	minoff=$(minimum "${off[@]}")
	minon=$(minimum "${on[@]}")
	printf '%-16s without capture %6.2f us, with capture %6.2f us: capture costs %+.2f us per row\n' \
		"$(back_label "$back")" "$minoff" "$minon" \
		"$(awk -v a="$minoff" -v b="$minon" 'BEGIN { print b - a }')"
done
$PSQL -c "SELECT nadia_bgw.drop_rollup('capture_probe_daily')" -c "DROP TABLE capture_probe" >/dev/null
$PSQL -c "SELECT nadia_bgw.refresh_rollup('dashboard_daily_metrics')" >/dev/null

fi

# --- a refresh never blocks writers or dashboard readers
if part load; then
cat >"$BENCH_DIR/dash_read.sql" <<'SQL'
SELECT * FROM dashboard_daily_metrics ORDER BY date DESC LIMIT 30;
SQL
echo
echo "== Refresh under load: pgbench 8 clients (hot inserts 9:1 dashboard reads) while refresh_rollup() runs every 200 ms"
waits_file=$BENCH_DIR/lockwaits
: >"$waits_file"
(
	end=$((SECONDS + PGBENCH_SECONDS))
	while [ $SECONDS -lt $end ]; do
		psql -X -At -c "SELECT count(*) FROM pg_stat_activity
		                 WHERE application_name = 'pgbench' AND wait_event_type = 'Lock'" >>"$waits_file"
		sleep 0.1
	done
) &
sampler=$!
(
	end=$((SECONDS + PGBENCH_SECONDS))
	n=0
	while [ $SECONDS -lt $end ]; do
		psql -X -At -c "SELECT nadia_bgw.refresh_rollup('dashboard_daily_metrics')" >/dev/null
		n=$((n + 1))
		sleep 0.2
	done
	echo "$n" >"$BENCH_DIR/refreshes"
) &
refresher=$!
pgbench -n -T "$PGBENCH_SECONDS" -c 8 -j 8 -f "$ROOT/demo/pgbench/insert_hot.sql@9" \
	-f "$BENCH_DIR/dash_read.sql@1" 2>/dev/null | grep -E '^(tps|latency average)'
wait $sampler $refresher
samples=$(wc -l <"$waits_file")
waiting=$(awk '{s += $1} END {print s + 0}' "$waits_file")
echo "refreshes during the run: $(cat "$BENCH_DIR/refreshes");" \
	"pg_stat_activity samples: $samples; pgbench backends seen waiting on a lock: $waiting"
$PSQL -c "SELECT nadia_bgw.refresh_rollup('dashboard_daily_metrics')" >/dev/null
echo "rollup vs full query after the run: $(check)"
fi
