#!/usr/bin/env bash
# bench/maintenance/run.sh -- dead tuples, table growth and TPS of an
# UPDATE-heavy pgbench workload on the demo "interactions" table, with
# autovacuum's defaults alone and with nadia_bgw's maintenance scheduler on
# top of them, side by side in one run on one throwaway cluster.
#
#   bash bench/maintenance/run.sh                  10 minutes per configuration (the figure of record, ~30 min in all)
#   SCALE=small bash bench/maintenance/run.sh      2 minutes per configuration (~15 min in all)
#
# The small variant is scaled down in time only (part 1 runs 2 minutes; part
# 2 is the same as the full variant's): the same 300,000-row table.
# On a smaller table (DAYS=10: 100,000 rows) a run of one or two minutes
# mostly measures what both configurations share: in its first seconds a
# freshly packed table grows by the same few hundred pages with either,
# before any scheduler can act (docs/benchmarks.md, "Maintenance").
#
# Part 1 (dead tuples, growth): each configuration runs DURATION s at the
# same fixed rate (pgbench -R RATE), so both face the same number of dead
# tuples per second; a faster configuration would otherwise make more
# garbage and be judged on a harder workload.  Part 2 (throughput): PAIRS
# unthrottled runs of TPS_DURATION s of each configuration, alternating
# (off, on, off, on, ...) so that drifting load on a shared machine hits
# both alike; the ratio of the medians is reported.
#
# Every run uses the same cluster, a fresh copy of one template database,
# the same pgbench script and client count, and nadia_bgw preloaded with
# the same sampling interval; the only difference is
# nadia_bgw.maintenance_enabled (off: autovacuum alone).  Autovacuum keeps
# its defaults in both.  The poller of part 1 runs one short autocommit
# statement a second (it never holds a snapshot back) and records in
# dead-MODE.log the diagnostics of DIAG_SQL below.
#
# Knobs: SCALE (full|small), DURATION, RATE, TPS_DURATION, PAIRS, DAYS,
# ROWS_PER_DAY, CLIENTS, INTERVAL (nadia_bgw.interval), EXTRA_CONF (lines
# appended to postgresql.conf), PART2_ONLY=1, ONLY=on|off (part 1 of one configuration,
# with its jobs and index sizes: for investigating), BENCH_DIR, BENCH_PORT
# (default 5541), BENCH_KEEP=1.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../regress/lib.sh"
. "$ROOT/bench/lib.sh"

bench_defaults SCALE=full
# the small variant is shorter in part 1 only: the same table, the same part 2
if [ "$SCALE" = small ]; then
	bench_defaults DURATION=120
fi
bench_defaults DURATION=600 TPS_DURATION=60 DAYS=30 ROWS_PER_DAY=10000 CLIENTS=2 RATE=800 PAIRS=3 \
	INTERVAL=5 BENCH_DIR=/tmp/nadia_bench_maint BENCH_PORT=5541
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

ensure_packages $NADIA_BASE_PACKAGES
build
export PGHOST=$BENCH_DIR PGPORT=$BENCH_PORT PGUSER=postgres

stop_cluster() {
	[ -n "${SAMPLER_PID:-}" ] && kill "$SAMPLER_PID" 2>/dev/null || true
	if [ -z "${BENCH_KEEP:-}" ]; then
		bench_stop_cluster "$BENCH_DIR"
		rm -rf "$BENCH_DIR"
	fi
}

bench_new_cluster "$BENCH_DIR" "$BENCH_PORT" nadia_bgw <<CONF
shared_buffers = 256MB
max_wal_size = 4GB
nadia_bgw.database = 'postgres'
nadia_bgw.interval = $INTERVAL
nadia_bgw.maintenance_enabled = off
${EXTRA_CONF:-}
CONF
trap stop_cluster EXIT
PSQL="$BINDIR/psql -X -q -v ON_ERROR_STOP=1"

log "loading $DAYS days x $ROWS_PER_DAY interactions into the template"
$PSQL -d postgres -c "CREATE DATABASE bench_template"
DAYS=$DAYS ROWS_PER_DAY=$ROWS_PER_DAY SEED=42 MATVIEW=0 \
	PSQL="$BINDIR/psql -X -v ON_ERROR_STOP=1 -d bench_template" PGDATABASE=bench_template \
	bash "$ROOT/demo/load-data.sh"
$PSQL -d bench_template -c "VACUUM ANALYZE public.interactions"
$PSQL -d bench_template -c "CREATE EXTENSION nadia_bgw" -c "CREATE EXTENSION pgstattuple"
ROWS=$($PSQL -d bench_template -At -c "SELECT count(*) FROM public.interactions")
USERS=$($PSQL -d bench_template -At -c "SELECT max(user_id) - min(user_id) + 1 FROM public.interactions")
UID0=$($PSQL -d bench_template -At -c "SELECT min(user_id) FROM public.interactions")

# What the poller records every second (one short autocommit statement, so
# it never holds a snapshot back): time, n_dead_tup of interactions, the
# phase of a VACUUM running on it (ours or autovacuum's) with its heap
# progress and index passes, the GIN full-text index's pending list and
# size, the table's size, and the oldest xmin held by any other backend
# (age and backend type), which would keep VACUUM from removing anything.
DIAG_SQL="SELECT to_char(clock_timestamp(), 'HH24:MI:SS'), s.n_dead_tup,
       COALESCE(replace(v.phase, ' ', '_') || ':' || replace(a.backend_type, ' ', '_')
                || ':' || v.heap_blks_scanned || '/' || v.heap_blks_total
                || ':ix' || v.index_vacuum_count, '-'),
       g.pending_pages, pg_relation_size('public.idx_interactions_user_message_fts') / 8192,
       pg_table_size('public.interactions') / 8192,
       COALESCE((SELECT age(x.backend_xmin) || ':' || replace(x.backend_type, ' ', '_')
                   FROM pg_stat_activity x
                  WHERE x.pid <> pg_backend_pid() AND x.backend_xmin IS NOT NULL
                    AND x.backend_type NOT IN ('autovacuum worker', 'parallel worker')
                    AND x.query NOT LIKE 'VACUUM%'
                  ORDER BY age(x.backend_xmin) DESC LIMIT 1), '-')
  FROM pg_stat_user_tables s
  LEFT JOIN pg_stat_progress_vacuum v ON v.relid = s.relid
  LEFT JOIN pg_stat_activity a ON a.pid = v.pid
  CROSS JOIN pgstatginindex('public.idx_interactions_user_message_fts') g
 WHERE s.relid = 'public.interactions'::regclass"

# set_mode MODE [DB]: a fresh copy DB (default bench_MODE) of the template,
# served by the worker, with maintenance on or off (the worker's database
# is a restart setting)
set_mode() {
	local mode=$1 db=${2:-bench_$1}
	$PSQL -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
	$PSQL -d postgres -c "CREATE DATABASE $db TEMPLATE bench_template"
	as_user "$BINDIR/pg_ctl" -D "$BENCH_DIR/data" -m fast -w stop >/dev/null
	sed -i -e "s/^nadia_bgw.maintenance_enabled = .*/nadia_bgw.maintenance_enabled = $mode/" \
		-e "s/^nadia_bgw.database = .*/nadia_bgw.database = '$db'/" \
		"$BENCH_DIR/data/postgresql.conf"
	bench_start_cluster "$BENCH_DIR"
	$PSQL -d "$db" -c "CHECKPOINT"
}

# pgbench DB SECONDS [RATE]: the workload; prints its TPS
pgbench_run() {
	local db=$1 secs=$2 rate=${3:-} out=$BENCH_DIR/pgbench-$1.log
	as_user env PGHOST="$BENCH_DIR" PGPORT="$BENCH_PORT" "$BINDIR/pgbench" -n -d "$db" -U postgres \
		-c "$CLIENTS" -j "$CLIENTS" -T "$secs" ${rate:+-R "$rate"} \
		-D uid0="$UID0" -D users="$USERS" \
		-f "$HERE/update_interactions.sql" >"$out" 2>&1
	sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out" | head -1
}

# run MODE: pgbench at RATE for DURATION s on a fresh copy while a poller
# records n_dead_tup (and the diagnostics) every second; prints
# "tps peak_dead size_before size_after jobs"
run() {
	local mode=$1 poll=$BENCH_DIR/dead-$1.log
	local size0 size1 tps peak jobs idx0 idx1
	set_mode "$mode"
	size0=$($PSQL -d "bench_$mode" -At -c "SELECT pg_table_size('public.interactions')")
	: >"$poll"
	(
		while sleep 1; do
			$PSQL -d "bench_$mode" -At -F ' ' -c "$DIAG_SQL" >>"$poll" 2>/dev/null || true
		done
	) &
	SAMPLER_PID=$!
	tps=$(pgbench_run "bench_$mode" "$DURATION" "$RATE")
	kill "$SAMPLER_PID" 2>/dev/null || true
	wait "$SAMPLER_PID" 2>/dev/null || true
	SAMPLER_PID=
	peak=$(awk '{ print $2 }' "$poll" | sort -n | tail -1)
	size1=$($PSQL -d "bench_$mode" -At -c "SELECT pg_table_size('public.interactions')")
	jobs=$($PSQL -d "bench_$mode" -At -c "SELECT count(*) FILTER (WHERE outcome = 'done') || '/' || count(*)
	                                FROM nadia_bgw.maintenance_history WHERE relname = 'interactions'")
	idx0=$($PSQL -d bench_template -At -c "SELECT pg_indexes_size('public.interactions')")
	idx1=$($PSQL -d "bench_$mode" -At -c "SELECT pg_indexes_size('public.interactions')")
	echo "$tps $peak $size0 $size1 $jobs $idx0 $idx1"
}

if [ -n "${ONLY:-}" ]; then
	# one mode only (investigating): its figures, its jobs, the poller's log
	log "only $ONLY, $DURATION s at ${RATE:-unlimited} TPS, $CLIENTS clients"
	run "$ONLY"
	$PSQL -d "bench_$ONLY" -c "SELECT id, action, outcome, started_at::time(0), duration, cost_limit,
	        dead_tuples_before, dead_tuples_after, error FROM nadia_bgw.maintenance_history
	        WHERE relname = 'interactions' ORDER BY id"
	$PSQL -d "bench_$ONLY" -c "SELECT autovacuum_count, vacuum_count, autoanalyze_count, analyze_count
	        FROM pg_stat_user_tables WHERE relname = 'interactions'"
	$PSQL -d "bench_$ONLY" -c "SELECT indexrelid::regclass, pg_relation_size(indexrelid) / 8192 AS pages
	        FROM pg_index WHERE indrelid = 'public.interactions'::regclass ORDER BY 1"
	cp "$BENCH_DIR/dead-$ONLY.log" "${ONLY_LOG:-/tmp/nadia_bench_maint_$ONLY.log}"
	echo "poller log: ${ONLY_LOG:-/tmp/nadia_bench_maint_$ONLY.log}"
	exit 0
fi

if [ -z "${PART2_ONLY:-}" ]; then
log "part 1: autovacuum defaults alone, $DURATION s at $RATE TPS, $CLIENTS clients"
read -r tps_a peak_a s0_a s1_a jobs_a i0_a i1_a < <(run off)
log "part 1: autovacuum defaults + nadia_bgw maintenance, $DURATION s at $RATE TPS, $CLIENTS clients"
read -r tps_b peak_b s0_b s1_b jobs_b i0_b i1_b < <(run on)
avruns_a=$($PSQL -d bench_off -At -c "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relname = 'interactions'")
avruns_b=$($PSQL -d bench_on -At -c "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relname = 'interactions'")
longest_b=$($PSQL -d bench_on -At -c "SELECT COALESCE(round(extract(epoch FROM max(duration))::numeric, 1), 0)
                                       FROM nadia_bgw.maintenance_history WHERE relname = 'interactions'")
limit_b=$($PSQL -d bench_on -At -c "SELECT COALESCE(max(cost_limit), 0)
                                     FROM nadia_bgw.maintenance_history WHERE relname = 'interactions'")
for db in bench_off bench_on; do $PSQL -d postgres -c "DROP DATABASE $db WITH (FORCE)"; done
fi

# part 2: throughput, unthrottled, alternating the two configurations
tps_off=() tps_on=() work_off=() work_on=()
for ((i = 1; i <= PAIRS; i++)); do
	for mode in off on; do
		log "part 2, pair $i/$PAIRS: maintenance $mode, $TPS_DURATION s unthrottled"
		set_mode "$mode" bench_tps
		t=$(pgbench_run bench_tps "$TPS_DURATION")
		# what vacuuming cost in this run: autovacuum's runs, our jobs
		w=$($PSQL -d bench_tps -At -c "SELECT s.autovacuum_count || ' autovacuum, '
		        || count(h.id) || ' jobs (' || COALESCE(round(extract(epoch FROM sum(h.duration))::numeric), 0)
		        || ' s, cost limit up to ' || COALESCE(max(h.cost_limit), 0) || ')'
		      FROM pg_stat_user_tables s LEFT JOIN nadia_bgw.maintenance_history h ON h.relid = s.relid
		     WHERE s.relname = 'interactions' GROUP BY s.autovacuum_count")
		if [ "$mode" = off ]; then tps_off+=("$t"); work_off+=("$w"); else tps_on+=("$t"); work_on+=("$w"); fi
	done
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
med_off=$(median "${tps_off[@]}")
med_on=$(median "${tps_on[@]}")

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
# ratio A B [DIGITS]: B / A; the TPS ratio has three digits, so that one
# just under its target does not round up to it
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { if (a == 0) print "n/a"; else printf "%.*f", d, b / a }'; }
cat <<REPORT

nadia_bgw maintenance benchmark ($SCALE): interactions $ROWS rows, $CLIENTS pgbench clients
(update_interactions.sql), nadia_bgw.interval = $INTERVAL s, autovacuum defaults in both.
REPORT

if [ -z "${PART2_ONLY:-}" ]; then
grow_a=$((s1_a - s0_a))
grow_b=$((s1_b - s0_b))
cat <<REPORT

Part 1: $DURATION s per configuration at a fixed $RATE TPS (same dead tuples per second):

| | autovacuum alone | + nadia_bgw maintenance | ratio |
|---|---|---|---|
| peak n_dead_tup | $peak_a | $peak_b | $(ratio "$peak_a" "$peak_b") |
| table growth (MB) | $(mb $grow_a) | $(mb $grow_b) | $(ratio "$grow_a" "$grow_b") |
| final table size (MB) | $(mb $s1_a) | $(mb $s1_b) | $(ratio "$s1_a" "$s1_b") |
| index growth (MB) | $(mb $((i1_a - i0_a))) | $(mb $((i1_b - i0_b))) | $(ratio "$((i1_a - i0_a))" "$((i1_b - i0_b))") |
| TPS achieved (target $RATE) | $tps_a | $tps_b | $(ratio "$tps_a" "$tps_b") |
| nadia_bgw jobs done/all | $jobs_a | $jobs_b | |
| autovacuum runs on interactions | $avruns_a | $avruns_b | |

longest nadia_bgw job: $longest_b s; highest cost limit reached: $limit_b
REPORT
fi

cat <<REPORT

Part 2: unthrottled TPS, $PAIRS alternating pairs of $TPS_DURATION s (autovacuum alone first):

| | autovacuum alone | + nadia_bgw maintenance | ratio of medians |
|---|---|---|---|
| TPS per run | ${tps_off[*]} | ${tps_on[*]} | |
| median TPS | $med_off | $med_on | $(ratio "$med_off" "$med_on" 3) |

vacuuming during each run, autovacuum alone: $(printf '%s; ' "${work_off[@]}")
vacuuming during each run, + nadia_bgw: $(printf '%s; ' "${work_on[@]}")
REPORT
