# 60_alerts.sh -- regression alerts: a LISTEN client, the review UI's
# per-user history query running every cycle, and the index that serves it
# dropped under the workload.  The client receives the alert's JSON payload;
# recreating the index resolves it.
set -euo pipefail

SCRIPT=$ROOT/demo/pgbench/user_history.sql
CALLS=${DEMO_ALERT_CALLS:-24}

# one cycle of "the application": the per-user history lookups of the
# review UI, then a worker cycle (sample + detection) at once
cycle() {
	pgbench -n -t "$CALLS" -f "$SCRIPT" >/dev/null 2>&1
	$PSQL -qAt -c "SELECT nadia_bgw.wake(wait => true, timeout_ms => 120000)" >/dev/null
}

# This step drives the worker's cycles itself (workload, then wake()), so
# that each cycle's sample holds one round of the workload.
INTERVAL=$($PSQL -qAt -c "SHOW nadia_bgw.interval")
$PSQL -qAt -c "ALTER SYSTEM SET nadia_bgw.interval = '1h'" -c "SELECT pg_reload_conf()" >/dev/null
restore_interval() {
	$PSQL -qAt -c "ALTER SYSTEM SET nadia_bgw.interval = '$INTERVAL'" -c "SELECT pg_reload_conf()" >/dev/null
}

# A LISTEN client: psql reading commands from a pipe; a "flush" command
# makes it print the notifications it has received.
FIFO=$DEMO_DIR/alerts.fifo
OUT=$DEMO_DIR/alerts.out
rm -f "$FIFO" "$OUT"
mkfifo "$FIFO"
psql -X -q -f - <"$FIFO" >"$OUT" 2>&1 &
LISTENER=$!
exec 3>"$FIFO"
trap 'restore_interval; echo "\q" >&3 2>/dev/null || true; exec 3>&- || true; wait $LISTENER 2>/dev/null || true' EXIT
echo "LISTEN nadia_bgw_alerts;" >&3
FLUSHES=0
SHOWN=0

# print the payloads received since the last call, pretty-printed
show_notifications() {
	FLUSHES=$((FLUSHES + 1))
	printf "SELECT 1 AS flush \\g /dev/null\n\\echo flush-%s\n" "$FLUSHES" >&3
	for _ in $(seq 1 100); do
		grep -q "^flush-$FLUSHES\$" "$OUT" && break
		sleep 0.1
	done
	local n=0
	while IFS= read -r payload; do
		n=$((n + 1))
		echo "-- NOTIFY payload received by the LISTEN client ($(printf %s "$payload" | wc -c) bytes):"
		echo "SELECT jsonb_pretty(:'p'::jsonb);" | $PSQL -qAt -v p="$payload"
	done < <(grep '^Asynchronous notification "nadia_bgw_alerts"' "$OUT" | tail -n +$((SHOWN + 1)) |
		sed -e 's/^Asynchronous notification "nadia_bgw_alerts" with payload "//' \
			-e 's/" received from server process with PID [0-9]*\.$//')
	SHOWN=$((SHOWN + n))
	[ "$n" -gt 0 ] || echo "(no notification)"
}

alert_open() {
	[ "$($PSQL -qAt -c "SELECT count(*) FROM nadia_bgw.alerts
	                     WHERE kind = '$1' AND state = 'open'")" != 0 ]
}

say "Alerts: the review UI's per-user history query runs $CALLS times per cycle; the worker learns its normal latency"
for _ in $(seq 1 8); do cycle; done
$PSQL -c "SELECT b.metric, round(b.mean::numeric, 3) AS baseline, round(sqrt(b.var)::numeric, 3) AS stddev,
                 b.n AS samples, left(s.query, 60) AS query
            FROM nadia_bgw.baselines b
            JOIN nadia_bgw.statements s ON s.queryid = b.objid AND s.dbid = b.dbid AND s.userid = b.userid
           WHERE s.query LIKE '%WHERE user_id = \$1%' AND b.metric IN ('mean_exec_time_ms', 'shared_blks_per_call')
           ORDER BY b.metric"
echo "Alerts open before the regression (earlier demo steps may have left some, e.g. a new heavy statement;"
echo "metric_anomaly: the cost spike 20_data.sh injected and the generated review queue, see 90_quality):"
$PSQL -c "SELECT alert_id, kind, severity, object FROM nadia_bgw.open_alerts"

say "DROP INDEX idx_interactions_user_created under the workload"
$PSQL -c "DROP INDEX idx_interactions_user_created"
for i in 1 2 3; do
	cycle
	if alert_open query_latency; then
		echo "latency regression detected after $i cycle(s)"
		break
	fi
done
$PSQL -c "SELECT alert_id, kind, severity, object, metric,
                 round(baseline::numeric, 3) AS baseline, round(observed::numeric, 3) AS observed,
                 round(ratio::numeric, 1) AS ratio
            FROM nadia_bgw.open_alerts"
show_notifications

say "The index is back: after nadia_bgw.alert_resolve_cycles normal cycles the alerts resolve"
$PSQL -c "CREATE INDEX idx_interactions_user_created ON public.interactions (user_id, created_at DESC)"
for i in $(seq 1 6); do
	cycle
	if ! alert_open query_latency && ! alert_open seqscan_surge && ! alert_open plan_change; then
		echo "resolved after $i cycle(s)"
		break
	fi
done
$PSQL -c "SELECT alert_id, kind, state, resolved_by, opened_at::time(0) AS opened,
                 resolved_at::time(0) AS resolved, firing_cycles
            FROM nadia_bgw.alerts ORDER BY alert_id"
show_notifications
