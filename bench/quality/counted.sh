#!/usr/bin/env bash
# bench/quality/counted.sh -- the counted quality checks (issue 16) on a
# big table, side by side in one run: what a DBA's full count costs, what
# the worker's counted check costs, and what either costs the application.
#
#   bash bench/quality/counted.sh                    10M rows (~15 min on 2 cores)
#   ROWS=200000 SECONDS_PER_RUN=10 bash bench/quality/counted.sh      a quick run
#
# Data (bench/quality/rows.sql, load.sql): public.interactions as
# demo/schema.sql defines it (without its full-text GIN index unless
# FTS_INDEX=1), ROWS rows over 90 days loaded with COPY FREEZE, and
# public.users (USERS ids, those the demo's pgbench scripts draw from).
# Two constraints added NOT VALID, each with a known number of bad rows
# (the truth, counted from the generator's own predicates):
#   interactions_approved_scored  CHECK (review_status <> 'approved' OR
#                                 quality_score IS NOT NULL): about one
#                                 row in CHECK_EVERY violates it;
#   interactions_user_fk          FOREIGN KEY (user_id) REFERENCES users:
#                                 about one row in ORPHAN_EVERY is orphaned.
#
# Arms:
#  (a) naive: the counts a DBA runs, "SELECT count(*) ... WHERE NOT
#      (check)" and the anti-join, with the server's defaults (parallel
#      query included); time from psql's \timing, I/O (shared blocks hit
#      and read) from EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) run after it.
#  (b) worker: nadia_bgw's counted check, when this build has it
#      (nadia_bgw.quality_counts and nadia_bgw.quality_count_enabled);
#      else it says so and measures nothing.  Forced by ALTER SYSTEM +
#      reload + nadia_bgw.wake(): the window always open, the recount
#      interval at its least, once with the size threshold at its highest
#      (an exact count) and once at 1 MB (an estimate); the quality_counts
#      row of each constraint gives duration, pages_read, counted_rows
#      (against the truth), exactness and error bound.
#  (c) application: pgbench (demo/pgbench/user_history.sql @5 and
#      insert_hot.sql @3: per-user lookups and new messages on the big
#      table), CLIENTS clients, unthrottled, SECONDS_PER_RUN s per run: one
#      A/A pair (nothing, nothing) for the noise, then PAIRS rounds of
#      nothing / naive counts in a loop / control arms (EXTRA_ARMS) / the
#      worker counting (each mode of WORKER_MODES), alternating so that
#      drifting load on the shared machine hits all alike, the order
#      rotated one arm per round and reversed in even rounds.  Each run
#      starts after a CHECKPOINT.  During a worker run the worker must be
#      counting all along: the runs report the quality_counts rows that
#      ended within the window and the share of the window covered by a
#      count; the other runs report any count that overlapped them (should
#      be 0).  Each run also reports the main worker's CPU during it and
#      the seconds from its CHECKPOINT to its start.
#
# The worker runs in every arm with the same settings (nadia_bgw.interval =
# INTERVAL); only its counting is switched.  The load runs with wal_level =
# minimal (no WAL for the load), the measurements with replica.
#
# Knobs: ROWS (10000000), USERS (20000), CHECK_EVERY (2000), ORPHAN_EVERY
# (1000), CLIENTS (2), SECONDS_PER_RUN (30), PAIRS (3), INTERVAL (1),
# WORKER_MODES ("exact sampled": the modes of arms (b) and (c); "sampled"
# alone skips the exact count, minutes on 10M rows at the default duty
# cycle), WORKER_WAIT (s to wait for a count, 600),
# WORKER_SETTINGS (words NAME=VALUE given to the worker's arms on top of
# those above, e.g. "nadia_bgw.quality_count_duty_cycle=0.02"; empty),
# ALL_SETTINGS (words NAME=VALUE in every arm's configuration; empty),
# NAIVE_ARM (1; 0: no naive arm in (c)), EXTRA_ARMS (words, each a
# control arm of (c) with its leading space: " wait" sleeps WAIT_S (35)
# s after its CHECKPOINT, as a worker arm waits for its first counts;
# " snapshot" holds a REPEATABLE READ snapshot all along the run, as a
# count does, without reading the table),
# FTS_INDEX (0), DIR / PORT (/tmp/nadia_bench_quality, 5551), KEEP=1.
#
# MOCK_WORKER=1 tests this script's worker arm on a build without the
# counted checks: a psql loop stands in for the worker (settings
# bench_mock.quality_count_*, rows in a nadia_bgw.quality_counts table it
# creates, counts by plain SQL without parallel query).  Its figures are
# the mock's, not nadia_bgw's: the report says MOCK, never record them.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../regress/lib.sh"
. "$ROOT/bench/lib.sh"

bench_defaults ROWS=10000000 USERS=20000 CHECK_EVERY=2000 ORPHAN_EVERY=1000 CLIENTS=2 SECONDS_PER_RUN=30 \
	PAIRS=3 INTERVAL=1 "WORKER_MODES=exact sampled" WORKER_WAIT=600 FTS_INDEX=0 WORKER_SETTINGS= \
	ALL_SETTINGS= NAIVE_ARM=1 EXTRA_ARMS= WAIT_S=35 \
	DIR=/tmp/nadia_bench_quality PORT=5551
HERE=$ROOT/bench/quality
# the prefix of the counted checks' settings: the worker's, or the mock's
GP=nadia_bgw
[ -z "${MOCK_WORKER:-}" ] || GP=bench_mock
# the generator's predicates of row number g, also used to count the truth
VIOLATES="hashint8(g) % $CHECK_EVERY = 0"
ORPHAN="hashint8(-g) % $ORPHAN_EVERY = 0"

ensure_packages $NADIA_BASE_PACKAGES
build

LOOP_PID= MOCK_PID=
stop() {
	[ -n "$LOOP_PID" ] && kill "$LOOP_PID" 2>/dev/null || true
	[ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null || true
	[ -n "${SNAP_PID:-}" ] && kill "$SNAP_PID" 2>/dev/null || true
	if [ -z "${KEEP:-}" ]; then
		bench_stop_cluster "$DIR"
		rm -rf "$DIR"
	fi
}
trap stop EXIT
bench_new_cluster "$DIR" "$PORT" nadia_bgw <<CONF
shared_buffers = 512MB
wal_level = minimal
max_wal_senders = 0
maintenance_work_mem = 1GB
max_parallel_maintenance_workers = 1
max_wal_size = 8GB
checkpoint_timeout = 30min
nadia_bgw.database = 'postgres'
nadia_bgw.interval = $INTERVAL
CONF
# ALL_SETTINGS: lines of every arm's configuration (see the header)
for pair in $ALL_SETTINGS; do
	echo "${pair%%=*} = '${pair#*=}'" >>"$DIR/data/postgresql.conf"
done
if [ -n "${MOCK_WORKER:-}" ]; then
	# the mock's settings exist from the start (as the worker's would)
	cat >>"$DIR/data/postgresql.conf" <<CONF
bench_mock.quality_count_enabled = 'off'
bench_mock.quality_count_interval = '10s'
bench_mock.quality_count_max_per_cycle = '2'
bench_mock.quality_count_exact_max_size = '100MB'
bench_mock.quality_count_timeout = '5min'
CONF
fi
export PGHOST=$DIR PGPORT=$PORT PGUSER=postgres PGDATABASE=postgres
Q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
secs() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(secs)" 'BEGIN { printf "%.0f", b - a }'; }
# ratio A B [DIGITS]: B / A
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { if (a == "" || b == "" || a == 0) print "n/a"; else printf "%.*f", d, b / a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---- load -------------------------------------------------------------
t=$(secs)
log "loading $ROWS rows into public.interactions (COPY FREEZE, wal_level minimal)"
# the demo's generator: its messages and answers, which rows.sql draws from
Q -f "$ROOT/demo/schema.sql" -f "$ROOT/demo/generator.sql"
MESSAGES=$(Q -c "SELECT array_agg(DISTINCT user_message ORDER BY user_message) FROM nadia_demo.rows(42, 0, 5000, current_date)")
ANSWERS=$(Q -c "SELECT array_agg(DISTINCT llm1_raw_response ORDER BY llm1_raw_response) FROM nadia_demo.rows(42, 0, 5000, current_date)")
Q -v rows="$ROWS" -v users="$USERS" -v violates="$VIOLATES" -v orphan="$ORPHAN" \
	-v messages="$MESSAGES" -v answers="$ANSWERS" -f "$HERE/rows.sql" |
	Q -v rows="$ROWS" -v users="$USERS" -v fts="$FTS_INDEX" -f "$HERE/load.sql" >/dev/null
LOAD_S=$(elapsed "$t")
log "loaded in $LOAD_S s; restarting with wal_level = replica"
printf 'wal_level = replica\nmax_wal_senders = 10\n' >>"$DIR/data/postgresql.conf"
bench_stop_cluster "$DIR"
bench_start_cluster "$DIR"
Q -c "CREATE EXTENSION nadia_bgw"
read -r TRUE_VIOL TRUE_ORPH < <(Q -F ' ' -c "SELECT count(*) FILTER (WHERE $VIOLATES), count(*) FILTER (WHERE $ORPHAN)
                                              FROM generate_series(1::bigint, $ROWS) g")
CHECK_OID=$(Q -c "SELECT oid FROM pg_constraint WHERE conname = 'interactions_approved_scored'")
FK_OID=$(Q -c "SELECT oid FROM pg_constraint WHERE conname = 'interactions_user_fk'")
read -r HEAP_MB TOTAL_MB HEAP_PAGES < <(Q -F ' ' -c "SELECT pg_relation_size('public.interactions') / 1048576,
        pg_total_relation_size('public.interactions') / 1048576, pg_relation_size('public.interactions') / 8192")
log "truth: $TRUE_VIOL rows violate the CHECK, $TRUE_ORPH are orphans; heap $HEAP_MB MB ($HEAP_PAGES pages), $TOTAL_MB MB with indexes"

# mock_worker: the MOCK_WORKER stand-in (see the header), in the background
mock_worker() {
	Q -c "CREATE TABLE nadia_bgw.quality_counts (id bigserial PRIMARY KEY, fact_id bigint, kind text, relid oid,
	        objid oid, started_at timestamptz, ended_at timestamptz, counted_rows bigint, count_exact boolean,
	        count_error_bound bigint, sample_percent real, pages_read bigint, outcome text, error text)"
	(
		export PGAPPNAME=bench_mock_worker PGOPTIONS="-c max_parallel_workers_per_gather=0"
		local on exact ival oid q id n pct
		while :; do
			read -r on exact ival < <(Q -F ' ' -c "SELECT current_setting('bench_mock.quality_count_enabled'),
			        pg_relation_size('public.interactions')
			          <= pg_size_bytes(current_setting('bench_mock.quality_count_exact_max_size')),
			        extract(epoch FROM current_setting('bench_mock.quality_count_interval')::interval)")
			if [ "$on" != on ]; then sleep 0.5; continue; fi
			for oid in "$CHECK_OID" "$FK_OID"; do
				pct=100 q="FROM public.interactions i"
				[ "$exact" = t ] || pct=1 q="FROM public.interactions i TABLESAMPLE SYSTEM (1)"
				if [ "$oid" = "$CHECK_OID" ]; then
					q="SELECT count(*) * 100 / $pct $q WHERE NOT (review_status <> 'approved' OR quality_score IS NOT NULL)"
				else
					q="SELECT count(*) * 100 / $pct $q WHERE NOT EXISTS (SELECT FROM public.users u WHERE u.user_id = i.user_id)"
				fi
				id=$(Q -c "INSERT INTO nadia_bgw.quality_counts (objid, relid, started_at, count_exact, sample_percent)
				           VALUES ($oid, 'public.interactions'::regclass, clock_timestamp(), '$exact', $pct) RETURNING id")
				n=$(Q -c "$q") || n=NULL
				Q -c "UPDATE nadia_bgw.quality_counts SET ended_at = clock_timestamp(), counted_rows = $n,
				        count_error_bound = CASE WHEN count_exact THEN 0 END, outcome = 'mock',
				        pages_read = pg_relation_size('public.interactions') / 8192 * $pct / 100 WHERE id = $id"
			done
			sleep "$ival"
		done
	) &
	MOCK_PID=$!
}
[ -z "${MOCK_WORKER:-}" ] || mock_worker

# the worker arm exists when this build has the counted checks
WORKER=$(Q -c "SELECT to_regclass('nadia_bgw.quality_counts') IS NOT NULL
                      AND current_setting('$GP.quality_count_enabled', true) IS NOT NULL")
QC_GUCS="nadia_bgw.maintenance_window $GP.quality_count_enabled $GP.quality_count_interval
	$GP.quality_count_max_per_cycle $GP.quality_count_exact_max_size $GP.quality_count_timeout"
for pair in $WORKER_SETTINGS; do QC_GUCS="$QC_GUCS ${pair%%=*}"; done
# one cycle, so that the catalog check records the two NOT VALID facts
Q -c "SELECT nadia_bgw.wake(wait => true, timeout_ms => 120000)" >/dev/null

# ---- (a) naive counts -------------------------------------------------
CHECK_Q="SELECT count(*) FROM public.interactions WHERE NOT (review_status <> 'approved' OR quality_score IS NOT NULL)"
FK_Q="SELECT count(*) FROM public.interactions i WHERE i.user_id IS NOT NULL
         AND NOT EXISTS (SELECT FROM public.users u WHERE u.user_id = i.user_id)"
# naive QUERY: prints "count ms explain_ms hit read workers": the query
# timed by psql, then its EXPLAIN (ANALYZE, BUFFERS, TIMING OFF)
naive() {
	local out n ms plan buf scan
	out=$(Q -c '\timing on' -c "$1")
	n=$(sed -n 1p <<<"$out")
	ms=$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' <<<"$out")
	plan=$(Q -c "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) $1")
	# the top node's buffers (a Gather adds its workers' to its own)
	buf=$(grep -m1 'Buffers: shared' <<<"$plan" || true)
	scan=$(grep -m1 -o '[A-Za-z ]*Scan\( using [a-z_]*\)\? on interactions' <<<"$plan" | sed 's/^ *//; s/ /_/g' || true)
	echo "$n $ms $(sed -n 's/^Execution Time: \([0-9.]*\) ms/\1/p' <<<"$plan")" \
		"$(sed -n 's/.* hit=\([0-9]*\).*/\1/p' <<<"$buf" | grep . || echo 0)" \
		"$(sed -n 's/.* read=\([0-9]*\).*/\1/p' <<<"$buf" | grep . || echo 0)" \
		"$(sed -n 's/.*Workers Launched: \([0-9]*\).*/\1/p' <<<"$plan" | head -1 | grep . || echo 0)" "${scan:--}"
}

# ---- (b) the worker's counted check -----------------------------------
# guc_value NAME INTENT: the value to give the worker's setting NAME for
# INTENT (on, off, least, most, small = 1 MB, big, or a literal), from its
# pg_settings row (type, unit, range): the bench is written before the
# settings are, so it adapts to their units.  Empty when NAME does not exist.
guc_value() {
	Q -v name="$1" -v intent="$2" <<'SQL'
SELECT CASE WHEN :'intent' NOT IN ('least', 'most', 'small', 'big') THEN :'intent'
            WHEN vartype IN ('integer', 'real') THEN
                 CASE :'intent'
                      WHEN 'least' THEN min_val
                      WHEN 'small' THEN CASE unit WHEN 'B' THEN '1048576' WHEN 'kB' THEN '1024'
                                                  WHEN '8kB' THEN '128' WHEN 'MB' THEN '1'
                                                  ELSE greatest(min_val::numeric, 1)::text END
                      ELSE max_val END
            ELSE CASE :'intent' WHEN 'least' THEN '1s' WHEN 'most' THEN '1h'
                                WHEN 'small' THEN '1MB' ELSE '1TB' END
       END
  FROM (SELECT) d LEFT JOIN pg_settings s ON s.name = :'name'
 WHERE current_setting(:'name', true) IS NOT NULL
SQL
}
# worker_set NAME=INTENT...: ALTER SYSTEM each (a missing setting is
# reported and left out), reload, wake the worker
worker_set() {
	local pair name value
	for pair in "$@"; do
		name=${pair%%=*}
		value=$(guc_value "$name" "${pair#*=}")
		if [ -z "$value" ]; then
			log "worker setting $name does not exist on this build: left out"
			continue
		fi
		Q -c "ALTER SYSTEM SET $name = '$value'"
		log "  $name = '$value'"
	done
	Q -c "SELECT pg_reload_conf()" >/dev/null
	sleep 0.5
	Q -c "SELECT nadia_bgw.wake()" >/dev/null
}
# worker_mode MODE: the worker counting in a loop, MODE exact or sampled
# (or default: the thresholds and timeout at their defaults)
worker_mode() {
	local extra=()
	case $1 in
	exact) extra=($GP.quality_count_exact_max_size=big $GP.quality_count_timeout=most) ;;
	sampled) extra=($GP.quality_count_exact_max_size=small) ;;
	esac
	# shellcheck disable=SC2086 # WORKER_SETTINGS: words NAME=VALUE
	worker_set nadia_bgw.maintenance_window=00:00-24:00 $GP.quality_count_enabled=on \
		$GP.quality_count_interval=least $GP.quality_count_max_per_cycle=most "${extra[@]}" $WORKER_SETTINGS
}
# worker_off: counting off, every setting back to its default, and wait
# until no count runs: no count worker, no open row, and no new row for
# longer than the longest count so far and two cycles
worker_off() {
	local name last quiet t0 now
	for name in $QC_GUCS; do
		if [ -n "$(guc_value "$name" x)" ]; then Q -c "ALTER SYSTEM RESET $name"; fi
	done
	Q -c "ALTER SYSTEM SET $GP.quality_count_enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
	quiet=$(Q -c "SELECT ceil(coalesce(max(extract(epoch FROM ended_at - started_at)), 0)) + 2 * $INTERVAL + 1
	                FROM nadia_bgw.quality_counts")
	last=$(Q -c "SELECT coalesce(max(id), 0) FROM nadia_bgw.quality_counts")
	t0=$(date +%s)
	while :; do
		sleep 1
		now=$(Q -c "SELECT coalesce(max(id), 0) || ':' || (count(*) FILTER (WHERE ended_at IS NULL)
		                   + (SELECT count(*) FROM pg_stat_activity
		                       WHERE backend_type LIKE 'nadia_bgw%count%'
		                          OR (application_name = 'bench_mock_worker' AND state = 'active')))
		              FROM nadia_bgw.quality_counts")
		if [ "$now" != "$last:0" ]; then
			last=${now%%:*}
			t0=$(date +%s)
		elif [ $(($(date +%s) - t0)) -ge "${quiet%.*}" ]; then
			break
		fi
	done
}
# worker_wait_counts AFTER_ID: wait until both constraints have a count
# row with id > AFTER_ID that ended; 1 if none came within WORKER_WAIT s
worker_wait_counts() {
	local t0
	t0=$(date +%s)
	until [ "$(Q -c "SELECT count(DISTINCT objid) FROM nadia_bgw.quality_counts
	                  WHERE id > $1 AND ended_at IS NOT NULL AND objid IN ($CHECK_OID, $FK_OID)")" = 2 ]; do
		if [ $(($(date +%s) - t0)) -ge "$WORKER_WAIT" ]; then
			return 1
		fi
		sleep 1
	done
}
last_count_id() { Q -c "SELECT coalesce(max(id), 0) FROM nadia_bgw.quality_counts"; }
# count_row AFTER_ID OID: "ms pages_read counted_rows exact error_bound
# sample_percent outcome" of the first count of OID after AFTER_ID
count_row() {
	Q -F ' ' -c "SELECT round(extract(epoch FROM ended_at - started_at) * 1000), coalesce(pages_read::text, '-'),
	                    coalesce(counted_rows::text, '-'), coalesce(count_exact::text, '-'),
	                    coalesce(count_error_bound::text, '-'), coalesce(sample_percent::text, '-'),
	                    coalesce(replace(outcome, ' ', '_'), '-')
	               FROM nadia_bgw.quality_counts WHERE id > $1 AND objid = $2 AND ended_at IS NOT NULL
	              ORDER BY id LIMIT 1"
}

# no count of the worker's before its own arm (its default may be on,
# its window any time)
[ "$WORKER" != t ] || worker_off
log "(a) naive counts"
read -r NV_N NV_MS NV_XMS NV_HIT NV_READ NV_W NV_SCAN < <(naive "$CHECK_Q")
read -r NF_N NF_MS NF_XMS NF_HIT NF_READ NF_W NF_SCAN < <(naive "$FK_Q")
BAD=
[ "$NV_N" = "$TRUE_VIOL" ] || BAD="$BAD naive CHECK count $NV_N != truth $TRUE_VIOL;"
[ "$NF_N" = "$TRUE_ORPH" ] || BAD="$BAD naive orphan count $NF_N != truth $TRUE_ORPH;"

declare -A WK=()
if [ "$WORKER" = t ]; then
	log "(b) the worker's counted checks, alone ($WORKER_MODES)"
	for mode in $WORKER_MODES; do
		worker_off
		after=$(last_count_id)
		worker_mode "$mode" >/dev/null
		if worker_wait_counts "$after"; then
			WK[$mode.check]=$(count_row "$after" "$CHECK_OID")
			WK[$mode.fk]=$(count_row "$after" "$FK_OID")
		else
			WK[$mode.check]="none"
			WK[$mode.fk]="none"
			BAD="$BAD worker ($mode) wrote no count of both constraints within $WORKER_WAIT s;"
		fi
	done
	worker_off
else
	echo "worker arm: not available on this build (no nadia_bgw.quality_counts / $GP.quality_count_enabled)"
fi

# ---- (c) the application's TPS ----------------------------------------
P=$ROOT/demo/pgbench
# pgbench_run: one run; sets RUN_TPS and RUN_LAT (mean latency, ms)
pgbench_run() {
	local out=$DIR/pgbench.out
	pgbench -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_PER_RUN" \
		-f "$P/user_history.sql@5" -f "$P/insert_hot.sql@3" >"$out" 2>&1 || { cat "$out"; exit 1; }
	RUN_TPS=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out" | head -1)
	RUN_LAT=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$out")
}
now_ts() { Q -c "SELECT clock_timestamp()"; }
# naive_loop: the DBA's two counts back to back until stopped; each
# completed count appends a line to $DIR/naive_loop.log
naive_loop() {
	: >"$DIR/naive_loop.log"
	(
		while :; do
			PGAPPNAME=bench_naive_loop Q -c "$CHECK_Q" >/dev/null 2>&1 || break
			echo check >>"$DIR/naive_loop.log"
			PGAPPNAME=bench_naive_loop Q -c "$FK_Q" >/dev/null 2>&1 || break
			echo fk >>"$DIR/naive_loop.log"
		done
	) &
	LOOP_PID=$!
}
naive_loop_stop() {
	kill "$LOOP_PID" 2>/dev/null || true
	wait "$LOOP_PID" 2>/dev/null || true
	LOOP_PID=
	# the count in flight, and one whose psql was starting as the loop died
	while [ "$(Q -c "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity
	                  WHERE application_name = 'bench_naive_loop'")" != 0 ]; do
		sleep 0.5
	done
}
# what counts overlapped [T0, T1]: "ended_within covered_percent" (the
# share of the window during which a count of either constraint ran)
counts_in() {
	Q -F ' ' -c "WITH w AS (SELECT '$1'::timestamptz AS t0, '$2'::timestamptz AS t1),
	                  c AS (SELECT q.* FROM nadia_bgw.quality_counts q, w
	                         WHERE q.objid IN ($CHECK_OID, $FK_OID)
	                           AND q.started_at < w.t1 AND coalesce(q.ended_at, w.t1) > w.t0)
	             SELECT (SELECT count(*) FROM c, w WHERE c.ended_at BETWEEN w.t0 AND w.t1),
	                    round(100 * coalesce((SELECT sum(extract(epoch FROM upper(r) - lower(r)))
	                                            FROM unnest((SELECT range_agg(tstzrange(greatest(c.started_at, w.t0),
	                                                                                    least(coalesce(c.ended_at, w.t1), w.t1)))
	                                                           FROM c, w)) r), 0)
	                               / extract(epoch FROM w.t1 - w.t0), 1)
	               FROM w"
}
# worker_ticks: CPU time (clock ticks, utime + stime) of the main worker
# so far, "0" when it is not found (a mock, a build without it)
worker_ticks() {
	local pid
	pid=$(Q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'nadia_bgw worker' LIMIT 1")
	if [ -n "$pid" ] && [ -r "/proc/$pid/stat" ]; then
		awk '{ print $14 + $15 }' "/proc/$pid/stat"
	else
		echo 0
	fi
}
HZ=$(getconf CLK_TCK)
# arm NAME: one pgbench run with NAME going on; records TPS, latency and
# the window; prints a line
declare -A TPS=() LAT=() WIN=() NOTE=() COV=() WCPU=() SETTLE=()
PARTIAL=
SNAP_PID=
arm() {
	local name=$1 key=$1.$2 t0 t1 c0 c1 k0
	Q -c "CHECKPOINT"
	k0=$(secs)
	case $name in
	naive) naive_loop; sleep 1 ;;
	wait) sleep "$WAIT_S" ;;
	snapshot)
		# a REPEATABLE READ snapshot held all along the run, reading nothing
		# else: what a count's one snapshot holds back, without its reads
		PGAPPNAME=bench_snapshot Q -c "BEGIN ISOLATION LEVEL REPEATABLE READ" \
			-c "SELECT count(*) FROM public.users" -c "SELECT pg_sleep(100000)" >/dev/null 2>&1 &
		SNAP_PID=$!
		sleep 1
		;;
	worker-*)
		after=$(last_count_id)
		worker_mode "${name#worker-}" >/dev/null
		# counting has begun: one count of each constraint ended
		worker_wait_counts "$after" || BAD="$BAD $name: no count within $WORKER_WAIT s;"
		;;
	esac
	# seconds from the CHECKPOINT to the run (a worker arm waits for its
	# first counts; the wait arm mimics that)
	SETTLE[$key]=$(elapsed "$k0")
	t0=$(now_ts)
	c0=$(worker_ticks)
	pgbench_run
	c1=$(worker_ticks)
	t1=$(now_ts)
	# the main worker's share of one core during the run (its cycles, not
	# the count worker's): the arms should differ only by the count
	WCPU[$key]=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v s="$SECONDS_PER_RUN" 'BEGIN { printf "%.1f", 100 * (b - a) / hz / s }')
	case $name in
	naive)
		naive_loop_stop
		NOTE[$key]="naive counts completed: $(grep -c . "$DIR/naive_loop.log" || true)"
		;;
	worker-*) worker_off ;;
	snapshot)
		Q -c "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE application_name = 'bench_snapshot'" >/dev/null
		wait "$SNAP_PID" 2>/dev/null || true
		;;
	esac
	TPS[$key]=$RUN_TPS LAT[$key]=$RUN_LAT WIN[$key]="$t0|$t1"
	log "$key: $RUN_TPS TPS, latency $RUN_LAT ms, main worker ${WCPU[$key]} % of a core, ${SETTLE[$key]} s after its CHECKPOINT ${NOTE[$key]:-}"
}
ARMS="none"
[ "$NAIVE_ARM" = 0 ] || ARMS="$ARMS naive"
ARMS="$ARMS$EXTRA_ARMS"
if [ "$WORKER" = t ]; then
	for m in $WORKER_MODES; do ARMS="$ARMS worker-$m"; done
fi
# Round i runs the arms rotated by i - 1, and in even rounds in reverse
# order (none naive worker, worker none naive, worker none naive reversed
# ...): a rotation alone keeps the cycle, so each arm kept following the
# same one (runs 5 and 6: the worker arm followed the naive loop in 6
# rounds of 8); reversing every other round gives each arm different
# predecessors.  Runs 1-4 ran them in one fixed order.
log "(c) pgbench: A/A pair, then $PAIRS rounds of: $ARMS, rotated one arm per round, even rounds reversed"
arm none 0
read -r -a ARM_LIST <<<"$ARMS"
for ((i = 1; i <= PAIRS; i++)); do
	order=()
	for ((k = 0; k < ${#ARM_LIST[@]}; k++)); do
		order+=("${ARM_LIST[(k + i - 1) % ${#ARM_LIST[@]}]}")
	done
	for ((k = 0; k < ${#order[@]}; k++)); do
		if ((i % 2 == 0)); then
			arm "${order[${#order[@]} - 1 - k]}" "$i"
		else
			arm "${order[k]}" "$i"
		fi
	done
done
# worker counts seen in each window (after the fact, so a count that
# overlapped a "none" or "naive" run is seen too)
if [ "$WORKER" = t ]; then
	for key in "${!WIN[@]}"; do
		read -r ended cov < <(counts_in "${WIN[$key]%%|*}" "${WIN[$key]##*|}")
		COV[$key]=$cov
		case $key in
		worker-*)
			if awk -v c="$cov" 'BEGIN { exit !(c < 90) }'; then
				PARTIAL="$PARTIAL $key ($cov %)"
			fi
			;;
		*)
			[ "$ended:$cov" = "0:0.0" ] || BAD="$BAD $key: a worker count overlapped this run;"
			;;
		esac
		NOTE[$key]="${NOTE[$key]:+${NOTE[$key]}; }worker counts ended in the window: $ended, window covered by a count: $cov %"
	done
fi

# ---- report -----------------------------------------------------------
per_arm() { # per_arm ARM: the TPS of rounds 1..PAIRS
	local i out=()
	for ((i = 1; i <= PAIRS; i++)); do out+=("${TPS[$1.$i]}"); done
	echo "${out[*]}"
}
pair_ratios() { # pair_ratios ARM: TPS(ARM) / TPS(none) per round
	local i out=()
	for ((i = 1; i <= PAIRS; i++)); do out+=("$(ratio "${TPS[none.$i]}" "${TPS[$1.$i]}" 3)"); done
	echo "${out[*]}"
}
[ -z "${MOCK_WORKER:-}" ] || printf '\n*** MOCK_WORKER: the "worker" below is a psql loop testing this script, NOT nadia_bgw ***\n'
cat <<REPORT

nadia_bgw counted quality checks benchmark: $(Q -c "SHOW server_version"), public.interactions $ROWS rows
(heap $HEAP_MB MB = $HEAP_PAGES pages, $TOTAL_MB MB with indexes; loaded in $LOAD_S s), shared_buffers $(Q -c "SHOW shared_buffers")
every arm's settings: nadia_bgw.interval = $INTERVAL ${ALL_SETTINGS:+, $ALL_SETTINGS}; worker arms' extra settings: ${WORKER_SETTINGS:-none}
truth: $TRUE_VIOL rows violate interactions_approved_scored, $TRUE_ORPH rows orphaned by interactions_user_fk

(a) naive counts (psql \\timing; I/O of the EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) run after it):

| count | result | time (ms) | EXPLAIN time (ms) | shared hit | shared read | parallel workers | scan of interactions |
|---|---|---|---|---|---|---|---|
| CHECK: count(*) WHERE NOT (check) | $NV_N | $NV_MS | $NV_XMS | $NV_HIT | $NV_READ | $NV_W | ${NV_SCAN//_/ } |
| FK: anti-join NOT EXISTS | $NF_N | $NF_MS | $NF_XMS | $NF_HIT | $NF_READ | $NF_W | ${NF_SCAN//_/ } |
REPORT

echo
if [ "$WORKER" = t ]; then
	echo "(b) the worker's counted check, alone (one count per constraint and mode):"
	echo
	echo "| mode | constraint | duration (ms) | pages_read | counted_rows | truth | exact | error bound | sample % | outcome | time / naive | pages / naive |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	for mode in $WORKER_MODES; do
		for c in check fk; do
			if [ "${WK[$mode.$c]}" = none ]; then
				echo "| $mode | $c | no count | | | | | | | | | |"
				continue
			fi
			read -r ms pages n exact bound pct outcome <<<"${WK[$mode.$c]}"
			if [ $c = check ]; then truth=$TRUE_VIOL nms=$NV_MS npages=$((NV_HIT + NV_READ)); else truth=$TRUE_ORPH nms=$NF_MS npages=$((NF_HIT + NF_READ)); fi
			echo "| $mode | $c | $ms | $pages | $n | $truth | $exact | $bound | $pct | $outcome | $(ratio "$nms" "$ms") | $(ratio "$npages" "$pages") |"
		done
	done
else
	echo "(b) worker arm: not available on this build -- not measured"
fi

med_none=$(median $(per_arm none))
cat <<REPORT

(c) application TPS: pgbench user_history@5 + insert_hot@3, $CLIENTS clients, ${SECONDS_PER_RUN} s runs, unthrottled

A/A pair (nothing vs nothing): ${TPS[none.0]} vs ${TPS[none.1]} TPS = $(ratio "${TPS[none.0]}" "${TPS[none.1]}" 3)

| arm | TPS per round | median TPS | ratio of medians | median of per-round ratios | per-round ratios | mean latency per round (ms) | % of window with a worker count running, per round | main worker's % of a core, per round | s from CHECKPOINT to run, per round |
|---|---|---|---|---|---|---|---|---|---|
REPORT
for a in $ARMS; do
	lats=() covs=() cpus=() sets=()
	for ((i = 1; i <= PAIRS; i++)); do lats+=("${LAT[$a.$i]}") covs+=("${COV[$a.$i]:--}") cpus+=("${WCPU[$a.$i]}") sets+=("${SETTLE[$a.$i]}"); done
	if [ "$a" = none ]; then
		echo "| $a | $(per_arm "$a") | $med_none | 1 | | | ${lats[*]} | ${covs[*]} | ${cpus[*]} | ${sets[*]} |"
	else
		echo "| $a | $(per_arm "$a") | $(median $(per_arm "$a")) | $(ratio "$med_none" "$(median $(per_arm "$a"))" 3) | $(median $(pair_ratios "$a")) | $(pair_ratios "$a") | ${lats[*]} | ${covs[*]} | ${cpus[*]} | ${sets[*]} |"
	fi
done
echo
for key in $(printf '%s\n' "${!NOTE[@]}" | sort -t. -k2n -k1); do
	echo "  $key: ${NOTE[$key]}"
done
[ "$WORKER" = t ] || echo "  worker arms: not available on this build -- the worker's TPS ratio is not measured"
if [ -n "$PARTIAL" ]; then
	# the worker pauses between counts (a cycle, the count worker's start):
	# short counts leave much of a window without one
	echo "  NOTE: a worker count ran during less than 90 % of these windows:$PARTIAL; their TPS ratio is that of"
	echo "  the worker counting as often as it can, not of a count running all along (loss per % counting = (1 - ratio) / share)"
fi
jobs=$(Q -c "SELECT count(*) FROM nadia_bgw.maintenance_history" 2>/dev/null || echo '?')
echo "  nadia_bgw maintenance jobs during the bench: $jobs; autovacuum runs on interactions:" \
	"$(Q -c "SELECT autovacuum_count || ' vacuum, ' || autoanalyze_count || ' analyze' FROM pg_stat_user_tables WHERE relname = 'interactions'")"
if [ -n "$BAD" ]; then
	echo
	echo "FAILED:$BAD"
	exit 1
fi
