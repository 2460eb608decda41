-- history_ranges: the SQL API and the nadia-mcp range functions answer a
-- time range from the same tiers (one definition, nadia_bgw._history_cuts):
-- statement_stats() = mcp_statement_totals(), index_scans() =
-- mcp_index_totals(), index_usage's table writes = mcp_table_totals(),
-- for ranges inside the raw tier, across raw and hourly, across hourly and
-- daily, and before all history.  History rows are written by hand at
-- times taken from now(), one per minute of history with 1 call, 1 index
-- scan and 1 insert (60 per hourly row, 1440 per daily row), so that a
-- range's total is also the number of minutes it covers.  Ranges are placed
-- relative to the tier boundaries, so every run covers the same cases
-- whatever the date.  A database of its own.
CREATE DATABASE regress_ranges;
\c regress_ranges
SET client_min_messages = warning;
SET TimeZone = 'UTC';
CREATE EXTENSION nadia_bgw;

-- a real table and index, so that index_usage (which lists the indexes
-- the sampler knows) has a row for them
-- (no pg_stat_statements here: the statements source only warns)
CREATE TABLE ranges_t (id integer PRIMARY KEY);
SET client_min_messages = error;
SELECT nadia_bgw.take_sample() > 0 AS sampled;
SELECT nadia_bgw.take_sample() > 0 AS sampled;
SET client_min_messages = warning;

-- one transaction, so that now() cannot move past an hour meanwhile
BEGIN;
INSERT INTO nadia_bgw.statements (queryid, dbid, userid, datname, username, query, first_seen)
VALUES (42, 1, 10, 'db', 'u', 'SELECT $1', now());
-- raw samples every minute of the last 8 hours; the hourly tier from the
-- start of its oldest partition up to the current hour (the raw hours
-- downsampled as the sampler leaves them); the daily tier for 5 days
-- before the hourly tier and for the whole days the hourly tier holds
-- (how many partitions that takes depends on the date: one line each)
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
INSERT INTO nadia_bgw.statement_samples (sampled_at, stmt_id, toplevel, calls, total_exec_time)
SELECT m.sampled_at, st.stmt_id, true, 1, 2 FROM minutes m, nadia_bgw.statements st;
INSERT INTO nadia_bgw.table_samples (sampled_at, relid, seq_scan, n_tup_ins)
SELECT m.sampled_at, 'ranges_t'::regclass, 1, 1 FROM minutes m;
INSERT INTO nadia_bgw.index_samples (sampled_at, indexrelid, idx_scan)
SELECT m.sampled_at, 'ranges_t_pkey'::regclass, 1 FROM minutes m;
-- hourly: the complete raw hours, and 60 minutes an hour before them
CREATE TEMP TABLE hours AS
SELECT ts AS sampled_at, 60 AS n
  FROM generate_series((SELECT hourly_start FROM b), (SELECT raw_start FROM b) - interval '1 hour',
                       interval '1 hour') ts
UNION ALL
SELECT date_trunc('hour', sampled_at), count(*) FROM minutes
 WHERE sampled_at < (SELECT h FROM b) GROUP BY 1;
INSERT INTO nadia_bgw.statement_hourly (sampled_at, stmt_id, toplevel, calls, total_exec_time, samples)
SELECT h.sampled_at, st.stmt_id, true, h.n, 2 * h.n, h.n FROM hours h, nadia_bgw.statements st;
INSERT INTO nadia_bgw.table_hourly (sampled_at, relid, seq_scan, n_tup_ins, samples)
SELECT h.sampled_at, 'ranges_t'::regclass, h.n, h.n, h.n FROM hours h;
INSERT INTO nadia_bgw.index_hourly (sampled_at, indexrelid, idx_scan, samples)
SELECT h.sampled_at, 'ranges_t_pkey'::regclass, h.n, h.n FROM hours h;
-- daily: 1440 minutes a day before the hourly tier, then its whole days
CREATE TEMP TABLE days AS
SELECT ts AS sampled_at, 1440 AS n
  FROM generate_series((SELECT daily_start FROM b), (SELECT hourly_start FROM b) - interval '1 day',
                       interval '1 day') ts
UNION ALL
SELECT date_trunc('day', sampled_at), sum(n) FROM hours
 WHERE sampled_at < date_trunc('day', (SELECT raw_start FROM b)) GROUP BY 1;
INSERT INTO nadia_bgw.statement_daily (sampled_at, stmt_id, toplevel, calls, total_exec_time, samples)
SELECT d.sampled_at, st.stmt_id, true, d.n, 2 * d.n, d.n FROM days d, nadia_bgw.statements st;
INSERT INTO nadia_bgw.table_daily (sampled_at, relid, seq_scan, n_tup_ins, samples)
SELECT d.sampled_at, 'ranges_t'::regclass, d.n, d.n, d.n FROM days d;
INSERT INTO nadia_bgw.index_daily (sampled_at, indexrelid, idx_scan, samples)
SELECT d.sampled_at, 'ranges_t_pkey'::regclass, d.n, d.n FROM days d;
UPDATE nadia_bgw.tier_state SET done_until = (SELECT h FROM b) WHERE tier = 'hourly';
UPDATE nadia_bgw.tier_state SET done_until = date_trunc('day', (SELECT raw_start FROM b)) WHERE tier = 'daily';

-- the ranges [since, now()): their start, and where the rule says they
-- really start (a start outside the raw tier, or of a range longer than
-- six hours, takes in the whole hour or day it falls in)
CREATE TEMP TABLE ranges (ord integer, what text, since timestamptz, starts timestamptz);
INSERT INTO ranges
SELECT 1, 'raw, 43 minutes', h - interval '43 minutes', h - interval '43 minutes' FROM b UNION ALL
SELECT 2, 'raw, under 6 hours', h - interval '4 hours 43 minutes', h - interval '4 hours 43 minutes' FROM b UNION ALL
SELECT 3, 'raw, over 6 hours', h - interval '6 hours 43 minutes', h - interval '7 hours' FROM b UNION ALL
SELECT 4, 'hourly and raw', raw_start - interval '1 day 43 minutes', raw_start - interval '1 day 1 hour' FROM b UNION ALL
SELECT 5, 'daily and hourly', hourly_start - interval '2 days 5 hours 43 minutes', hourly_start - interval '3 days' FROM b UNION ALL
SELECT 6, 'before all history', daily_start - interval '10 days 43 minutes', daily_start FROM b UNION ALL
SELECT 7, 'in the future', now() + interval '1 hour', now() + interval '1 hour' FROM b;

-- where each range is cut: every interval from exactly one tier
SELECT r.ord, r.what,
       c.raw_until <= c.hourly_from OR c.hourly_from >= c.hourly_until AS raw_head_before_hourly,
       c.hourly_until <= c.raw_from OR c.hourly_from >= c.hourly_until AS hourly_before_raw_tail,
       c.daily_until <= c.hourly_from OR c.daily_from >= c.daily_until AS daily_before_hourly
  FROM ranges r, nadia_bgw._history_cuts(r.since, now()) c ORDER BY r.ord;

-- the same totals through both surfaces, and they are the minutes the
-- range covers
SELECT r.ord, r.what,
       coalesce(s.calls, 0) = coalesce(m.calls, 0) AS statements_agree,
       coalesce(s.total_exec_time_ms, 0) = coalesce(m.total_exec_time_ms, 0) AS exec_time_agrees,
       coalesce(m.calls, 0) = (SELECT count(*) FROM generate_series(greatest(r.starts, b.daily_start),
                                                                     now() - interval '1 minute',
                                                                     interval '1 minute')) AS calls_are_minutes,
       coalesce(i.idx_scan, 0) = coalesce(mi.idx_scan, 0) AS indexes_agree,
       coalesce(mi.idx_scan, 0) = coalesce(m.calls, 0) AS index_scans_are_minutes
  FROM ranges r CROSS JOIN b
  LEFT JOIN LATERAL nadia_bgw.statement_stats(r.since, now()) s ON true
  LEFT JOIN LATERAL nadia_bgw.mcp_statement_totals(r.since) m ON true
  LEFT JOIN LATERAL (SELECT * FROM nadia_bgw.index_scans(r.since, now())
                      WHERE indexrelid = 'ranges_t_pkey'::regclass) i ON true
  LEFT JOIN LATERAL (SELECT * FROM nadia_bgw.mcp_index_totals(r.since)
                      WHERE indexrelid = 'ranges_t_pkey'::regclass) mi ON true
 ORDER BY r.ord;

-- a range that ends in the past (the SQL API only): exact where raw
-- samples cover its end, the whole bucket its end falls in otherwise
SELECT calls = (SELECT count(*) FROM minutes WHERE sampled_at >= h - interval '3 hours 43 minutes'
                                                AND sampled_at < h - interval '1 hour 17 minutes')
       AS raw_end_exact
  FROM b, nadia_bgw.statement_stats(h - interval '3 hours 43 minutes', h - interval '1 hour 17 minutes');
SELECT calls = 60 * 24 AS hourly_end_whole_hour
  FROM b, nadia_bgw.statement_stats(raw_start - interval '1 day', raw_start - interval '59 minutes');
SELECT count(*) AS reversed_range_rows
  FROM b, nadia_bgw.statement_stats(h - interval '1 hour 17 minutes', h - interval '3 hours 43 minutes');

-- index_usage's 30 days agree with the tool's (mcp index_usage reads these)
SELECT u.idx_scan_30d = mi.idx_scan AS index_scans_30d_agree,
       u.table_writes_30d = mt.writes AS table_writes_30d_agree,
       mt.writes = mt.seq_scan AS writes_are_minutes
  FROM nadia_bgw.index_usage u,
       nadia_bgw.mcp_index_totals(now() - interval '30 days') mi,
       nadia_bgw.mcp_table_totals(now() - interval '30 days') mt
 WHERE u.indexrelid = 'ranges_t_pkey'::regclass AND mi.indexrelid = u.indexrelid AND mt.relid = u.relid;

-- tier_cuts() and mcp_range_cuts() are views of the same cuts
SELECT t.raw_cut = c.raw_from AS raw_cut_same, t.daily_cut = c.hourly_from AS daily_cut_same,
       m.hd = c.raw_from AS hd_same, m.dc = c.daily_until AS dc_same
  FROM nadia_bgw.tier_cuts() t, nadia_bgw._history_cuts('-infinity', now()) c,
       nadia_bgw.mcp_range_cuts('-infinity') m;
COMMIT;

-- the reader reaches all of it; PUBLIC reaches none of the new functions
CREATE ROLE regress_ranges_reader LOGIN IN ROLE nadia_bgw_reader;
CREATE ROLE regress_ranges_other LOGIN;
SET ROLE regress_ranges_reader;
SELECT count(*) >= 0 AS reader_ok FROM nadia_bgw.statement_stats();
SELECT count(*) >= 0 AS reader_ok FROM nadia_bgw.index_usage;
SELECT count(*) >= 0 AS reader_ok FROM nadia_bgw._history_cuts(now() - interval '1 day', now());
RESET ROLE;
SELECT p.proname, has_function_privilege('regress_ranges_other', p.oid, 'EXECUTE') AS public_can
  FROM pg_proc p
 WHERE p.pronamespace = 'nadia_bgw'::regnamespace
   AND p.proname IN ('_history_cuts', '_statement_totals', '_table_totals', '_index_totals')
 ORDER BY 1;

\c contrib_regression
DROP DATABASE regress_ranges;
DROP ROLE regress_ranges_reader, regress_ranges_other;
