-- demo/dashboard_matview.sql -- the NADIA dashboard as the review has it: a
-- materialized view refreshed in full every hour.  The unique index is what
-- REFRESH MATERIALIZED VIEW CONCURRENTLY needs.  nadia_bgw's dashboard
-- rollup replaces it (create_rollup(..., replace_matview => true)).
--
-- DATE(created_at) is evaluated in the session's TimeZone, so the view's
-- days depend on the setting of whoever refreshes it; the rollup fixes the
-- time zone per rollup instead.

CREATE MATERIALIZED VIEW IF NOT EXISTS public.dashboard_daily_metrics AS
SELECT DATE(created_at) AS date,
       COUNT(*) AS message_count,
       COUNT(DISTINCT user_id) AS unique_users,
       AVG(quality_score) AS avg_quality,
       SUM(COALESCE(llm1_cost_usd, 0) + COALESCE(llm2_cost_usd, 0)) AS daily_cost,
       COUNT(*) FILTER (WHERE cta_data IS NOT NULL) AS cta_messages,
       COUNT(*) FILTER (WHERE quality_score >= 4) AS high_quality_messages
FROM interactions
WHERE created_at >= CURRENT_DATE - INTERVAL '90 days'
GROUP BY DATE(created_at);

CREATE UNIQUE INDEX IF NOT EXISTS dashboard_daily_metrics_date
    ON public.dashboard_daily_metrics (date);
