-- maintenance: the plan view from samples, the overrides and requests API,
-- GUC validation and privileges.  Samples are taken in this session with
-- nadia_bgw.take_sample(); the cluster's worker serves another database,
-- so no job runs here.
CREATE DATABASE regress_maint;
\c regress_maint
SET client_min_messages = warning;
CREATE EXTENSION nadia_bgw;

CREATE TABLE m_hot (id integer PRIMARY KEY, v integer) WITH (autovacuum_enabled = off);
CREATE TABLE m_cold (id integer PRIMARY KEY, v integer) WITH (autovacuum_enabled = off);
INSERT INTO m_hot SELECT g, 0 FROM generate_series(1, 20000) g;
INSERT INTO m_cold SELECT g, 0 FROM generate_series(1, 20000) g;
-- the insert counts are reported before the ANALYZE resets them
SELECT pg_stat_force_next_flush();
ANALYZE m_cold;
SELECT pg_stat_force_next_flush();
SELECT nadia_bgw.take_sample() IS NOT NULL AS sampled;

-- inserted, never analyzed: an ANALYZE candidate; m_cold needs nothing
SELECT rank, relname, action, state, reason, emergency, n_live_tup, analyze_threshold
  FROM nadia_bgw.maintenance_plan WHERE relname LIKE 'm\_%' ORDER BY rank;

-- 5000 dead tuples over 1000 + 5% of 20000: VACUUM too
UPDATE m_hot SET v = 1 WHERE id <= 5000;
UPDATE m_cold SET v = 1 WHERE id <= 100;
SELECT pg_stat_force_next_flush();
SELECT nadia_bgw.take_sample() IS NOT NULL AS sampled;
SELECT rank, relname, action, state, reason, score, n_dead_tup, vacuum_threshold,
       figures->>'n_dead_tup' AS fig_dead
  FROM nadia_bgw.maintenance_plan WHERE relname LIKE 'm\_%' ORDER BY rank;

-- overrides: own thresholds bring m_cold in, exclusion takes m_hot out
SELECT relname, excluded, vacuum_ratio, vacuum_min, cooldown
  FROM nadia_bgw.set_maintenance('m_cold', vacuum_min => 50, vacuum_ratio => 0,
                                 cooldown => '1 hour');
SELECT (nadia_bgw.set_maintenance('m_hot', excluded => true)).excluded;
SELECT rank, relname, action, state, vacuum_threshold
  FROM nadia_bgw.maintenance_plan WHERE relname LIKE 'm\_%' ORDER BY rank;
-- calling it again replaces the whole override
SELECT relname, excluded, vacuum_min, cooldown FROM nadia_bgw.set_maintenance('m_cold');
SELECT nadia_bgw.reset_maintenance('m_hot'), nadia_bgw.reset_maintenance('m_hot');
SELECT relname, excluded FROM nadia_bgw.maintenance_settings ORDER BY relname;

-- freeze emergency through a low per-table freeze age: ranked first
SELECT txid_current() IS NOT NULL AS xid;
SELECT relname FROM nadia_bgw.set_maintenance('m_cold', freeze_age => 1);
SELECT rank, relname, action, emergency, state
  FROM nadia_bgw.maintenance_plan WHERE relname LIKE 'm\_%' ORDER BY rank;
SELECT nadia_bgw.reset_maintenance('m_cold');

-- requests: merged, shown, validated
SELECT nadia_bgw.request_maintenance('m_cold');
SELECT nadia_bgw.request_maintenance('m_cold', 'vacuum', 'operator');
SELECT relname, action, reason FROM nadia_bgw.maintenance_requests q
  JOIN pg_class c ON c.oid = q.relid;
SELECT relname, action, state, reason FROM nadia_bgw.maintenance_plan WHERE relname = 'm_cold';
SELECT nadia_bgw.request_maintenance('m_cold', 'reindex');

-- what overrides and requests refuse
\set VERBOSITY terse
CREATE VIEW m_view AS SELECT * FROM m_hot;
CREATE TEMP TABLE m_temp (id integer);
CREATE TABLE m_parted (id integer) PARTITION BY RANGE (id);
SELECT nadia_bgw.set_maintenance('m_view');
SELECT nadia_bgw.set_maintenance('m_temp');
SELECT nadia_bgw.set_maintenance('m_parted');
SELECT nadia_bgw.set_maintenance(NULL);
SELECT nadia_bgw.set_maintenance('m_hot', vacuum_ratio => -1);
SELECT nadia_bgw.request_maintenance('m_temp');
SELECT nadia_bgw.set_maintenance('no_such_table');

-- the history table and its constraints
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute
 WHERE attrelid = 'nadia_bgw.maintenance_history'::regclass AND attnum > 0
 ORDER BY attnum;
INSERT INTO nadia_bgw.maintenance_history (relid, schemaname, relname, action, reason, outcome)
VALUES ('m_hot'::regclass, 'public', 'm_hot', 'vacuum', 'test', 'exploded');
INSERT INTO nadia_bgw.maintenance_history (relid, schemaname, relname, action, reason)
VALUES ('m_hot'::regclass, 'public', 'm_hot', 'cluster', 'test');
\set VERBOSITY default

-- a queued or running job puts its table in state "running"
INSERT INTO nadia_bgw.maintenance_history (relid, schemaname, relname, action, reason)
VALUES ('m_hot'::regclass, 'public', 'm_hot', 'vacuum', 'test');
SELECT relname, state FROM nadia_bgw.maintenance_plan WHERE relname = 'm_hot';
-- a job of ours after the latest sample (not a skip): the figures are stale, cooldown
UPDATE nadia_bgw.maintenance_history SET outcome = 'done';
SELECT relname, state FROM nadia_bgw.maintenance_plan WHERE relname = 'm_hot';
UPDATE nadia_bgw.maintenance_history SET outcome = 'skipped-locked';
SELECT relname, state FROM nadia_bgw.maintenance_plan WHERE relname = 'm_hot';
-- duty cycle (maintenance_duty_cycle = 0.25): after a VACUUM of d the next
-- one waits 3 d.  Two hours of VACUUM ended a minute ago: still spaced out
SHOW nadia_bgw.maintenance_duty_cycle;
UPDATE nadia_bgw.maintenance_history
   SET outcome = 'done', planned_at = now() - interval '2 hours',
       started_at = now() - interval '2 hours', ended_at = now() - interval '1 minute';
SELECT relname, state FROM nadia_bgw.maintenance_plan WHERE relname = 'm_hot';
-- the same job ended seven hours ago (more than 3 x 2 hours): ready
UPDATE nadia_bgw.maintenance_history
   SET planned_at = now() - interval '9 hours', started_at = now() - interval '9 hours',
       ended_at = now() - interval '7 hours';
SELECT relname, state FROM nadia_bgw.maintenance_plan WHERE relname = 'm_hot';
-- a job sped up to 4 x maintenance_cost_limit (200) counts as 4 x 2 hours
-- of VACUUM: 24 hours of spacing.  At the base limit it counts as it ran
UPDATE nadia_bgw.maintenance_history SET cost_limit = 800;
SELECT relname, state FROM nadia_bgw.maintenance_plan WHERE relname = 'm_hot';
UPDATE nadia_bgw.maintenance_history SET cost_limit = 200;
SELECT relname, state FROM nadia_bgw.maintenance_plan WHERE relname = 'm_hot';
-- a VACUUM by anyone else since our job (here a manual one; autovacuum
-- alike) restarts the wait.  The table is dirtied and sampled again after
-- it, so that only the spacing can hold it back
VACUUM m_hot;
UPDATE m_hot SET v = 2 WHERE id <= 5000;
SELECT pg_stat_force_next_flush();
SELECT nadia_bgw.take_sample() IS NOT NULL AS sampled;
SELECT relname, state, n_dead_tup > vacuum_threshold AS over_threshold
  FROM nadia_bgw.maintenance_plan WHERE relname = 'm_hot';
-- once three times our last job's duration has passed since that VACUUM: ready
UPDATE nadia_bgw.maintenance_history
   SET started_at = ended_at - interval '100 milliseconds';
SELECT pg_sleep(0.35);
SELECT relname, state FROM nadia_bgw.maintenance_plan WHERE relname = 'm_hot';
-- a request is served at once, spacing or not
UPDATE nadia_bgw.maintenance_history SET ended_at = now() - interval '1 minute';
SELECT nadia_bgw.request_maintenance('m_hot', 'vacuum', 'test spacing');
SELECT relname, state FROM nadia_bgw.maintenance_plan WHERE relname = 'm_hot';
DELETE FROM nadia_bgw.maintenance_requests;
UPDATE nadia_bgw.maintenance_history SET outcome = 'skipped-locked';

-- settings: check hooks
ALTER SYSTEM SET nadia_bgw.maintenance_window = '01:00-05:00';
ALTER SYSTEM SET nadia_bgw.maintenance_window = '22:30-02:00, 13:00-14:00';
ALTER SYSTEM SET nadia_bgw.maintenance_window = '00:00-24:00';
ALTER SYSTEM SET nadia_bgw.maintenance_window = '1-5';
ALTER SYSTEM SET nadia_bgw.maintenance_window = '01:00-25:00';
ALTER SYSTEM SET nadia_bgw.maintenance_window = '03:00-03:00';
ALTER SYSTEM SET nadia_bgw.maintenance_window = '01:00-02:00;03:00-04:00';
ALTER SYSTEM SET nadia_bgw.maintenance_timezone = 'Europe/Paris';
ALTER SYSTEM SET nadia_bgw.maintenance_timezone = 'Mars/Olympus_Mons';
ALTER SYSTEM SET nadia_bgw.maintenance_max_concurrent = 0;
ALTER SYSTEM SET nadia_bgw.maintenance_vacuum_ratio = -0.1;
ALTER SYSTEM RESET nadia_bgw.maintenance_window;
ALTER SYSTEM RESET nadia_bgw.maintenance_timezone;
SET nadia_bgw.maintenance_window = '';
-- the window is open with the default (empty) setting
SELECT nadia_bgw.maintenance_window_open();

-- privileges: readers read, only superusers act
CREATE ROLE regress_maint_reader IN ROLE nadia_bgw_reader;
CREATE ROLE regress_maint_nobody;
SET ROLE regress_maint_reader;
SELECT count(*) >= 0 AS reads_history FROM nadia_bgw.maintenance_history;
SELECT count(*) >= 0 AS reads_plan FROM nadia_bgw.maintenance_plan;
SELECT count(*) >= 0 AS reads_settings FROM nadia_bgw.maintenance_settings;
SELECT nadia_bgw.set_maintenance('m_hot', excluded => true);
SELECT nadia_bgw.request_maintenance('m_hot');
DELETE FROM nadia_bgw.maintenance_history;
RESET ROLE;
SET ROLE regress_maint_nobody;
SELECT count(*) FROM nadia_bgw.maintenance_history;
SELECT count(*) FROM nadia_bgw.maintenance_plan;
RESET ROLE;

-- rollups: a large refresh asks for an ANALYZE of the rollup's table
CREATE TABLE m_events (at timestamptz NOT NULL, score integer);
INSERT INTO m_events
SELECT timestamptz '2026-01-01 12:00+00' + g * interval '1 day', g FROM generate_series(0, 29) g;
DELETE FROM nadia_bgw.maintenance_requests;
SELECT nadia_bgw.create_rollup(name => 'm_daily', source => 'm_events', time_column => 'at',
       bucket => '1 day', timezone => 'UTC', aggregates => ARRAY['count(*)', 'sum(score)']) IS NOT NULL AS created;
-- a new rollup: requested
SELECT c.relname, q.action, q.reason FROM nadia_bgw.maintenance_requests q
  JOIN pg_class c ON c.oid = q.relid;
DELETE FROM nadia_bgw.maintenance_requests;
ANALYZE m_daily;
-- one bucket changed: a small refresh, no request
UPDATE m_events SET score = score + 1 WHERE at < '2026-01-02';
SELECT nadia_bgw.refresh_rollup('m_daily') AS buckets;
SELECT count(*) AS requests FROM nadia_bgw.maintenance_requests;
-- a backfill rewrites ten of thirty days: requested
UPDATE m_events SET score = score + 1 WHERE at < '2026-01-11';
SELECT nadia_bgw.refresh_rollup('m_daily') AS buckets;
SELECT c.relname, q.action, q.reason FROM nadia_bgw.maintenance_requests q
  JOIN pg_class c ON c.oid = q.relid;
SELECT nadia_bgw.take_sample() IS NOT NULL AS sampled;
SELECT relname, action, state, reason FROM nadia_bgw.maintenance_plan WHERE relname = 'm_daily';

\c contrib_regression
DROP DATABASE regress_maint;
DROP ROLE regress_maint_reader;
DROP ROLE regress_maint_nobody;
