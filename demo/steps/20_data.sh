# 20_data.sh -- the NADIA data: the interactions table with the review's
# indexes, generated rows, and the review's dashboard materialized view.
# DEMO_DAYS / DEMO_ROWS_PER_DAY / DEMO_SEED scale it (default 90 x 10,000;
# the benchmarks use 90 x 50,000).
set -euo pipefail

DAYS=${DEMO_DAYS:-90}
ROWS_PER_DAY=${DEMO_ROWS_PER_DAY:-10000}
SEED=${DEMO_SEED:-42}

say "Loading the NADIA interactions table: $DAYS days x $ROWS_PER_DAY messages (seed $SEED)"
start=$(date +%s)
DAYS=$DAYS ROWS_PER_DAY=$ROWS_PER_DAY SEED=$SEED PSQL="$PSQL" \
	bash "$ROOT/demo/load-data.sh"
echo "loaded in $(($(date +%s) - start)) s"

$PSQL -c "SELECT count(*) AS messages, count(DISTINCT user_id) AS users,
                 min(created_at)::date AS first_day, max(created_at)::date AS last_day,
                 pg_size_pretty(pg_total_relation_size('interactions')) AS size
            FROM interactions"
$PSQL -c "SELECT review_status, count(*) FROM interactions GROUP BY 1 ORDER BY 2 DESC"

say "The review's dashboard: a materialized view over the last 90 days"
$PSQL -c "SELECT * FROM dashboard_daily_metrics ORDER BY date DESC LIMIT 5"
