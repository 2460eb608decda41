# 20_data.sh -- the NADIA data: the interactions table with the review's
# indexes, generated rows, and the review's dashboard materialized view.
# DEMO_DAYS / DEMO_ROWS_PER_DAY / DEMO_SEED scale it (default 90 x 10,000;
# the benchmarks use 90 x 50,000).
#
# One day's LLM costs are then multiplied by 3 (an injected cost spike,
# DEMO_SPIKE_DAYS_AGO days back, default 1: the last generated day, so that
# it is the dashboard's latest closed bucket; 0 injects nothing): the data
# quality step (90_quality.sh) shows the worker flagging it.  It is done
# before the materialized view is built, so every view of the data agrees.
set -euo pipefail

DAYS=${DEMO_DAYS:-90}
ROWS_PER_DAY=${DEMO_ROWS_PER_DAY:-10000}
SEED=${DEMO_SEED:-42}
SPIKE_DAYS_AGO=${DEMO_SPIKE_DAYS_AGO:-1}

say "Loading the NADIA interactions table: $DAYS days x $ROWS_PER_DAY messages (seed $SEED)"
start=$(date +%s)
DAYS=$DAYS ROWS_PER_DAY=$ROWS_PER_DAY SEED=$SEED PSQL="$PSQL" MATVIEW=0 \
	bash "$ROOT/demo/load-data.sh"
echo "loaded in $(($(date +%s) - start)) s"

if [ "$SPIKE_DAYS_AGO" -gt 0 ]; then
	say "INJECTED: the LLM costs of one day multiplied by 3 (a cost spike for the anomaly detection of step 90_quality)"
	$PSQL -v days_ago="$SPIKE_DAYS_AGO" -f "$ROOT/demo/inject_cost_spike.sql"
fi
$PSQL -q -f "$ROOT/demo/dashboard_matview.sql"

$PSQL -c "SELECT count(*) AS messages, count(DISTINCT user_id) AS users,
                 min(created_at)::date AS first_day, max(created_at)::date AS last_day,
                 pg_size_pretty(pg_total_relation_size('interactions')) AS size
            FROM interactions"
$PSQL -c "SELECT review_status, count(*) FROM interactions GROUP BY 1 ORDER BY 2 DESC"

say "The review's dashboard: a materialized view over the last 90 days"
$PSQL -c "SELECT * FROM dashboard_daily_metrics ORDER BY date DESC LIMIT 5"
