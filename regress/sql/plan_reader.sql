-- plan_reader: plan history read back (sql/1.1/94_plan_reader.sql):
-- plan_stats() over the three tiers, cut like statement history
-- (_history_cuts), each plan's share of its statement's calls and time,
-- mean time, first and last use, the worst sampled nodes; the nadia-mcp
-- functions (mcp_explain_query by queryid and by text, mcp_statement_plans)
-- and the grants.  History rows are written by hand at times taken from
-- now(), as in history_ranges: statement 42 ran plan 1001 three times and
-- plan 1002 once in every minute of history (1 ms and 10 ms a call), so a
-- range's figures are known from the minutes it covers whatever the date;
-- statement 43 ran plan 2001 in three raw minutes only, statement 44 plan
-- 3001 in one.  A database of its own.
CREATE DATABASE regress_plans ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c regress_plans
SET client_min_messages = warning;
SET TimeZone = 'UTC';
CREATE EXTENSION nadia_bgw;

-- one transaction, so that now() cannot move past an hour meanwhile
BEGIN;
INSERT INTO nadia_bgw.statements (queryid, dbid, userid, datname, username, query, first_seen)
VALUES (42, 1, 10, 'db', 'u', E'SELECT * FROM t\n  WHERE a = $1', now()),
       (43, 1, 10, 'db', 'u', 'SELECT b FROM t ORDER BY b LIMIT $1', now()),
       (44, 1, 10, 'db', 'u', 'SELECT 1', now());
INSERT INTO nadia_bgw.statements (queryid, dbid, userid, datname, username, query, first_seen, excluded)
VALUES (45, 1, 10, 'db', 'u', 'SELECT nadia_bgw_own()', now(), true);
INSERT INTO nadia_bgw.plans (queryid, dbid, userid, planid, first_seen, last_seen, plan_text, summary, sampled_nodes, sampled_at)
VALUES (42, 1, 10, 1001, now() - interval '40 days', now(), 'Index Scan using t_a on public.t', 'Index Scan using public.t_a on public.t',
        '[{"id": 0, "label": "Index Scan using public.t_a on public.t", "est_rows": 1, "actual_rows": 500, "loops": 1, "removed_by_filter": 0, "misestimate": 500},
          {"id": 1, "label": "Sort", "est_rows": 9, "actual_rows": 3, "loops": 1, "removed_by_filter": 0, "misestimate": -3},
          {"id": 2, "label": "Limit", "est_rows": 3, "actual_rows": 4.5, "loops": 1, "removed_by_filter": 0, "misestimate": 1.5}]', now()),
       (42, 1, 10, 1002, now() - interval '40 days', now(), 'Seq Scan on public.t', 'Seq Scan on public.t',
        '[{"id": 0, "label": "Seq Scan on public.t", "est_rows": 100, "actual_rows": 100, "loops": 1, "removed_by_filter": 99900, "misestimate": 1, "expr": "NADIA-SECRET"},
          {"id": 1, "label": "Hash Join", "est_rows": 5000, "actual_rows": 100, "loops": 1, "removed_by_filter": 0, "misestimate": -50},
          {"id": 2, "label": "Hash", "est_rows": 10, "actual_rows": 25, "loops": 1, "removed_by_filter": 0, "misestimate": 2.5},
          {"id": 3, "label": "Seq Scan on public.u", "est_rows": 10, "actual_rows": 100, "loops": 1, "removed_by_join_filter": 0, "misestimate": 10}]', now()),
       (43, 1, 10, 2001, now() - interval '2 hours', now(), 'Limit', 'Index Only Scan using public.t_b on public.t', NULL, NULL),
       (44, 1, 10, 3001, now() - interval '2 hours', now(), 'Result', '',
        '[{"id": 0, "label": "Result", "est_rows": 1, "actual_rows": 1, "loops": 1, "misestimate": 1}]', now()),
       (45, 1, 10, 4001, now() - interval '2 hours', now(), 'Result', '', NULL, NULL);
-- the tiers, as in history_ranges: raw samples every minute of the last 8
-- hours, the hourly tier from the start of its oldest partition up to the
-- current hour, the daily tier for 5 days before it and for the whole days
-- it holds (how many partitions that takes depends on the date: one line
-- each)
CREATE TEMP TABLE b AS
SELECT date_trunc('hour', now()) AS h, date_trunc('hour', now()) - interval '8 hours' AS raw_start;
SELECT nadia_bgw.ensure_partitions('hourly', (SELECT raw_start FROM b) - interval '3 days') >= 0 AS ok;
ALTER TABLE b ADD COLUMN hourly_start timestamptz, ADD COLUMN daily_start timestamptz;
UPDATE b SET hourly_start = (SELECT min(lo) FROM nadia_bgw.history_partitions
                              WHERE parent = 'nadia_bgw.statement_hourly'::regclass);
UPDATE b SET daily_start = hourly_start - interval '5 days';
SELECT bool_and(nadia_bgw.ensure_partitions('raw', ts) >= 0) AS ok
  FROM generate_series((SELECT raw_start FROM b), now(), interval '1 hour') ts;
SELECT bool_and(nadia_bgw.ensure_partitions('hourly', ts) >= 0) AS ok
  FROM generate_series((SELECT hourly_start FROM b), now(), interval '1 day') ts;
SELECT bool_and(nadia_bgw.ensure_partitions('daily', ts) >= 0) AS ok
  FROM generate_series((SELECT daily_start FROM b), now(), interval '1 day') ts;
CREATE TEMP TABLE minutes AS
SELECT ts AS sampled_at
  FROM generate_series((SELECT raw_start FROM b), now() - interval '1 minute', interval '1 minute') ts;
INSERT INTO nadia_bgw.samples (sampled_at, duration_ms, taken_by, outcome)
SELECT sampled_at, 1, 'worker', '{}' FROM minutes;
CREATE TEMP TABLE hours AS
SELECT ts AS sampled_at, 60 AS n
  FROM generate_series((SELECT hourly_start FROM b), (SELECT raw_start FROM b) - interval '1 hour',
                       interval '1 hour') ts
UNION ALL
SELECT date_trunc('hour', sampled_at), count(*) FROM minutes
 WHERE sampled_at < (SELECT h FROM b) GROUP BY 1;
CREATE TEMP TABLE days AS
SELECT ts AS sampled_at, 1440 AS n
  FROM generate_series((SELECT daily_start FROM b), (SELECT hourly_start FROM b) - interval '1 day',
                       interval '1 day') ts
UNION ALL
SELECT date_trunc('day', sampled_at), sum(n) FROM hours
 WHERE sampled_at < date_trunc('day', (SELECT raw_start FROM b)) GROUP BY 1;
-- statement 42: 4 calls a minute in statement history, 3 + 1 in plan history
CREATE TEMP TABLE tiers AS
SELECT 'raw' AS tier, sampled_at, 1 AS n FROM minutes
UNION ALL SELECT 'hourly', sampled_at, n FROM hours
UNION ALL SELECT 'daily', sampled_at, n FROM days;
INSERT INTO nadia_bgw.statement_samples (sampled_at, stmt_id, toplevel, calls, total_exec_time)
SELECT x.sampled_at, st.stmt_id, true, 4 * x.n, 13 * x.n
  FROM tiers x, nadia_bgw.statements st WHERE x.tier = 'raw' AND st.queryid = 42;
INSERT INTO nadia_bgw.statement_hourly (sampled_at, stmt_id, toplevel, calls, total_exec_time, samples)
SELECT x.sampled_at, st.stmt_id, true, 4 * x.n, 13 * x.n, x.n
  FROM tiers x, nadia_bgw.statements st WHERE x.tier = 'hourly' AND st.queryid = 42;
INSERT INTO nadia_bgw.statement_daily (sampled_at, stmt_id, toplevel, calls, total_exec_time, samples)
SELECT x.sampled_at, st.stmt_id, true, 4 * x.n, 13 * x.n, x.n
  FROM tiers x, nadia_bgw.statements st WHERE x.tier = 'daily' AND st.queryid = 42;
CREATE TEMP TABLE plan_rows AS
SELECT x.tier, x.sampled_at, p.plan_ref, x.n,
       CASE p.planid WHEN 1001 THEN 3 ELSE 1 END * x.n AS calls,
       CASE p.planid WHEN 1001 THEN 3 ELSE 10 END * x.n AS total_exec_time,
       CASE p.planid WHEN 1001 THEN 1 ELSE 10 END AS t
  FROM tiers x, nadia_bgw.plans p WHERE p.planid IN (1001, 1002)
UNION ALL
-- plans 2001 and 4001: three raw minutes in the hour before the current
-- one; plan 3001: one
SELECT 'raw', b.h - m * interval '1 minute', p.plan_ref, 1, 2, 4, 2
  FROM b, nadia_bgw.plans p, generate_series(18, 20) m WHERE p.planid IN (2001, 4001)
UNION ALL
SELECT 'raw', b.h - interval '30 minutes', p.plan_ref, 1, 1, 1, 1
  FROM b, nadia_bgw.plans p WHERE p.planid = 3001;
-- ... and the hour they fall in, downsampled
INSERT INTO plan_rows
SELECT 'hourly', date_trunc('hour', r.sampled_at), r.plan_ref, count(*), sum(r.calls),
       sum(r.total_exec_time), min(r.t)
  FROM plan_rows r JOIN nadia_bgw.plans p ON p.plan_ref = r.plan_ref
 WHERE p.planid NOT IN (1001, 1002)
 GROUP BY 2, 3;
INSERT INTO nadia_bgw.plan_samples (sampled_at, plan_ref, calls, total_exec_time, min_exec_time, max_exec_time, rows, sampled_calls)
SELECT sampled_at, plan_ref, calls, total_exec_time, t, t, calls, 0 FROM plan_rows WHERE tier = 'raw';
INSERT INTO nadia_bgw.plan_hourly (sampled_at, plan_ref, calls, total_exec_time, min_exec_time, max_exec_time, rows, sampled_calls, samples)
SELECT sampled_at, plan_ref, calls, total_exec_time, t, t, calls, 0, n FROM plan_rows WHERE tier = 'hourly';
INSERT INTO nadia_bgw.plan_daily (sampled_at, plan_ref, calls, total_exec_time, min_exec_time, max_exec_time, rows, sampled_calls, samples)
SELECT sampled_at, plan_ref, calls, total_exec_time, t, t, calls, 0, n FROM plan_rows WHERE tier = 'daily';
UPDATE nadia_bgw.tier_state SET done_until = (SELECT h FROM b) WHERE tier = 'hourly';
UPDATE nadia_bgw.tier_state SET done_until = date_trunc('day', (SELECT raw_start FROM b)) WHERE tier = 'daily';

-- the ranges [since, now()) of history_ranges, and where the rule says
-- they really start
CREATE TEMP TABLE ranges (ord integer, what text, since timestamptz, starts timestamptz);
INSERT INTO ranges
SELECT 1, 'raw, 43 minutes', h - interval '43 minutes', h - interval '43 minutes' FROM b UNION ALL
SELECT 2, 'raw, under 6 hours', h - interval '4 hours 43 minutes', h - interval '4 hours 43 minutes' FROM b UNION ALL
SELECT 3, 'raw, over 6 hours', h - interval '6 hours 43 minutes', h - interval '7 hours' FROM b UNION ALL
SELECT 4, 'hourly and raw', raw_start - interval '1 day 43 minutes', raw_start - interval '1 day 1 hour' FROM b UNION ALL
SELECT 5, 'daily and hourly', hourly_start - interval '2 days 5 hours 43 minutes', hourly_start - interval '3 days' FROM b UNION ALL
SELECT 6, 'before all history', daily_start - interval '10 days 43 minutes', daily_start FROM b UNION ALL
SELECT 7, 'in the future', now() + interval '1 hour', now() + interval '1 hour' FROM b;

-- statement 42 per range: its plans' calls and time add up to what
-- statement_stats() says for the same range (the same cuts), and are the
-- minutes the range covers; shares, means, min and max per plan
SELECT r.ord, r.what,
       coalesce(sum(p.calls), 0) = coalesce(max(s.calls), 0) AS calls_agree,
       coalesce(sum(p.total_exec_time_ms), 0) = coalesce(max(s.total_exec_time_ms), 0) AS time_agrees,
       coalesce(sum(p.calls) FILTER (WHERE p.planid = 1002), 0)
         = (SELECT count(*) FROM generate_series(greatest(r.starts, b.daily_start),
                                                 now() - interval '1 minute',
                                                 interval '1 minute')) AS calls_are_minutes,
       string_agg(format('%s: calls %s time %s mean %s min %s max %s', p.planid,
                         round(p.share_of_calls::numeric, 4), round(p.share_of_time::numeric, 4),
                         p.mean_exec_time_ms, p.min_exec_time_ms, p.max_exec_time_ms),
                  '; ' ORDER BY p.planid) AS plans
  FROM ranges r CROSS JOIN b
  LEFT JOIN LATERAL (SELECT * FROM nadia_bgw.plan_stats(r.since, now()) WHERE queryid = 42) p ON true
  LEFT JOIN LATERAL (SELECT * FROM nadia_bgw.statement_stats(r.since, now()) WHERE queryid = 42) s ON true
 GROUP BY r.ord, r.what, r.starts, b.daily_start
 ORDER BY r.ord;

-- a range that ends in the past: the same cuts at its end
SELECT sum(p.calls) = (SELECT calls FROM nadia_bgw.statement_stats(b.h - interval '3 hours 43 minutes',
                                                                      b.h - interval '1 hour 17 minutes')
                        WHERE queryid = 42) AS past_range_agrees
  FROM b, nadia_bgw.plan_stats(b.h - interval '3 hours 43 minutes', b.h - interval '1 hour 17 minutes') p
 WHERE p.queryid = 42
 GROUP BY b.h;

-- first and last use in the range, names, summary; statement 45 is
-- nadia_bgw's own (excluded) and not listed
SELECT p.queryid, p.planid, p.datname, p.username, p.calls,
       p.first_seen - b.h AS first_seen, p.last_seen - b.h AS last_seen,
       p.share_of_calls, p.summary
  FROM b, nadia_bgw.plan_stats(b.h - interval '43 minutes', now()) p
 WHERE p.queryid <> 42
 ORDER BY 1, 2;
SELECT p.first_seen = b.h - interval '43 minutes' AS first_in_range,
       p.last_seen = (SELECT max(sampled_at) FROM minutes) AS last_sample
  FROM b, nadia_bgw.plan_stats(b.h - interval '43 minutes', now()) p
 WHERE p.planid = 1002;

-- worst nodes: at most three, worst first, by |misestimate| or rows removed
-- per row kept; only the known keys; NULL when never sampled, [] when
-- nothing is wrong
SELECT p.planid, jsonb_pretty(p.worst_nodes) AS worst_nodes
  FROM nadia_bgw.plan_stats(now() - interval '6 hours', now()) p
 ORDER BY p.planid;

-- explain_query by queryid; by text (white space and a final semicolon do
-- not count, an ellipsis makes a prefix, case counts); both must match;
-- unknown or excluded statements answer nothing; neither lists every
-- statement's plans, the busiest statement first
SELECT e.queryid, e.planid, e.calls > 0 AS ran, round(e.share_of_calls::numeric, 4) AS share_of_calls,
       e.mean_exec_time_ms, e.plan_first_seen < now() - interval '39 days' AS plan_first_seen_old,
       e.sampled_at IS NOT NULL AS sampled, e.summary, e.plan_text,
       jsonb_array_length(e.worst_nodes) AS worst, e.query
  FROM nadia_bgw.mcp_explain_query(42, NULL, now() - interval '1 day', NULL) e;
SELECT 'ws' AS how, count(*) FROM nadia_bgw.mcp_explain_query(NULL, E'SELECT *\tFROM t WHERE a = $1 ;', now() - interval '1 day', NULL) e WHERE e.queryid = 42
UNION ALL
SELECT 'prefix ...', count(*) FROM nadia_bgw.mcp_explain_query(NULL, 'SELECT * FROM t WHERE...', now() - interval '1 day', NULL)
UNION ALL
SELECT 'prefix U+2026', count(*) FROM nadia_bgw.mcp_explain_query(NULL, 'SELECT * FROM t WHERE' || convert_from('\xe280a6', 'UTF8'), now() - interval '1 day', NULL)
UNION ALL
SELECT 'case', count(*) FROM nadia_bgw.mcp_explain_query(NULL, 'select * from t where a = $1', now() - interval '1 day', NULL)
UNION ALL
SELECT 'literal', count(*) FROM nadia_bgw.mcp_explain_query(NULL, 'SELECT * FROM t WHERE a = 7', now() - interval '1 day', NULL)
UNION ALL
SELECT 'both match', count(*) FROM nadia_bgw.mcp_explain_query(43, 'SELECT b FROM t ORDER BY b LIMIT $1', now() - interval '1 day', NULL)
UNION ALL
SELECT 'both differ', count(*) FROM nadia_bgw.mcp_explain_query(42, 'SELECT b FROM t ORDER BY b LIMIT $1', now() - interval '1 day', NULL)
UNION ALL
SELECT 'unknown', count(*) FROM nadia_bgw.mcp_explain_query(999, NULL, now() - interval '1 day', NULL)
UNION ALL
SELECT 'excluded', count(*) FROM nadia_bgw.mcp_explain_query(45, NULL, now() - interval '1 day', NULL)
UNION ALL
SELECT 'before history', count(*) FROM nadia_bgw.mcp_explain_query(42, NULL, now() - interval '400 days', now() - interval '399 days');
SELECT e.queryid, e.planid FROM nadia_bgw.mcp_explain_query(NULL, NULL, now() - interval '1 day', NULL) e;

-- query_stats' plans: one array per statement, plans by calls
SELECT t.queryid, jsonb_path_query_array(p.plans, '$[*].planid') AS planids,
       jsonb_path_query_array(p.plans, '$[*].share_of_calls') AS shares
  FROM nadia_bgw.statements t
  JOIN nadia_bgw.mcp_statement_plans(now() - interval '1 day',
                                     (SELECT array_agg(stmt_id) FROM nadia_bgw.statements)) p
    ON p.stmt_id = t.stmt_id
 ORDER BY 1;
-- Sparse plan history (docs/plans.md, "Reading plans"): the sampler writes
-- plan rows only for statements with two plans or more; a statement's
-- figures while it had one plan are its statement history, read as rows
-- of its first plan with implied = true.  Statements 46 to 49 have
-- statement history in every tier (3 calls a minute of 1 ms, between
-- 1 and 5 ms, 2 rows and 10 blocks hit a call) and these plans:
--   46: one plan (5001) seen before all history, no plan rows;
--   47: one plan (6001) first seen 2 days 6 hours before the hourly tier
--       starts (inside the daily tier);
--   48: one plan (6101) first seen 2 h 30 min 30 s after the raw tier starts;
--   49: plan 7001 seen before all history, plan 7002 from M = 1 h 20 min
--       30 s after the raw tier starts; from M each minute runs 7001 once
--       (1 ms) and 7002 twice (10 ms each) and both have plan rows, raw
--       and in the hour they fall in.
INSERT INTO nadia_bgw.statements (queryid, dbid, userid, datname, username, query, first_seen)
SELECT q, 1, 10, 'db', 'u', 'SELECT ' || q, now() FROM generate_series(46, 49) q;
INSERT INTO nadia_bgw.plans (queryid, dbid, userid, planid, first_seen, last_seen, summary)
SELECT v.q, 1, 10, v.planid, v.first_seen, now(), 'plan ' || v.planid
  FROM b, LATERAL (VALUES (46, 5001, now() - interval '40 days'),
                          (47, 6001, b.hourly_start - interval '2 days 6 hours'),
                          (48, 6101, b.raw_start + interval '2 hours 30 minutes 30 seconds'),
                          (49, 7001, now() - interval '40 days'),
                          (49, 7002, b.raw_start + interval '1 hour 20 minutes 30 seconds')) v(q, planid, first_seen);
CREATE TEMP TABLE m AS SELECT raw_start + interval '1 hour 20 minutes 30 seconds' AS m FROM b;
-- statement 49's minutes from M, per tier (the hours they fall in; none
-- is before the day of the raw tier's start, so the daily tier has none)
CREATE TEMP TABLE after_m AS
SELECT 'raw' AS tier, x.sampled_at, 1 AS n FROM minutes x, m WHERE x.sampled_at >= m.m
UNION ALL
SELECT 'hourly', date_trunc('hour', x.sampled_at), count(*) FROM minutes x, m
 WHERE x.sampled_at >= m.m AND x.sampled_at < (SELECT h FROM b) GROUP BY 2;
CREATE TEMP TABLE sparse AS
SELECT x.tier, x.sampled_at, st.stmt_id, x.n,
       3 * x.n + CASE WHEN st.queryid = 49 THEN 18 * coalesce(a.n, 0) ELSE 0 END AS total_exec_time,
       st.queryid
  FROM tiers x CROSS JOIN nadia_bgw.statements st
  LEFT JOIN after_m a ON a.tier = x.tier AND a.sampled_at = x.sampled_at
 WHERE st.queryid BETWEEN 46 AND 49;
INSERT INTO nadia_bgw.statement_samples (sampled_at, stmt_id, toplevel, calls, total_exec_time,
                                         min_exec_time, max_exec_time, rows, shared_blks_hit)
SELECT sampled_at, stmt_id, true, 3 * n, total_exec_time, 1, 5, 6 * n, 30 * n FROM sparse WHERE tier = 'raw';
INSERT INTO nadia_bgw.statement_hourly (sampled_at, stmt_id, toplevel, calls, total_exec_time,
                                        min_exec_time, max_exec_time, rows, shared_blks_hit, samples)
SELECT sampled_at, stmt_id, true, 3 * n, total_exec_time, 1, 5, 6 * n, 30 * n, n FROM sparse WHERE tier = 'hourly';
INSERT INTO nadia_bgw.statement_daily (sampled_at, stmt_id, toplevel, calls, total_exec_time,
                                       min_exec_time, max_exec_time, rows, shared_blks_hit, samples)
SELECT sampled_at, stmt_id, true, 3 * n, total_exec_time, 1, 5, 6 * n, 30 * n, n FROM sparse WHERE tier = 'daily';
-- nested executions (toplevel = false) are not what the capture counts:
-- statement 48 has some, which its plan leaves out
INSERT INTO nadia_bgw.statement_samples (sampled_at, stmt_id, toplevel, calls, total_exec_time)
SELECT sampled_at, stmt_id, false, 100, 100 FROM sparse WHERE tier = 'raw' AND queryid = 48;
INSERT INTO nadia_bgw.plan_samples (sampled_at, plan_ref, calls, total_exec_time, min_exec_time, max_exec_time, rows, shared_blks_hit, sampled_calls)
SELECT a.sampled_at, p.plan_ref, a.n * c.calls, a.n * c.t, c.t / c.calls, c.t / c.calls, 2 * a.n * c.calls, 10 * a.n * c.calls, 0
  FROM after_m a, nadia_bgw.plans p, (VALUES (7001, 1, 1), (7002, 2, 20)) c(planid, calls, t)
 WHERE a.tier = 'raw' AND p.planid = c.planid;
INSERT INTO nadia_bgw.plan_hourly (sampled_at, plan_ref, calls, total_exec_time, min_exec_time, max_exec_time, rows, shared_blks_hit, sampled_calls, samples)
SELECT a.sampled_at, p.plan_ref, a.n * c.calls, a.n * c.t, c.t / c.calls, c.t / c.calls, 2 * a.n * c.calls, 10 * a.n * c.calls, 0, a.n
  FROM after_m a, nadia_bgw.plans p, (VALUES (7001, 1, 1), (7002, 2, 20)) c(planid, calls, t)
 WHERE a.tier = 'hourly' AND p.planid = c.planid;

-- plan_history: the implied column comes last
SELECT attname FROM pg_attribute
 WHERE attrelid = 'nadia_bgw.plan_history'::regclass AND attnum > 0
 ORDER BY attnum DESC LIMIT 1;
-- per tier and plan: implied and explicit rows from 3 hours before the
-- raw tier (before the hourly tier for the daily tier): the first bucket,
-- relative to the start of the raw tier (of the hourly tier for the daily
-- tier), no bucket missing after it, how many (raw: per call of its
-- statement).  Nothing before a plan's first use: 47's first daily bucket
-- is the day it was first seen, 48's first hourly bucket the hour and its
-- first raw sample the minute after it (its nested calls left out); 49's
-- first plan is implied up to M, then explicit like its second.
SELECT h.tier, h.planid, h.implied,
       min(h.sampled_at) - CASE h.tier WHEN 'daily' THEN b.hourly_start ELSE b.raw_start END AS first,
       count(*) = (SELECT count(*) FROM tiers x WHERE x.tier = h.tier
                      AND x.sampled_at BETWEEN min(h.sampled_at) AND max(h.sampled_at)) AS gapless,
       CASE WHEN h.tier = 'raw' THEN max(h.calls) ELSE count(*) END AS buckets_or_calls
  FROM b, nadia_bgw.plan_history h
 WHERE h.planid IN (6001, 6101, 7001, 7002)
   AND CASE h.tier WHEN 'daily' THEN h.sampled_at < b.hourly_start
                   ELSE h.sampled_at >= b.raw_start - interval '3 hours' END
 GROUP BY h.tier, h.planid, h.implied, b.hourly_start, b.raw_start
 ORDER BY 1, 2, 3;
-- the hour straddling M: the first plan's implied row is the statement's
-- hour less the explicit rows (21 minutes before M, 3 calls and 3 ms a
-- minute), the explicit rows are the 39 minutes after it
SELECT h.planid, h.implied, h.calls, h.total_exec_time_ms, h.rows, h.shared_blks_hit,
       h.min_exec_time_ms, h.max_exec_time_ms, h.samples, h.sampled_calls
  FROM m, nadia_bgw.plan_history h
 WHERE h.tier = 'hourly' AND h.sampled_at = date_trunc('hour', m.m) AND h.queryid = 49
 ORDER BY 1, 2;
-- raw samples: implied before M (statement 49's own figures), none after
SELECT h.before_m, h.planid, h.implied,
       count(*) = (SELECT count(*) FROM minutes x, m WHERE (x.sampled_at < m.m) = h.before_m)
         AS every_sample,
       min(h.calls) AS calls, max(h.total_exec_time_ms) AS time_ms,
       bool_and(h.sample_id IS NOT NULL) AS with_sample
  FROM (SELECT h.*, h.sampled_at < m.m AS before_m
          FROM m, nadia_bgw.plan_history h
         WHERE h.tier = 'raw' AND h.queryid = 49) h
 GROUP BY 1, 2, 3 ORDER BY 1 DESC, 2, 3;

-- plan_stats over the ranges of history_ranges (across the tiers):
-- statement 46's one plan has its statement's figures, statement 49's
-- two plans add up to its statement's, nothing counted twice
SELECT r.ord, r.what, s.queryid,
       sum(p.calls) = s.calls AS calls_agree,
       sum(p.total_exec_time_ms) = s.total_exec_time_ms AS time_agrees,
       sum(p.rows) = s.rows AS rows_agree,
       round(sum(p.share_of_calls)::numeric, 9) = 1 AS shares_add_up,
       string_agg(format('%s: min %s max %s', p.planid, p.min_exec_time_ms, p.max_exec_time_ms),
                  '; ' ORDER BY p.planid) AS plans
  FROM ranges r
  JOIN LATERAL nadia_bgw.statement_stats(r.since, now()) s ON s.queryid IN (46, 49)
  LEFT JOIN LATERAL nadia_bgw.plan_stats(r.since, now()) p ON p.queryid = s.queryid
 GROUP BY r.ord, r.what, s.queryid, s.calls, s.total_exec_time_ms, s.rows
 ORDER BY r.ord, s.queryid;
-- plan 7002 over the last day: 2 calls a minute from M, 10 ms each
SELECT p.calls = 2 * (SELECT count(*) FROM after_m WHERE tier = 'raw') AS calls_are_minutes_after_m,
       p.mean_exec_time_ms, p.first_seen = (SELECT min(sampled_at) FROM after_m WHERE tier = 'hourly')
         AS first_in_its_hour
  FROM nadia_bgw.plan_stats(now() - interval '1 day', now()) p WHERE p.planid = 7002;
-- nadia-mcp: a single-plan statement's plan has its statement's calls
SELECT e.queryid, e.planid, e.calls = s.calls AS statement_calls, e.share_of_calls, e.mean_exec_time_ms
  FROM nadia_bgw.mcp_explain_query(46, NULL, now() - interval '1 day', NULL) e,
       nadia_bgw.statement_stats(now() - interval '1 day', now()) s
 WHERE s.queryid = 46;
-- (statement 49's shares depend on the minute the test runs in)
SELECT t.queryid, jsonb_path_query_array(p.plans, '$[*].planid') AS planids,
       CASE WHEN t.queryid < 49 THEN jsonb_path_query_array(p.plans, '$[*].share_of_calls') END AS shares
  FROM nadia_bgw.statements t
  JOIN nadia_bgw.mcp_statement_plans(now() - interval '1 day',
                                     (SELECT array_agg(stmt_id) FROM nadia_bgw.statements
                                       WHERE queryid BETWEEN 46 AND 49)) p
    ON p.stmt_id = t.stmt_id
 ORDER BY 1;
COMMIT;

-- the reader reaches all of it; PUBLIC reaches none of it
CREATE ROLE regress_plans_reader LOGIN IN ROLE nadia_bgw_reader;
CREATE ROLE regress_plans_other LOGIN;
SET ROLE regress_plans_reader;
SELECT count(*) > 0 AS reader_ok FROM nadia_bgw.plan_stats();
SELECT count(*) > 0 AS reader_ok FROM nadia_bgw.mcp_explain_query(42, NULL, now() - interval '1 day', NULL);
SELECT count(*) > 0 AS reader_ok FROM nadia_bgw.mcp_statement_plans(now() - interval '1 day', ARRAY[1]);
SELECT count(*) FILTER (WHERE implied) > 0 AS reader_ok FROM nadia_bgw.plan_history;
RESET ROLE;
SELECT p.proname, has_function_privilege('regress_plans_other', p.oid, 'EXECUTE') AS public_can
  FROM pg_proc p
 WHERE p.pronamespace = 'nadia_bgw'::regnamespace
   AND p.proname IN ('_plan_rows', '_plan_totals', '_plan_worst_nodes', '_statement_text_matches', '_plan_stats',
                     'plan_stats', 'mcp_explain_query', 'mcp_statement_plans')
 ORDER BY 1;

\c contrib_regression
DROP DATABASE regress_plans;
DROP ROLE regress_plans_reader, regress_plans_other;
