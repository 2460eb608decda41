# bench/plans/advice.sh -- the advice part of bench/plans/run.sh (sourced
# by it, on its first cluster: the NADIA data, the worker on, PGHOST...
# set).  Does the index advice find the index the review UI's per-user
# history lookup (demo/pgbench/user_history.sql) lost, and how much of the
# lookup's speed does it give back?
#
#   1. all indexes present: $ADVICE_CYCLES cycles of the NADIA demo
#      workload + a worker cycle (nadia_bgw.wake); the lookup's mean
#      execution time over them (pg_stat_statements deltas) is the
#      baseline; no advice may pass nadia_bgw.advice_min_gain;
#   2. DROP INDEX idx_interactions_user_created; cycles until the worker
#      advises an index on interactions (at most $ADVICE_MAX_CYCLES); the
#      lookup's mean time without its index;
#   3. the advice printed (it must lead on user_id), its CREATE INDEX run,
#      $ADVICE_CYCLES cycles: the lookup's mean time against the baseline
#      (target: within 2x).
# The worker's cycles are driven by wake(): interval 1 h, the advice at
# every cycle (nadia_bgw.advice_interval = 0), everything else default.
# The workload runs as an application role, nadia_app, not as a superuser:
# the advice plans a statement again as the role that ran it, and refuses
# a superuser's.

bench_defaults ADVICE_CYCLES=3 ADVICE_MAX_CYCLES=4
P=$ROOT/demo/pgbench
Q -c "CREATE EXTENSION IF NOT EXISTS hypopg"
Q -c "CREATE ROLE nadia_app LOGIN" -c "GRANT SELECT, INSERT, UPDATE ON public.interactions TO nadia_app" \
	-c "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO nadia_app"
Q -c "ALTER SYSTEM SET nadia_bgw.interval = '1h'" -c "ALTER SYSTEM SET nadia_bgw.advice_interval = 0" \
	-c "SELECT pg_reload_conf()" >/dev/null

# the lookup's calls and total execution time so far (pg_stat_statements)
lookup_totals() {
	Q -F ' ' -c "SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0) FROM pg_stat_statements
	              WHERE query LIKE 'SELECT id, created_at, review_status, quality_score%'
	                AND userid = 'nadia_app'::regrole"
}
# advice_cycles N: N cycles of workload + worker cycle; prints the lookup's
# mean execution time (ms) over them
advice_cycles() {
	local c0 t0 c1 t1 i
	read -r c0 t0 < <(lookup_totals)
	for i in $(seq 1 "$1"); do
		pgbench -U nadia_app -n -t "$ADVICE_XACTS" -f "$P/user_history.sql@5" -f "$P/insert_hot.sql@3" \
			-f "$P/update_review.sql@2" >/dev/null 2>"$DIR/pgbench.err" || { cat "$DIR/pgbench.err"; exit 1; }
		Q -c "SELECT pg_stat_force_next_flush()" -c "SELECT nadia_bgw.wake(wait => true, timeout_ms => 600000)" >/dev/null
	done
	read -r c1 t1 < <(lookup_totals)
	awk -v c="$((c1 - c0))" -v t="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" 'BEGIN { printf "%.3f", c ? t / c : 0 }'
}
advice_table() {
	Q -c "\pset format aligned" -c "\pset tuples_only off" -c "\pset footer off" \
		-c "SELECT relname, columns, create_statement, reasons, cardinality(queryids) AS stmts,
		           round(cost_before_ms::numeric, 1) AS before_ms, round(cost_after_ms::numeric, 1) AS after_ms,
		           round(est_gain_ms::numeric, 1) AS gain_ms, round(gain_ratio::numeric, 3) AS gain_ratio,
		           pg_size_pretty(index_bytes) AS size, round(writes_per_hour::numeric) AS writes_h,
		           verified, why_not
		      FROM nadia_bgw.index_advice ORDER BY est_gain_ms DESC NULLS LAST"
}
# advised: advice rows that pass the gain threshold (what missing_indexes advises)
advised() {
	Q -c "SELECT count(*) FROM nadia_bgw.index_advice
	       WHERE verified AND gain_ratio >= current_setting('nadia_bgw.advice_min_gain')::float8 $1"
}

echo
echo "== Advice: the review UI's per-user history lookup, NADIA demo data ($DAYS days x $ROWS_PER_DAY rows),"
echo "   $ADVICE_XACTS transactions of the demo workload per worker cycle, nadia_bgw.advice_min_gain $(Q -c "SHOW nadia_bgw.advice_min_gain")"
base=$(advice_cycles "$ADVICE_CYCLES")
echo "1. all indexes present: lookup mean $base ms; advice rows passing the gain threshold: $(advised '')"
advice_table

Q -c "DROP INDEX idx_interactions_user_created"
slow=
for i in $(seq 1 "$ADVICE_MAX_CYCLES"); do
	m=$(advice_cycles 1)
	slow=${slow:-$m}
	if [ "$(advised "AND relname = 'interactions'")" != 0 ]; then break; fi
done
echo "2. without idx_interactions_user_created: lookup mean $slow ms ($(awk -v a="$slow" -v b="$base" 'BEGIN { printf "%.1f", a / b }') x baseline);" \
	"advice after $i cycle(s):"
advice_table
create=$(Q -c "SELECT create_statement FROM nadia_bgw.index_advice
                WHERE relname = 'interactions' AND verified
                  AND gain_ratio >= current_setting('nadia_bgw.advice_min_gain')::float8
                ORDER BY est_gain_ms DESC NULLS LAST LIMIT 1")
if [ -z "$create" ]; then
	echo "3. no advice for interactions passed the threshold: nothing to create"
else
	lead=$(Q -c "SELECT columns[1] FROM nadia_bgw.index_advice WHERE create_statement = \$\$$create\$\$ LIMIT 1")
	echo "3. creating the best advice for interactions (leads on $lead): $create"
	Q -c "$create"
	Q -c "ANALYZE interactions"
	after=$(advice_cycles "$ADVICE_CYCLES")
	echo "   lookup mean with the advised index $after ms = $(awk -v a="$after" -v b="$base" 'BEGIN { printf "%.2f", a / b }') x the baseline" \
		"(target <= 2), $(awk -v a="$slow" -v b="$after" 'BEGIN { printf "%.0f", a / b }') x faster than without an index"
fi
Q -c "ALTER SYSTEM RESET nadia_bgw.interval" -c "ALTER SYSTEM RESET nadia_bgw.advice_interval" -c "SELECT pg_reload_conf()" >/dev/null
