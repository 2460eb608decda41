#!/usr/bin/env bash
# bench/maintenance/run.sh -- dead tuples, table growth and TPS of an
# UPDATE-heavy pgbench workload on the demo "interactions" table, with
# autovacuum's defaults alone and with nadia_bgw's maintenance scheduler on
# top of them, side by side in one run on one throwaway cluster.
#
#   bash bench/maintenance/run.sh                  10 minutes per run (the figure of record)
#   SCALE=small bash bench/maintenance/run.sh      ~2 minutes in all (60 s per run)
#
# Both runs use the same cluster, the same freshly copied database (from a
# template loaded once), the same pgbench script and client count, and
# nadia_bgw preloaded with the same sampling interval; the only difference
# is nadia_bgw.maintenance_enabled (off: autovacuum alone).  Autovacuum
# keeps its defaults in both.
#
# Knobs: SCALE (full|small), DURATION (s per run), DAYS, ROWS_PER_DAY,
# CLIENTS, INTERVAL (nadia_bgw.interval), BENCH_DIR, BENCH_PORT (default
# 5541), BENCH_KEEP=1.  Run it with nice on a shared machine.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../regress/lib.sh"

SCALE=${SCALE:-full}
if [ "$SCALE" = small ]; then
	DURATION=${DURATION:-60}
	DAYS=${DAYS:-10}
	ROWS_PER_DAY=${ROWS_PER_DAY:-10000}
else
	DURATION=${DURATION:-600}
	DAYS=${DAYS:-30}
	ROWS_PER_DAY=${ROWS_PER_DAY:-10000}
fi
CLIENTS=${CLIENTS:-2}
INTERVAL=${INTERVAL:-5}
BENCH_DIR=${BENCH_DIR:-/tmp/nadia_bench_maint}
BENCH_PORT=${BENCH_PORT:-5541}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

ensure_packages $NADIA_BASE_PACKAGES
build
BINDIR=$BENCH_DIR/inst/usr/lib/postgresql/$PG_MAJOR/bin
export PGHOST=$BENCH_DIR PGPORT=$BENCH_PORT PGUSER=postgres
PSQL="$BINDIR/psql -X -q -v ON_ERROR_STOP=1"

stop_cluster() {
	[ -n "${SAMPLER_PID:-}" ] && kill "$SAMPLER_PID" 2>/dev/null || true
	if [ -z "${BENCH_KEEP:-}" ]; then
		as_user "$BINDIR/pg_ctl" -D "$BENCH_DIR/data" -m fast stop >/dev/null 2>&1 || true
		rm -rf "$BENCH_DIR"
	fi
}

if [ -f "$BENCH_DIR/data/postmaster.pid" ]; then
	as_user "$BINDIR/pg_ctl" -D "$BENCH_DIR/data" -m fast stop >/dev/null 2>&1 || true
fi
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
chmod 755 "$BENCH_DIR"
private_install "$BENCH_DIR/inst" >/dev/null
chown -R "$(run_user)" "$BENCH_DIR"
as_user "$BINDIR/initdb" -D "$BENCH_DIR/data" -A trust -U postgres >/dev/null
cat >>"$BENCH_DIR/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$BENCH_DIR'
port = $BENCH_PORT
shared_buffers = 256MB
max_wal_size = 4GB
shared_preload_libraries = 'nadia_bgw'
nadia_bgw.database = 'postgres'
nadia_bgw.interval = $INTERVAL
nadia_bgw.maintenance_enabled = off
CONF
as_user "$BINDIR/pg_ctl" -D "$BENCH_DIR/data" -l "$BENCH_DIR/server.log" -w start >/dev/null
trap stop_cluster EXIT

log "loading $DAYS days x $ROWS_PER_DAY interactions into the template"
$PSQL -d postgres -c "CREATE DATABASE bench_template"
DAYS=$DAYS ROWS_PER_DAY=$ROWS_PER_DAY SEED=42 MATVIEW=0 \
	PSQL="$BINDIR/psql -X -v ON_ERROR_STOP=1 -d bench_template" PGDATABASE=bench_template \
	bash "$ROOT/demo/load-data.sh"
$PSQL -d bench_template -c "VACUUM ANALYZE public.interactions"
$PSQL -d bench_template -c "CREATE EXTENSION nadia_bgw"
ROWS=$($PSQL -d bench_template -At -c "SELECT count(*) FROM public.interactions")
USERS=$($PSQL -d bench_template -At -c "SELECT max(user_id) - min(user_id) + 1 FROM public.interactions")
UID0=$($PSQL -d bench_template -At -c "SELECT min(user_id) FROM public.interactions")

# set_mode MODE: a fresh copy of the template, served by the worker, with
# maintenance on or off (the worker's database is a restart setting)
set_mode() {
	local mode=$1
	$PSQL -d postgres -c "DROP DATABASE IF EXISTS bench_$mode WITH (FORCE)"
	$PSQL -d postgres -c "CREATE DATABASE bench_$mode TEMPLATE bench_template"
	as_user "$BINDIR/pg_ctl" -D "$BENCH_DIR/data" -m fast -w stop >/dev/null
	sed -i -e "s/^nadia_bgw.maintenance_enabled = .*/nadia_bgw.maintenance_enabled = $mode/" \
		-e "s/^nadia_bgw.database = .*/nadia_bgw.database = 'bench_$mode'/" \
		"$BENCH_DIR/data/postgresql.conf"
	as_user "$BINDIR/pg_ctl" -D "$BENCH_DIR/data" -l "$BENCH_DIR/server.log" -w start >/dev/null
	$PSQL -d "bench_$mode" -c "CHECKPOINT"
}

# run MODE: pgbench for DURATION s while a poller records n_dead_tup every
# second; prints "tps peak_dead size_before size_after jobs"
run() {
	local mode=$1 out=$BENCH_DIR/pgbench-$1.log poll=$BENCH_DIR/dead-$1.log
	local size0 size1 tps peak jobs
	set_mode "$mode"
	size0=$($PSQL -d "bench_$mode" -At -c "SELECT pg_table_size('public.interactions')")
	: >"$poll"
	(
		while sleep 1; do
			$PSQL -d "bench_$mode" -At -c "SELECT n_dead_tup FROM pg_stat_user_tables
			                        WHERE relid = 'public.interactions'::regclass" >>"$poll" 2>/dev/null || true
		done
	) &
	SAMPLER_PID=$!
	as_user env PGHOST="$BENCH_DIR" PGPORT="$BENCH_PORT" "$BINDIR/pgbench" -n -d "bench_$mode" -U postgres \
		-c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" \
		-D uid0="$UID0" -D users="$USERS" \
		-f "$HERE/update_interactions.sql" >"$out" 2>&1
	kill "$SAMPLER_PID" 2>/dev/null || true
	wait "$SAMPLER_PID" 2>/dev/null || true
	SAMPLER_PID=
	tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out" | head -1)
	peak=$(sort -n "$poll" | tail -1)
	size1=$($PSQL -d "bench_$mode" -At -c "SELECT pg_table_size('public.interactions')")
	jobs=$($PSQL -d "bench_$mode" -At -c "SELECT count(*) FILTER (WHERE outcome = 'done') || '/' || count(*)
	                                FROM nadia_bgw.maintenance_history WHERE relname = 'interactions'")
	echo "$tps $peak $size0 $size1 $jobs"
}

log "run 1/2: autovacuum defaults alone, $DURATION s, $CLIENTS clients"
read -r tps_a peak_a s0_a s1_a jobs_a < <(run off)
log "run 2/2: autovacuum defaults + nadia_bgw maintenance, $DURATION s, $CLIENTS clients"
read -r tps_b peak_b s0_b s1_b jobs_b < <(run on)
avruns_a=$($PSQL -d bench_off -At -c "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relname = 'interactions'")
avruns_b=$($PSQL -d bench_on -At -c "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relname = 'interactions'")

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == 0) print "n/a"; else printf "%.2f", b / a }'; }
grow_a=$((s1_a - s0_a))
grow_b=$((s1_b - s0_b))

cat <<REPORT

nadia_bgw maintenance benchmark ($SCALE): interactions $ROWS rows, $DURATION s of pgbench
($CLIENTS clients, update_interactions.sql) per run, nadia_bgw.interval = $INTERVAL s,
autovacuum defaults in both runs.

| | autovacuum alone | + nadia_bgw maintenance | ratio |
|---|---|---|---|
| peak n_dead_tup | $peak_a | $peak_b | $(ratio "$peak_a" "$peak_b") |
| table growth (MB) | $(mb $grow_a) | $(mb $grow_b) | $(ratio "$grow_a" "$grow_b") |
| final table size (MB) | $(mb $s1_a) | $(mb $s1_b) | $(ratio "$s1_a" "$s1_b") |
| TPS | $tps_a | $tps_b | $(ratio "$tps_a" "$tps_b") |
| nadia_bgw jobs done/all | $jobs_a | $jobs_b | |

autovacuum runs on interactions: $avruns_a (autovacuum alone), $avruns_b (with nadia_bgw)
REPORT
