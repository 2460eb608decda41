-- demo/inject_cost_spike.sql -- an injected cost spike: both LLM costs of
-- every message of one local day (the session's TimeZone, the zone the
-- generator and the dashboard cut days in) multiplied by 3.  The day is
-- :days_ago days before today (psql -v days_ago=1: yesterday, the last day
-- demo/generator.sql makes by default).  Used by demo/steps/20_data.sh;
-- the data quality step (90_quality.sh) shows the worker flagging it on
-- the dashboard rollup.

SELECT current_date - :days_ago AS injected_day,
       coalesce(round(sum(coalesce(llm1_cost_usd, 0) + coalesce(llm2_cost_usd, 0)), 2), 0) AS cost_before
  FROM public.interactions
 WHERE created_at >= current_date - :days_ago AND created_at < current_date - :days_ago + 1
\gset
UPDATE public.interactions
   SET llm1_cost_usd = llm1_cost_usd * 3, llm2_cost_usd = llm2_cost_usd * 3
 WHERE created_at >= current_date - :days_ago AND created_at < current_date - :days_ago + 1;
SELECT :'injected_day' AS injected_day, :cost_before AS cost_before_usd,
       round(sum(coalesce(llm1_cost_usd, 0) + coalesce(llm2_cost_usd, 0)), 2) AS cost_after_usd
  FROM public.interactions
 WHERE created_at >= current_date - :days_ago AND created_at < current_date - :days_ago + 1;
