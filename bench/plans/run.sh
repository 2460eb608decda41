#!/usr/bin/env bash
# bench/plans/run.sh -- the figures of plan capture (issue 15), side by side
# in one run: what the capture costs the application, against auto_explain
# and pg_qualstats; what plan history costs on disk, against statement
# history; and whether the index advice finds the index the NADIA review UI
# lost, and how much of its speed it gives back.
#
# overhead  One cluster, one database: the NADIA data (demo/load-data.sh)
#           and pgbench's tables.  Two workloads: pgbench's select-only
#           script (-S, the worst case: the cheapest statement, planned at
#           every execution in pgbench's default simple protocol) and the
#           NADIA demo workload (the review UI's per-user history lookup,
#           new messages, review updates: demo/pgbench/), at 1 and 8
#           clients.  Pairing: four arms in the SAME pgbench run -- nothing,
#           nadia_bgw's capture, auto_explain, pg_qualstats -- switched by
#           SET per client every $BLOCK transactions (bench/plans/
#           arm_header.sql), each client starting at another arm; the mean
#           transaction latency of each arm comes from pgbench's
#           per-transaction log.  In a closed loop a client's TPS is the
#           inverse of its latency, so the TPS loss of an arm is
#           1 - latency(nothing) / latency(arm).  Transactions slower than
#           10 x the run's median are stalls of the shared machine, left
#           out of all arms alike and counted per arm (bench/plans/
#           arms.awk); the loss with them kept is printed too, and the
#           run's own noise: an A/A comparison of alternate blocks of the
#           "nothing" arm.  Why blocks in one run and
#           not alternating runs: all four arms see the same machine within
#           milliseconds of each other (the machine is shared), and a SET
#           costs one round trip per block, not per transaction (a SET in
#           every transaction would dilute the loss of -S by half).  All
#           three libraries are preloaded in every arm and turned off by the
#           same SETs outside their own arm; their settings otherwise:
#           nadia_bgw at its defaults (plan_sample_rate 0.01, the worker
#           sampling every minute); auto_explain.sample_rate = 0.01 (= ours),
#           log_min_duration = 0, log_analyze = on, log_timing = off (row
#           counts, no per-node timing: what ours samples); pg_qualstats at
#           its default sampling (1 / max_connections = 0.01).
#           synchronous_commit = off: the writes are not I/O bound, so a
#           CPU cost shows (the worse case for the capture).
# storage   A second cluster with the sampling bench's workload
#           (bench/sampling/run.sh: $NTABLES tables, 5 statements each, a
#           random 10% of them between two samples; besides, the count of
#           every $TWO_PLAN_EVERY-th table also runs with enable_seqscan
#           off: statements with two plans, the only ones that write
#           plan_samples rows), $STORAGE_ROUNDS real
#           samples with the capture on, a simulated day of one-minute
#           samples made of the real ones (bench/lib/replicate_samples.sql
#           and bench/plans/replicate_plan_samples.sql), downsampled with
#           maintain_history(): plan history bytes per day against
#           statement history bytes per day.
# advice    On the first cluster: the NADIA demo workload with all indexes
#           (baseline mean time of the per-user lookup from
#           pg_stat_statements, and the advice: none must pass the gain
#           threshold), then DROP INDEX idx_interactions_user_created, the
#           workload again and worker cycles until the worker advises; the
#           advice is printed, created, and the lookup's mean time measured
#           again against the baseline.
#
#   bash bench/plans/run.sh
#   PARTS=overhead ROUNDS=5 SECONDS_PER_RUN=20 bash bench/plans/run.sh
#
# Knobs: PARTS (default "overhead storage advice"), WORKLOADS (of the
# overhead part, default "select_only nadia_demo"; also select_prepared:
# -S in the prepared protocol, a plan's id computed once), ROUNDS (pgbench runs per
# workload and client count, default 5), SECONDS_PER_RUN (default 12),
# BLOCK (transactions per arm switch, default 100), DAYS and ROWS_PER_DAY
# (NADIA data, default 30 x 10,000), SCALE (pgbench -i scale, default 10),
# NTABLES (storage workload, default 1000 = 5,000 statements),
# TWO_PLAN_EVERY (storage workload: every how many tables one statement
# has a second plan, default 10 = 2 % of the statements; 0 = none),
# STORAGE_ROUNDS (default 30), ADVICE_XACTS (per-user lookups per worker
# cycle, default 400), DIR / PORT (default /tmp/nadia_bench_plans, 5531;
# the storage cluster in DIR-storage, PORT + 1), KEEP=1 (leave the clusters
# running and their directories).  PostgreSQL 15 by default (Debian's
# postgresql-15-pg-qualstats and postgresql-15-hypopg are installed); with
# another PG_CONFIG the tree must have pg_qualstats and hypopg.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../regress/lib.sh"
. "$ROOT/bench/lib.sh"
. "$ROOT/bench/lib/statements.sh"

bench_defaults "PARTS=overhead storage advice" ROUNDS=5 SECONDS_PER_RUN=12 BLOCK=100 DAYS=30 ROWS_PER_DAY=10000 \
	SCALE=10 "WORKLOADS=select_only nadia_demo" NTABLES=1000 TWO_PLAN_EVERY=10 STORAGE_ROUNDS=30 ADVICE_XACTS=400 DIR=/tmp/nadia_bench_plans PORT=5531
part() { grep -qw "$1" <<<"$PARTS"; }
HERE=$ROOT/bench/plans

ensure_packages $NADIA_BASE_PACKAGES
if [ "$PG_CONFIG" = "$DEFAULT_PG_CONFIG" ]; then
	ensure_packages postgresql-15-pg-qualstats postgresql-15-hypopg
fi
for lib in auto_explain pg_qualstats; do
	[ -e "$("$PG_CONFIG" --pkglibdir)/$lib.so" ] || { log "$lib is not installed for PostgreSQL $(pg_major)"; exit 1; }
done
build

SDIR=$DIR-storage
stop() {
	if [ -z "${KEEP:-}" ]; then
		bench_stop_cluster "$DIR"
		bench_stop_cluster "$SDIR"
		rm -rf "$DIR" "$SDIR"
	fi
}
trap stop EXIT
Q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
spread() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo ".." hi}'; }
# loss MEAN_OFF MEAN_ON: TPS loss in percent of a closed loop whose latency goes from MEAN_OFF to MEAN_ON
loss() { awk -v off="$1" -v on="$2" 'BEGIN { printf "%.2f", (1 - off / on) * 100 }'; }

if part overhead || part advice; then
	bench_new_cluster "$DIR" "$PORT" pg_stat_statements,nadia_bgw,auto_explain,pg_qualstats <<CONF
nadia_bgw.database = 'nadia_hitl'
shared_buffers = 512MB
synchronous_commit = off
max_wal_size = 4GB
checkpoint_timeout = 30min
pg_stat_statements.track = top
# auto_explain: on in its arm only (SET log_min_duration = 0 there)
auto_explain.log_min_duration = -1
auto_explain.sample_rate = 0.01
auto_explain.log_analyze = on
auto_explain.log_timing = off
# pg_qualstats: on in its arm only, default sampling (1 / max_connections)
pg_qualstats.enabled = off
CONF
	export PGHOST=$DIR PGPORT=$PORT PGUSER=postgres PGDATABASE=nadia_hitl
	Q -d postgres -c "CREATE DATABASE nadia_hitl"
	log "loading the NADIA data ($DAYS days x $ROWS_PER_DAY rows) and pgbench's tables (scale $SCALE)"
	DAYS=$DAYS ROWS_PER_DAY=$ROWS_PER_DAY SEED=42 MATVIEW=0 PSQL="psql -X -q -v ON_ERROR_STOP=1" \
		bash "$ROOT/demo/load-data.sh"
	pgbench -i -q -s "$SCALE" >/dev/null 2>&1
	Q -c "CREATE EXTENSION pg_stat_statements" -c "CREATE EXTENSION nadia_bgw" -c "CREATE EXTENSION pg_qualstats" \
		-c "VACUUM ANALYZE"
fi

if part overhead; then
	# the scripts: arm header + workload + arm footer
	P=$ROOT/demo/pgbench
	for s in "$HERE/select_only.sql" "$P/user_history.sql" "$P/insert_hot.sql" "$P/update_review.sql"; do
		cat "$HERE/arm_header.sql" "$s" "$HERE/arm_footer.sql" >"$DIR/arm_$(basename "$s")"
	done
	chmod 644 "$DIR"/arm_*.sql
	declare -A WORKLOAD=(
		[select_only]="-f $DIR/arm_select_only.sql"
		[select_prepared]="-M prepared -f $DIR/arm_select_only.sql"
		[nadia_demo]="-f $DIR/arm_user_history.sql@5 -f $DIR/arm_insert_hot.sql@3 -f $DIR/arm_update_review.sql@2"
	)
	# arms_run WORKLOAD CLIENTS: one pgbench run; prints the mean latency
	# (us) and transaction count of each arm (bench/plans/arms.awk)
	arms_run() {
		local logs=$DIR/pgbench_log
		rm -rf "$logs"
		mkdir -p "$logs"
		# shellcheck disable=SC2086
		(cd "$logs" && pgbench -n -T "$SECONDS_PER_RUN" -c "$2" -j "$(($2 < 2 ? 1 : 2))" \
			-D k=0 -D block="$BLOCK" -D scale="$SCALE" -l ${WORKLOAD[$1]} >"$DIR/pgbench.out" 2>&1) ||
			{ cat "$DIR/pgbench.out"; exit 1; }
		cat "$logs"/pgbench_log.* >"$DIR/xacts.log"
		local median
		median=$(awk '{print $3}' "$DIR/xacts.log" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
		awk -v block="$BLOCK" -v cut="$((median * 10))" -f "$HERE/arms.awk" "$DIR/xacts.log"
	}
	# one warm-up run: caches, the capture's first plan of each statement
	arms_run nadia_demo 2 >/dev/null
	echo
	echo "== Overhead: four arms in each pgbench run (nothing | nadia_bgw capture | auto_explain | pg_qualstats),"
	echo "   switched every $BLOCK transactions per client; ${SECONDS_PER_RUN}s runs, $ROUNDS rounds; TPS loss vs nothing"
	echo "   ($(Q -c "SHOW server_version"); nadia_bgw.plan_sample_rate $(Q -c "SHOW nadia_bgw.plan_sample_rate"),"\
		"auto_explain.sample_rate $(Q -c "SHOW auto_explain.sample_rate"), pg_qualstats.sample_rate $(Q -c "SHOW pg_qualstats.sample_rate"))"
	for w in $WORKLOADS; do
		for c in 1 8; do
			nadia=(); ae=(); qs=(); aa=(); lat=(); rnadia=(); rae=(); rqs=(); st=()
			for r in $(seq 1 "$ROUNDS"); do
				read -r m0 n0 m1 n1 m2 n2 m3 n3 h0 h1 r0 r1 r2 r3 s0 s1 s2 s3 < <(arms_run "$w" "$c")
				nadia+=("$(loss "$m0" "$m1")"); ae+=("$(loss "$m0" "$m2")"); qs+=("$(loss "$m0" "$m3")")
				rnadia+=("$(loss "$r0" "$r1")"); rae+=("$(loss "$r0" "$r2")"); rqs+=("$(loss "$r0" "$r3")")
				aa+=("$(loss "$h0" "$h1")")
				lat+=("$m0/$m1/$m2/$m3")
				st+=("$s0/$s1/$s2/$s3")
				echo "$w $c $r $m0 $n0 $m1 $n1 $m2 $n2 $m3 $n3 $h0 $h1 $r0 $r1 $r2 $r3 $s0 $s1 $s2 $s3" >>"$DIR/overhead.raw"
			done
			printf '%-12s %d client(s): TPS loss median (spread) nadia_bgw %6s%% (%s)  auto_explain %6s%% (%s)  pg_qualstats %6s%% (%s)\n' \
				"$w" "$c" "$(med "${nadia[@]}")" "$(spread "${nadia[@]}")" "$(med "${ae[@]}")" "$(spread "${ae[@]}")" \
				"$(med "${qs[@]}")" "$(spread "${qs[@]}")"
			printf '%-12s              A/A noise (nothing vs nothing, alternate blocks): median %s%% (%s)\n' "" \
				"$(med "${aa[@]}")" "$(spread "${aa[@]}")"
			printf '%-12s              stalls kept in: nadia_bgw %s%% (%s)  auto_explain %s%% (%s)  pg_qualstats %s%% (%s)\n' "" \
				"$(med "${rnadia[@]}")" "$(spread "${rnadia[@]}")" "$(med "${rae[@]}")" "$(spread "${rae[@]}")" \
				"$(med "${rqs[@]}")" "$(spread "${rqs[@]}")"
			printf '%-12s              mean latency us nothing/nadia/auto_explain/qualstats per round: %s\n' "" "${lat[*]}"
			printf '%-12s              stalls (> 10 x median latency) nothing/nadia/auto_explain/qualstats per round: %s\n' "" "${st[*]}"
		done
	done
	echo "   transactions per arm, last run: $(tail -n 1 "$DIR/overhead.raw" | awk '{print $5, $7, $9, $11}')"
	echo "   what each keeps: nadia_bgw $(Q -c "SELECT entries || ' plans in shared memory (' || text_bytes || ' bytes of text), '
	        || (SELECT count(*) FROM nadia_bgw.plans) || ' in history'
	        FROM nadia_bgw._plan_store_info()" 2>/dev/null || echo '?');"\
		"auto_explain $(grep -c 'duration: .* plan:' "$DIR/server.log" || true) plans in the server log;"\
		"pg_qualstats $(Q -c "SELECT count(*) FROM pg_qualstats()" 2>/dev/null || echo '?') predicates"
fi

if part storage; then
	# the sampling bench's workload, on a cluster of its own (fresh
	# pg_stat_statements and plan store); the capture is on (its default)
	bench_new_cluster "$SDIR" "$((PORT + 1))" pg_stat_statements,nadia_bgw <<CONF
pg_stat_statements.max = 10000
pg_stat_statements.track = top
# as many plans as pg_stat_statements keeps statements, and room for all
# their texts: nothing dropped, so plan history is counted whole
nadia_bgw.plan_max = 10000
nadia_bgw.plan_text_max = 16384
nadia_bgw.database = 'postgres'
nadia_bgw.enabled = off
max_locks_per_transaction = 1024
CONF
	export PGHOST=$SDIR PGPORT=$((PORT + 1)) PGUSER=postgres PGDATABASE=postgres
	log "storage: $NTABLES tables, $((NTABLES * 5)) statements, $STORAGE_ROUNDS samples"
	Q -c "CREATE EXTENSION pg_stat_statements" -c "CREATE EXTENSION nadia_bgw"
	# every line runs once before the baseline, so a statement's two plans
	# are both in plans from the first sample on (as in a steady state)
	bench_statement_tables "$NTABLES" "$SDIR/all.sql" "$TWO_PLAN_EVERY"
	Q -c "SELECT nadia_bgw.take_sample()" >/dev/null
	for r in $(seq 1 "$STORAGE_ROUNDS"); do
		shuf -n "$((NTABLES / 2))" "$SDIR/all.sql" | Q >/dev/null
		Q -c "SELECT pg_stat_force_next_flush()" >/dev/null
		Q -c "SELECT nadia_bgw.take_sample()" >/dev/null
	done
	log "storage: simulating a day of one-minute samples from the real ones, then downsampling it"
	Q -v origin='2026-01-01 00:00+00' -v step=1 -v first=0 -v last=1439 -v skip=1 \
		-c "SET TimeZone = 'UTC'" -f "$ROOT/bench/lib/replicate_samples.sql" -f "$HERE/replicate_plan_samples.sql" \
		-c "UPDATE nadia_bgw.tier_state SET done_until = '2026-01-01 00:00+00'" >/dev/null
	# the history tables' sizes: the raw day before downsampling (which
	# may drop it), the tiers after; the catalogs (one row per statement,
	# per plan with its text and nodes) are counted once
	sizes() { # sizes TIER-CONDITION
		Q -c "INSERT INTO bench_sizes
		      SELECT CASE WHEN t.parent::text LIKE 'nadia_bgw.plan%' THEN 'plans' ELSE 'statements' END,
		             t.tier, sum(pg_total_relation_size(p.child))
		        FROM nadia_bgw.history_tables t JOIN nadia_bgw.history_partitions p USING (parent)
		       WHERE t.parent::text IN ('nadia_bgw.statement_samples', 'nadia_bgw.statement_hourly',
		                                'nadia_bgw.statement_daily', 'nadia_bgw.plan_samples',
		                                'nadia_bgw.plan_hourly', 'nadia_bgw.plan_daily') AND $1
		       GROUP BY 1, 2"
	}
	Q -c "CREATE TABLE bench_sizes (kind text, tier text, bytes bigint)"
	Q -c "VACUUM ANALYZE" >/dev/null
	sizes "t.tier = 'raw' AND p.hi <= '2026-01-02 00:00+00'"
	Q -c "SELECT nadia_bgw.maintain_history('2026-01-02 00:05+00')" >/dev/null
	Q -c "VACUUM ANALYZE" >/dev/null
	sizes "t.tier <> 'raw'"
	Q -c "INSERT INTO bench_sizes VALUES ('statements', 'catalog', pg_total_relation_size('nadia_bgw.statements')),
	                                     ('plans', 'catalog', pg_total_relation_size('nadia_bgw.plans'))"
	Q <<SQL
\pset format aligned
\pset tuples_only off
\echo
\echo '== Storage: the sampling bench workload ($((NTABLES * 5)) statements, 10% of them between two samples), one simulated day of one-minute samples'
SELECT count(*) AS statements_in_pg_stat_statements, (SELECT count(*) FROM nadia_bgw.statements) AS statements_in_history,
       (SELECT count(*) FROM nadia_bgw.plans) AS plans_in_history,
       (SELECT entries || ' / ' || not_tracked || ' / ' || texts_dropped FROM nadia_bgw._plan_store_info())
         AS "plan store: entries / not tracked / texts dropped"
  FROM pg_stat_statements;
SELECT tier AS "per day",
       pg_size_pretty(sum(bytes) FILTER (WHERE kind = 'statements')) AS statement_history,
       pg_size_pretty(sum(bytes) FILTER (WHERE kind = 'plans')) AS plan_history,
       round(100.0 * sum(bytes) FILTER (WHERE kind = 'plans') / nullif(sum(bytes) FILTER (WHERE kind = 'statements'), 0), 1)
         AS plans_pct_of_statements
  FROM (SELECT * FROM bench_sizes UNION ALL SELECT kind, 'total', bytes FROM bench_sizes) d
 GROUP BY tier ORDER BY array_position(ARRAY['raw', 'hourly', 'daily', 'catalog', 'total'], tier);
\echo 'the plans catalog: heap, indexes, TOAST; average stored bytes per row and column (compressed: how many values)'
SELECT pg_size_pretty(pg_relation_size('nadia_bgw.plans')) AS heap,
       pg_size_pretty(pg_indexes_size('nadia_bgw.plans')) AS indexes,
       pg_size_pretty(pg_table_size('nadia_bgw.plans') - pg_relation_size('nadia_bgw.plans')) AS toast_fsm_vm,
       round(avg(pg_column_size(p.*))) AS row, round(avg(pg_column_size(plan_text))) AS plan_text,
       round(avg(pg_column_size(plan_nodes))) AS plan_nodes, round(avg(pg_column_size(summary))) AS summary,
       round(avg(pg_column_size(sampled_nodes))) AS sampled_nodes,
       count(pg_column_compression(plan_text)) || ' / ' || count(pg_column_compression(plan_nodes))
         AS compressed_text_nodes,
       (SELECT n_tup_upd || ' / ' || n_tup_hot_upd FROM pg_stat_user_tables
         WHERE relid = 'nadia_bgw.plans'::regclass) AS updates_hot
  FROM nadia_bgw.plans p;
SQL
	bench_stop_cluster "$SDIR"
	export PGHOST=$DIR PGPORT=$PORT PGUSER=postgres PGDATABASE=nadia_hitl
fi

if part advice; then
	. "$HERE/advice.sh"
fi
