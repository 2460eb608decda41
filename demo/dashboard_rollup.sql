-- demo/dashboard_rollup.sql -- the NADIA dashboard as an incremental
-- rollup: the same name, columns and types as demo/dashboard_matview.sql,
-- which it replaces in one transaction (replace_matview; without a
-- materialized view of that name it simply creates the rollup).
--
-- No timezone is given, so the rollup fixes the session's TimeZone, the one
-- in which the materialized view's DATE(created_at) was evaluated: both
-- then cut the same days.  Used by the demo (demo/steps/40_rollups.sh) and
-- the rollup bench (bench/rollup/run.sh, which replaces '90 days' by its
-- HORIZON_DAYS as it does in the materialized view).

SELECT nadia_bgw.create_rollup(
    name            => 'dashboard_daily_metrics',
    source          => 'interactions',
    time_column     => 'created_at',
    bucket          => '1 day',
    bucket_column   => 'date',
    horizon         => '90 days',
    aggregates      => ARRAY[
        'COUNT(*) AS message_count',
        'COUNT(DISTINCT user_id) AS unique_users',
        'AVG(quality_score) AS avg_quality',
        'SUM(COALESCE(llm1_cost_usd, 0) + COALESCE(llm2_cost_usd, 0)) AS daily_cost',
        'COUNT(*) FILTER (WHERE cta_data IS NOT NULL) AS cta_messages',
        'COUNT(*) FILTER (WHERE quality_score >= 4) AS high_quality_messages'],
    replace_matview => true);
