-- rollup: create_rollup validation, the dashboard replacing its
-- materialized view, change capture (hot vs logged), refresh exactness for
-- INSERT/UPDATE/DELETE/TRUNCATE/COPY, savepoints, DST, drop_rollup.
-- The worker of this cluster serves another database: every refresh here
-- is an explicit refresh_rollup().
CREATE EXTENSION IF NOT EXISTS nadia_bgw;
SET client_min_messages = warning;
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never

-- The data and checks below are relative to today (now()); started in the
-- last two minutes of a UTC day (the timeshift suite's daily-grid instant
-- can be reached there), the test would straddle midnight and touch one
-- bucket more than it expects, so it starts after midnight instead.
SELECT count(*) >= 0 AS ready
  FROM (SELECT pg_sleep(extract(epoch FROM date_trunc('day', clock_timestamp())
                                           + interval '1 day' - clock_timestamp()) + 0.5)
         WHERE clock_timestamp() > date_trunc('day', clock_timestamp())
                                   + interval '1 day' - interval '2 minutes') s;

CREATE TABLE events (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL,
    user_id  integer,
    model    text,
    amount   numeric(6,4),
    score    integer,
    note     text
);
CREATE INDEX ON events (at);
-- 10 days ending today (UTC), 40 rows a day
INSERT INTO events (at, user_id, model, amount, score)
SELECT date_trunc('day', now()) - d * interval '1 day' + (i * 35 % 1440) * interval '1 minute',
       i % 7, (ARRAY['a', 'b', 'c'])[1 + i % 3], (i % 50) / 1000.0, 1 + i % 5
  FROM generate_series(0, 9) d, generate_series(1, 40) i;

-- the review's materialized view, over events
CREATE MATERIALIZED VIEW daily AS
SELECT DATE(at) AS date, COUNT(*) AS message_count, COUNT(DISTINCT user_id) AS unique_users,
       AVG(score) AS avg_quality, SUM(COALESCE(amount, 0)) AS daily_cost,
       COUNT(*) FILTER (WHERE score >= 4) AS high_quality_messages
  FROM events WHERE at >= CURRENT_DATE - INTERVAL '90 days' GROUP BY DATE(at);
CREATE ROLE regress_rollup_dash NOLOGIN;
GRANT SELECT ON daily TO regress_rollup_dash;
CREATE TEMP TABLE mv_columns AS
SELECT attnum, attname, format_type(atttypid, atttypmod) AS type
  FROM pg_attribute WHERE attrelid = 'daily'::regclass AND attnum > 0;
CREATE TEMP TABLE mv_rows AS SELECT * FROM daily;

-- validation: each mistake gets a clear error
\set aggs 'ARRAY[''COUNT(*) AS message_count'', ''COUNT(DISTINCT user_id) AS unique_users'', ''AVG(score) AS avg_quality'', ''SUM(COALESCE(amount, 0)) AS daily_cost'', ''COUNT(*) FILTER (WHERE score >= 4) AS high_quality_messages'']'
SELECT nadia_bgw.create_rollup(name => 'r_bad', source => 'events', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['count(nope)']);
SELECT nadia_bgw.create_rollup(name => 'r_bad', source => 'events', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['score']);
SELECT nadia_bgw.create_rollup(name => 'r_bad', source => 'events', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['sum(score) OVER ()']);
SELECT nadia_bgw.create_rollup(name => 'r_bad', source => 'events', time_column => 'at',
       bucket => '1 month', aggregates => ARRAY['count(*)']);
SELECT nadia_bgw.create_rollup(name => 'r_bad', source => 'events', time_column => 'at',
       bucket => '1 day 2 hours', aggregates => ARRAY['count(*)']);
SELECT nadia_bgw.create_rollup(name => 'r_bad', source => 'events', time_column => 'at',
       bucket => '0 seconds', aggregates => ARRAY['count(*)']);
SELECT nadia_bgw.create_rollup(name => 'r_bad', source => 'events', time_column => 'at',
       bucket => '1 day', timezone => 'Mars/Olympus', aggregates => ARRAY['count(*)']);
SELECT nadia_bgw.create_rollup(name => 'r_bad', source => 'events', time_column => 'when',
       bucket => '1 day', aggregates => ARRAY['count(*)']);
SELECT nadia_bgw.create_rollup(name => 'r_bad', source => 'events', time_column => 'score',
       bucket => '1 day', aggregates => ARRAY['count(*)']);
SELECT nadia_bgw.create_rollup(name => 'r_bad', source => 'daily', time_column => 'date',
       bucket => '1 day', aggregates => ARRAY['count(*)']);
SELECT nadia_bgw.create_rollup(name => 'r_bad', source => 'events', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['count(*)'], group_by => ARRAY['max(score)']);
SELECT nadia_bgw.create_rollup(name => 'r_bad', source => 'events', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['count(*)'], filter => 'nope > 1');
SELECT nadia_bgw.create_rollup(name => 'r_bad', source => 'events', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['count(*); DROP TABLE events']);
SELECT nadia_bgw.create_rollup(name => 'daily', source => 'events', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['count(*)']);
SELECT to_regclass('r_bad') IS NULL AS nothing_left_behind;

-- only superusers (or a granted owner of the source) may create rollups
CREATE ROLE regress_rollup_other NOLOGIN;
SET ROLE regress_rollup_other;
SELECT nadia_bgw.create_rollup(name => 'r_bad', source => 'events', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['count(*)']);
RESET ROLE;
GRANT USAGE ON SCHEMA nadia_bgw TO regress_rollup_other;
GRANT EXECUTE ON FUNCTION nadia_bgw.create_rollup(text, regclass, name, interval, text[], text[], text, interval, text, name, boolean) TO regress_rollup_other;
SET ROLE regress_rollup_other;
SELECT nadia_bgw.create_rollup(name => 'r_bad', source => 'events', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['count(*)']);
RESET ROLE;
REVOKE ALL ON FUNCTION nadia_bgw.create_rollup(text, regclass, name, interval, text[], text[], text, interval, text, name, boolean) FROM regress_rollup_other;
REVOKE ALL ON SCHEMA nadia_bgw FROM regress_rollup_other;

-- the dashboard rollup replaces the materialized view in one transaction
BEGIN;
SELECT nadia_bgw.create_rollup(name => 'daily', source => 'events', time_column => 'at',
       bucket => '1 day', bucket_column => 'date', timezone => 'UTC', horizon => '90 days',
       aggregates => :aggs, replace_matview => true);
COMMIT;
SELECT relkind FROM pg_class WHERE oid = 'daily'::regclass;
-- same columns, names, types and order as the view
(SELECT attnum, attname, format_type(atttypid, atttypmod) FROM pg_attribute
  WHERE attrelid = 'daily'::regclass AND attnum > 0
 EXCEPT SELECT * FROM mv_columns)
UNION ALL
(SELECT * FROM mv_columns EXCEPT
 SELECT attnum, attname, format_type(atttypid, atttypmod) FROM pg_attribute
  WHERE attrelid = 'daily'::regclass AND attnum > 0);
-- same rows, and the dashboard's grant carried over
SELECT (SELECT count(*) FROM (SELECT * FROM daily EXCEPT SELECT * FROM mv_rows) a) AS extra,
       (SELECT count(*) FROM (SELECT * FROM mv_rows EXCEPT SELECT * FROM daily) b) AS missing;
SELECT has_table_privilege('regress_rollup_dash', 'daily', 'SELECT') AS dash_can_read;
SELECT indexdef ~ 'UNIQUE' AS unique_key FROM pg_indexes WHERE tablename = 'daily';
SELECT * FROM nadia_bgw.rollup_check('daily');

-- first refresh: sets up the threshold at the start of today
SELECT nadia_bgw.refresh_rollup('daily') AS buckets;
SELECT threshold = date_trunc('day', now()) AS threshold_today, pending_invalidations,
       hot_changes_pending FROM nadia_bgw.rollups WHERE name = 'public.daily';
-- nothing changed: nothing recomputed
SELECT nadia_bgw.refresh_rollup('daily') AS buckets;

-- appends to today log nothing; a refresh recomputes today only
INSERT INTO events (at, user_id, model, amount, score)
SELECT now(), i, 'a', 0.01, 5 FROM generate_series(1, 20) i;
SELECT pending_invalidations, hot_changes_pending FROM nadia_bgw.rollups WHERE name = 'public.daily';
SELECT nadia_bgw.refresh_rollup('daily') AS buckets;
SELECT * FROM nadia_bgw.rollup_check('daily');

-- rows into old days are logged once per bucket and subtransaction (the
-- 30 rows at noon of their day: at now() they would straddle two days in
-- the first 30 s after midnight, where the guard above starts the test)
INSERT INTO events (at, user_id, model, amount, score)
SELECT date_trunc('day', now()) - interval '3 days' + interval '12 hours' - i * interval '1 second',
       100 + i, 'b', 0.02, 1
  FROM generate_series(1, 30) i;
INSERT INTO events (at, user_id, model, amount, score)
VALUES (now() - interval '5 days', 1, 'c', 0.03, 3), (now() - interval '6 days', 2, 'c', 0.03, 4);
SELECT pending_invalidations, hot_changes_pending FROM nadia_bgw.rollups WHERE name = 'public.daily';
SELECT nadia_bgw.refresh_rollup('daily') AS buckets;
SELECT * FROM nadia_bgw.rollup_check('daily');

-- UPDATE moving rows to another day, DELETE, and an UPDATE of a column the
-- rollup does not read (no capture at all)
UPDATE events SET at = at - interval '2 days' WHERE id IN (SELECT id FROM events ORDER BY id LIMIT 3);
DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id DESC LIMIT 4);
SELECT nadia_bgw.refresh_rollup('daily') > 0 AS recomputed;
SELECT * FROM nadia_bgw.rollup_check('daily');
UPDATE events SET note = 'seen' WHERE at < now() - interval '2 days';
SELECT pending_invalidations FROM nadia_bgw.rollups WHERE name = 'public.daily';

-- savepoint rollback takes its log rows with it; the kept part is logged
BEGIN;
INSERT INTO events (at, user_id, score) VALUES (now() - interval '4 days', 1, 2);
SAVEPOINT s1;
INSERT INTO events (at, user_id, score) VALUES (now() - interval '7 days', 1, 2);
ROLLBACK TO SAVEPOINT s1;
COMMIT;
SELECT pending_invalidations FROM nadia_bgw.rollups WHERE name = 'public.daily';
SELECT nadia_bgw.refresh_rollup('daily') AS buckets;
SELECT * FROM nadia_bgw.rollup_check('daily');

-- an aborted transaction changes nothing, but costs at most a recompute
BEGIN;
INSERT INTO events (at, user_id, score) VALUES (now() - interval '2 days', 1, 2), (now(), 2, 2);
ROLLBACK;
SELECT nadia_bgw.refresh_rollup('daily') AS buckets;
SELECT * FROM nadia_bgw.rollup_check('daily');

-- a refresh inside a writing transaction, with more hot rows after it
BEGIN;
INSERT INTO events (at, user_id, score) VALUES (now(), 3, 3);
SELECT nadia_bgw.refresh_rollup('daily') AS buckets;
INSERT INTO events (at, user_id, score) VALUES (now(), 4, 4);
COMMIT;
SELECT nadia_bgw.refresh_rollup('daily') AS buckets;
SELECT * FROM nadia_bgw.rollup_check('daily');

-- COPY fires the capture too
COPY events (at, user_id, model, amount, score) FROM stdin;
2000-01-01 10:00:00+00	1	a	0.0100	5
\.
INSERT INTO events (at, user_id, score) SELECT now() - interval '8 days', 9, 1;
SELECT nadia_bgw.refresh_rollup('daily') AS buckets;
SELECT * FROM nadia_bgw.rollup_check('daily');

-- a refresh needs READ COMMITTED
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT nadia_bgw.refresh_rollup('daily');
ROLLBACK;

-- TRUNCATE: every bucket is recomputed
BEGIN;
TRUNCATE events;
SELECT nadia_bgw.refresh_rollup('daily') AS buckets;
SELECT count(*) AS rows_left FROM daily;
ROLLBACK;
SELECT * FROM nadia_bgw.rollup_check('daily');

-- more NADIA-style rollups: cost per day per model (group_by), hourly
-- activity in a DST time zone (fixed-width buckets), and a filtered one
SELECT nadia_bgw.create_rollup(name => 'cost_by_model', source => 'events', time_column => 'at',
       bucket => '1 day', bucket_column => 'day', group_by => ARRAY['model'],
       aggregates => ARRAY['count(*) AS messages', 'sum(amount) AS cost'], timezone => 'Europe/Madrid');
SELECT nadia_bgw.create_rollup(name => 'hourly', source => 'events', time_column => 'at',
       bucket => '1 hour', bucket_column => 'hour', timezone => 'America/New_York',
       aggregates => ARRAY['count(DISTINCT user_id) AS active_users']);
SELECT nadia_bgw.create_rollup(name => 'low_scores', source => 'events', time_column => 'at',
       bucket => '7 days', filter => 'score <= 2', aggregates => ARRAY['count(*) AS n']);
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'hourly'::regclass AND attname = 'hour';
SELECT name, bucket, timezone, bucket_column, group_by FROM nadia_bgw.rollups ORDER BY name;
SELECT count(*) AS capture_triggers FROM pg_trigger
 WHERE tgrelid = 'events'::regclass AND tgname LIKE 'zz_nadia_bgw_rollup_%';

-- DST days: rows every 20 minutes across both 2024 changes in Madrid and New York
INSERT INTO events (at, user_id, model, amount, score)
SELECT t, (extract(epoch FROM t)::bigint / 1200) % 11, 'a', 0.0001, 3
  FROM generate_series('2024-03-09 00:00+00'::timestamptz, '2024-03-12 00:00+00', '20 minutes') t
UNION ALL
SELECT t, (extract(epoch FROM t)::bigint / 1200) % 11, 'b', 0.0001, 2
  FROM generate_series('2024-10-26 00:00+00'::timestamptz, '2024-11-04 00:00+00', '20 minutes') t;
SELECT sum(b) > 0 AS recomputed FROM (
    SELECT nadia_bgw.refresh_rollup(n) AS b FROM unnest(ARRAY['daily', 'cost_by_model', 'hourly', 'low_scores']) n) x;
SELECT n, c.* FROM unnest(ARRAY['daily', 'cost_by_model', 'hourly', 'low_scores']) n,
       LATERAL nadia_bgw.rollup_check(n) c ORDER BY n;
-- the 25-hour local day of Madrid (2024-10-27) is one bucket, like DATE() there
SELECT day, messages FROM cost_by_model
 WHERE day IN ('2024-03-31', '2024-10-27') OR (day BETWEEN '2024-03-09' AND '2024-03-11')
 ORDER BY day, model;
SET TimeZone = 'Europe/Madrid';
SELECT DATE(at) AS day, model, count(*) FROM events
 WHERE at >= '2024-03-09' AND at < '2024-03-12' OR DATE(at) = '2024-10-27'
 GROUP BY 1, 2 ORDER BY 1, 2;
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never

-- the reader sees the view, not the catalog
SELECT has_table_privilege('nadia_bgw_reader', 'nadia_bgw.rollups', 'SELECT') AS reader_view,
       has_table_privilege('nadia_bgw_reader', 'nadia_bgw.rollup', 'SELECT') AS reader_catalog,
       has_function_privilege('nadia_bgw_reader', 'nadia_bgw.refresh_rollup(text)', 'EXECUTE') AS reader_refresh;

-- drop_rollup removes the table, the triggers and the log
SELECT nadia_bgw.drop_rollup('hourly');
SELECT nadia_bgw.drop_rollup('low_scores', keep_table => true);
SELECT to_regclass('hourly') IS NULL AS hourly_gone, to_regclass('low_scores') IS NOT NULL AS kept;
SELECT count(*) AS capture_triggers FROM pg_trigger
 WHERE tgrelid = 'events'::regclass AND tgname LIKE 'zz_nadia_bgw_rollup_%';
SELECT nadia_bgw.refresh_rollup('hourly');
SELECT nadia_bgw.drop_rollup('cost_by_model');
SELECT nadia_bgw.drop_rollup('daily');
SELECT count(*) FROM nadia_bgw.rollup_invalidation;
SELECT count(*) AS capture_triggers FROM pg_trigger WHERE tgrelid = 'events'::regclass;
DROP TABLE low_scores, events;
DROP ROLE regress_rollup_dash;
DROP ROLE regress_rollup_other;
