-- mcp: the range functions behind the nadia-mcp tools read every interval
-- from exactly one history tier (raw, hourly, daily), and the rollup gate
-- serves exposed nadia_bgw rollups only.  History rows are written by hand
-- at fixed times so that the sums are exact.  A database of its own.
CREATE DATABASE regress_mcp;
\c regress_mcp
SET client_min_messages = warning;
SET TimeZone = 'UTC';
CREATE EXTENSION nadia_bgw;

-- one transaction, so that now() cannot move past an hour meanwhile
BEGIN;
-- one statement; raw samples every minute of the last 3 hours (1 call each),
-- the same hours also downsampled into the hourly tier (60 calls each), and
-- hourly rows for 3 days before that, then daily rows for 2 more days.
INSERT INTO nadia_bgw.statements (queryid, dbid, userid, datname, username, query, first_seen)
VALUES (42, 1, 10, 'db', 'u', 'SELECT $1', now());
CREATE TEMP TABLE t AS SELECT date_trunc('hour', now()) - interval '3 hours' AS raw_start;
SELECT nadia_bgw.ensure_partitions('raw', ts) >= 0 AS ok
  FROM generate_series((SELECT raw_start FROM t), now(), interval '1 hour') ts;
SELECT nadia_bgw.ensure_partitions('hourly', ts) >= 0 AS ok
  FROM generate_series((SELECT raw_start FROM t) - interval '4 days', now(), interval '1 day') ts;
SELECT nadia_bgw.ensure_partitions('daily', ts) >= 0 AS ok
  FROM generate_series((SELECT raw_start FROM t) - interval '7 days', now(), interval '1 day') ts;
INSERT INTO nadia_bgw.samples (sampled_at, duration_ms, taken_by, outcome)
SELECT ts, 1, 'worker', '{}' FROM generate_series((SELECT raw_start FROM t), now() - interval '1 minute', interval '1 minute') ts;
INSERT INTO nadia_bgw.statement_samples (sampled_at, stmt_id, toplevel, calls, total_exec_time)
SELECT s.sampled_at, st.stmt_id, true, 1, 2 FROM nadia_bgw.samples s, nadia_bgw.statements st;
-- the complete raw hours are in the hourly tier too (as downsampling leaves them)
INSERT INTO nadia_bgw.statement_hourly (sampled_at, stmt_id, toplevel, calls, total_exec_time, samples)
SELECT date_trunc('hour', sampled_at), stmt_id, true, sum(calls), sum(total_exec_time), count(*)
  FROM nadia_bgw.statement_samples
 WHERE sampled_at < date_trunc('hour', now())
 GROUP BY 1, 2;
INSERT INTO nadia_bgw.statement_hourly (sampled_at, stmt_id, toplevel, calls, total_exec_time, samples)
SELECT ts, st.stmt_id, true, 60, 120, 60
  FROM generate_series((SELECT raw_start FROM t) - interval '3 days', (SELECT raw_start FROM t) - interval '1 hour', interval '1 hour') ts,
       nadia_bgw.statements st;
-- the complete days of the hourly tier are in the daily tier too
INSERT INTO nadia_bgw.statement_daily (sampled_at, stmt_id, toplevel, calls, total_exec_time, samples)
SELECT date_trunc('day', sampled_at), stmt_id, true, sum(calls), sum(total_exec_time), count(*)
  FROM nadia_bgw.statement_hourly
 WHERE sampled_at < date_trunc('day', (SELECT raw_start FROM t))
 GROUP BY 1, 2;
UPDATE nadia_bgw.tier_state SET done_until = date_trunc('hour', now()) WHERE tier = 'hourly';
UPDATE nadia_bgw.tier_state SET done_until = date_trunc('day', (SELECT raw_start FROM t)) WHERE tier = 'daily';

-- the cuts: the hourly tier is complete up to the current hour; the daily
-- tier is read only before the hourly tier begins (here: nothing)
SELECT hd = date_trunc('hour', now()) AS hourly_until_now,
       dc <= (SELECT min(sampled_at) FROM nadia_bgw.statement_hourly) AS daily_before_hourly
  FROM nadia_bgw.mcp_range_cuts(now() - interval '1 day');

-- each range counts every minute once: calls = minutes covered
-- (short ranges are exact; longer ones start at the hour)
SELECT calls = (SELECT count(*) FROM nadia_bgw.samples WHERE sampled_at >= now() - interval '90 minutes')
       AS exact_90_minutes
  FROM nadia_bgw.mcp_statement_totals(now() - interval '90 minutes');
SELECT calls = (SELECT count(*) FROM nadia_bgw.samples) AS three_hours_from_raw_and_hourly,
       total_exec_time_ms = 2 * calls AS time_summed
  FROM nadia_bgw.mcp_statement_totals((SELECT raw_start FROM t));
SELECT calls - (SELECT count(*) FROM nadia_bgw.samples) = 60 * 24 AS one_more_day_of_hourly
  FROM nadia_bgw.mcp_statement_totals((SELECT raw_start FROM t) - interval '1 day');
-- ten days back: every hourly row and raw sample once, no daily row on top
SELECT calls = 60 * (SELECT count(*) FROM nadia_bgw.statement_hourly
                      WHERE sampled_at < (SELECT raw_start FROM t))
             + (SELECT count(*) FROM nadia_bgw.samples) AS all_tiers_once
  FROM nadia_bgw.mcp_statement_totals(now() - interval '10 days');
-- once the hourly partitions are gone (retention), the daily tier answers
SELECT count(*) > 0 AS dropped FROM (
  SELECT nadia_bgw.drop_old_partitions('hourly', now() + interval '1 year')) x;
SELECT calls = (SELECT sum(calls) FROM nadia_bgw.statement_daily)
             + (SELECT count(*) FROM nadia_bgw.samples WHERE sampled_at >= date_trunc('hour', now()))
       AS daily_and_raw
  FROM nadia_bgw.mcp_statement_totals(now() - interval '10 days');
-- nothing before the range
SELECT count(*) AS rows_in_future FROM nadia_bgw.mcp_statement_totals(now() + interval '1 hour');
COMMIT;

-- the reader can call them; PUBLIC cannot
CREATE ROLE regress_mcp_user LOGIN IN ROLE nadia_bgw_reader;
CREATE ROLE regress_mcp_other LOGIN;
SET ROLE regress_mcp_user;
SELECT count(*) AS reader_rows FROM nadia_bgw.mcp_statement_totals(now() - interval '1 hour');
SELECT count(*) >= 0 AS reader_ok FROM nadia_bgw.mcp_table_totals(now() - interval '1 hour');
SELECT count(*) >= 0 AS reader_ok FROM nadia_bgw.mcp_io_by_hour(now() - interval '1 hour');
RESET ROLE;
SET ROLE regress_mcp_other;
SELECT count(*) FROM nadia_bgw.mcp_statement_totals(now() - interval '1 hour');
RESET ROLE;

-- the rollup gate: nothing exposed, nothing served
SELECT * FROM nadia_bgw.rollup_rows('llm_cost_tracking', now() - interval '1 day', 10);
SET ROLE regress_mcp_user;
SELECT nadia_bgw.mcp_expose_rollup('llm_cost_tracking', 'pg_class');
RESET ROLE;
-- an ordinary table is not a rollup
CREATE TABLE public.not_a_rollup (date date, secret text);
SELECT nadia_bgw.mcp_expose_rollup('llm_cost_tracking', 'not_a_rollup');
SELECT nadia_bgw.mcp_expose_rollup('no_such_tool', 'not_a_rollup');

\c contrib_regression
DROP DATABASE regress_mcp;
DROP ROLE regress_mcp_user, regress_mcp_other;
