# 40_rollups.sh -- the dashboard materialized view becomes an incremental
# rollup; four more NADIA rollups; new writes; the worker recomputes only
# the changed days, timed next to REFRESH MATERIALIZED VIEW CONCURRENTLY.
set -euo pipefail

say "Keep a copy of the review's materialized view to compare with"
$PSQL -q -c "DROP MATERIALIZED VIEW IF EXISTS dashboard_daily_metrics_mv"
sed 's/dashboard_daily_metrics/dashboard_daily_metrics_mv/g' "$ROOT/demo/dashboard_matview.sql" | $PSQL -q

say "Replace dashboard_daily_metrics by a rollup (same name, columns and types; one transaction)"
$PSQL -f "$ROOT/demo/dashboard_rollup.sql" -c '\d dashboard_daily_metrics'

say "More NADIA rollups: LLM cost per day and model, review queue, hourly activity, recovered messages"
$PSQL <<'SQL'
SELECT nadia_bgw.create_rollup(
    name => 'llm_cost_daily', source => 'interactions', time_column => 'created_at',
    bucket => '1 day', bucket_column => 'date', horizon => '90 days',
    group_by => ARRAY['llm1_model', 'llm2_model'],
    aggregates => ARRAY['COUNT(*) AS messages',
                        'SUM(llm1_cost_usd) AS llm1_cost',
                        'SUM(llm2_cost_usd) AS llm2_cost',
                        'SUM(COALESCE(llm1_cost_usd, 0) + COALESCE(llm2_cost_usd, 0)) AS total_cost']);
SELECT nadia_bgw.create_rollup(
    name => 'review_queue_daily', source => 'interactions', time_column => 'created_at',
    bucket => '1 day', bucket_column => 'date', horizon => '90 days',
    aggregates => ARRAY['COUNT(*) FILTER (WHERE review_status = ''pending'') AS pending',
                        'COUNT(*) FILTER (WHERE review_status = ''reviewing'') AS in_review',
                        'COUNT(*) FILTER (WHERE review_completed_at IS NOT NULL) AS reviewed',
                        'AVG(review_completed_at - created_at) AS avg_review_latency',
                        'percentile_cont(0.9) WITHIN GROUP (ORDER BY EXTRACT(epoch FROM review_completed_at - created_at)) AS p90_review_latency_s']);
SELECT nadia_bgw.create_rollup(
    name => 'user_activity_hourly', source => 'interactions', time_column => 'created_at',
    bucket => '1 hour', bucket_column => 'hour', horizon => '14 days',
    aggregates => ARRAY['COUNT(DISTINCT user_id) AS active_users', 'COUNT(*) AS messages']);
SELECT nadia_bgw.create_rollup(
    name => 'recovered_daily', source => 'interactions', time_column => 'created_at',
    bucket => '1 day', bucket_column => 'date', horizon => '90 days',
    filter => 'is_recovered_message',
    aggregates => ARRAY['COUNT(*) AS recovered',
                        'AVG(created_at - user_message_timestamp) AS avg_delay']);
SELECT name, bucket, timezone, horizon, group_by FROM nadia_bgw.rollups ORDER BY name;
SQL
$PSQL -q -c "SELECT nadia_bgw.wake(wait => true)" >/dev/null

say "The application writes: 1,000 messages now, 40 recovered messages into a day last week"
$PSQL -q <<'SQL'
INSERT INTO interactions (user_id, conversation_id, message_number, user_message,
                          llm1_model, llm2_model, llm1_cost_usd, llm2_cost_usd, cta_data)
SELECT 1000000000 + i % 500, md5(i::text)::uuid, 1, 'is there a discount for students?',
       'gemini-2.0-flash', 'gpt-4o-mini', 0.0004, 0.0006,
       CASE WHEN i % 10 = 0 THEN '{"type": "trial"}'::jsonb END
  FROM generate_series(1, 1000) i;
INSERT INTO interactions (user_id, conversation_id, user_message, is_recovered_message,
                          user_message_timestamp, created_at, review_status, quality_score)
SELECT 1000000000 + i, md5('r' || i)::uuid, 'me puedes mandar el link otra vez?', true,
       current_date - 5 + interval '10 hours', current_date - 5 + interval '11 hours' + i * interval '1 minute',
       'approved', 4
  FROM generate_series(1, 40) i;
SQL
$PSQL -c "SELECT name, pending_invalidations, hot_changes_pending, lag FROM nadia_bgw.rollups ORDER BY name"

say "The worker runs a cycle (nadia_bgw.wake(wait => true)): it recomputes only the changed buckets"
$PSQL -q -c "SELECT nadia_bgw.wake(wait => true)" >/dev/null
$PSQL -c "SELECT name, last_buckets_recomputed AS buckets, round(last_refresh_ms::numeric, 1) AS refresh_ms,
                 pending_invalidations, hot_changes_pending
            FROM nadia_bgw.rollups ORDER BY name"

say "The same dashboard by REFRESH MATERIALIZED VIEW CONCURRENTLY (recomputes all 90 days)"
conc=$($PSQL -At -c '\timing on' -c "REFRESH MATERIALIZED VIEW CONCURRENTLY dashboard_daily_metrics_mv" |
	sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
roll=$($PSQL -At -c "SELECT round(last_refresh_ms::numeric, 1) FROM nadia_bgw.rollups WHERE name = 'public.dashboard_daily_metrics'")
echo "REFRESH MATERIALIZED VIEW CONCURRENTLY: $conc ms; the worker's rollup refresh: $roll ms" \
	"($(awk -v a="$conc" -v b="$roll" 'BEGIN { printf "%.0f", a / b }') x faster)"

say "Same answer: rollup vs materialized view, and every rollup vs its full query (EXCEPT both ways)"
$PSQL -c "SELECT (SELECT count(*) FROM (SELECT * FROM dashboard_daily_metrics EXCEPT SELECT * FROM dashboard_daily_metrics_mv) a) AS only_in_rollup,
                 (SELECT count(*) FROM (SELECT * FROM dashboard_daily_metrics_mv EXCEPT SELECT * FROM dashboard_daily_metrics) b) AS only_in_matview"
$PSQL -c "SELECT r.name, c.missing, c.extra FROM nadia_bgw.rollups r, LATERAL nadia_bgw.rollup_check(r.name) c ORDER BY r.name"

say "The dashboard's query runs unchanged"
$PSQL -c "SELECT * FROM dashboard_daily_metrics ORDER BY date DESC LIMIT 5"
$PSQL -c "SELECT * FROM llm_cost_daily ORDER BY date DESC, total_cost DESC LIMIT 4"
$PSQL -c "SELECT date, pending, in_review, reviewed, avg_review_latency FROM review_queue_daily ORDER BY date DESC LIMIT 3"
