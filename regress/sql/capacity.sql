-- capacity: forecasts from history written by hand at explicit instants
-- (sql/1.1/99_capacity.sql, docs/capacity.md).  No wall clock: every
-- instant is T = 2030-03-01 00:00 UTC plus whole or fractional days.
--   a table grown by 50 MiB a day for 40 days, with noise and one day
--   recorded five times too large (table_daily);
--   a sequence consumed at 5,000,000 a day, every 6 hours, 50,000,000
--   values left at T (truth: 10 days);
--   the transaction counter at 10,000,000 a day while the age falls back
--   at each freeze every 10 days (truth: 10,000,000 a day; age 120,000,000
--   at T, so 8 days to the default autovacuum_freeze_max_age, 200,000,000);
--   a filesystem filling by 1 GiB a day, 20 GiB free at T (truth: 20 days);
--   connections flat at 50 of 100.
-- Each forecast must be within 10% of the truth.
CREATE DATABASE regress_capacity;
\c regress_capacity
SET client_min_messages = warning;
SET TimeZone = 'UTC';
CREATE EXTENSION nadia_bgw;

SELECT bool_and(nadia_bgw.ensure_partitions('daily', ts) >= 0) AS ok
  FROM generate_series(timestamptz '2030-03-01' - interval '45 days', '2030-03-02', interval '1 day') ts;

INSERT INTO nadia_bgw.table_catalog (relid, schemaname, relname, first_seen)
VALUES (900001, 'app', 'events', '2030-01-01');
-- day d = 0 .. 40 before T; noise of up to +-10 MiB (a fifth of a day's
-- growth); the day before T the size recorded is five times the truth
INSERT INTO nadia_bgw.table_daily (sampled_at, relid, total_bytes, samples)
SELECT timestamptz '2030-03-01' - d * interval '1 day', 900001,
       CASE WHEN d = 1 THEN 5 ELSE 1 END
       * (1073741824 + (40 - d) * 52428800 + ((d * 7919) % 21 - 10) * 1048576), 1
  FROM generate_series(0::bigint, 40) d;

INSERT INTO nadia_bgw.capacity_samples
SELECT timestamptz '2030-03-01' - h * interval '1 hour', 'sequence', 900010, 'app.orders_id_seq',
       2147483647 - 50000000 - h * 5000000 / 24 + (h * 31) % 7 * 10000, 2147483647, NULL
  FROM generate_series(0::bigint, 40 * 24, 6) h;

INSERT INTO nadia_bgw.capacity_samples
SELECT timestamptz '2030-03-01' - h * interval '1 hour', 'xid', 900020, 'appdb',
       -- the age: 50,000,000 after each freeze (7, 17, 27, 37 days before T)
       50000000 + ((40 * 24 - h + 7 * 24) % 240) * 10000000 / 24, NULL,
       1000000000 + (40 * 24 - h) * 10000000 / 24
  FROM generate_series(0::bigint, 40 * 24, 6) h;

INSERT INTO nadia_bgw.capacity_samples
SELECT timestamptz '2030-03-01' - h * interval '1 hour', 'filesystem', 1663, 'data_directory',
       round((80 - h / 24.0) * 1073741824), 100::numeric * 1073741824, NULL
  FROM generate_series(0, 40 * 24, 6) h;

INSERT INTO nadia_bgw.capacity_samples
SELECT timestamptz '2030-03-01' - h * interval '1 hour', 'connections', 0, 'server',
       40 + h % 11, 100, NULL
  FROM generate_series(0, 40 * 24, 1) h;

CREATE TEMP TABLE f AS SELECT * FROM nadia_bgw.capacity_forecast('2030-03-01');
SELECT kind, object, current_value, limit_value, points_7d, points_30d, basis FROM f ORDER BY kind, object;

-- growth and days to the limit against the truth (the table's outlier
-- lowers its fit, not its slope)
SELECT kind, object,
       slope_7d / truth BETWEEN 0.9 AND 1.1 AS slope_7d_ok,
       slope_30d / truth BETWEEN 0.9 AND 1.1 AS slope_30d_ok,
       CASE WHEN days IS NULL THEN days_to_limit IS NULL
            ELSE days_to_limit / days BETWEEN 0.9 AND 1.1 END AS days_ok,
       fit_30d > 0.9 AS fit_30d_high
  FROM f JOIN (VALUES ('table', 52428800.0, NULL::float8),
                      ('sequence', 5000000.0, 10.0),
                      ('xid_freeze', 10000000.0,
                       (current_setting('autovacuum_freeze_max_age')::float8 - 120000000) / 10000000),
                      ('xid_wraparound', 10000000.0, (2147483648.0 - 3000000 - 120000000) / 10000000),
                      ('filesystem', 1073741824.0, 20.0)) t(kind, truth, days) USING (kind)
 ORDER BY 1;

-- the outlier pulls an ordinary least-squares line away; the robust one not
SELECT regr_slope(total_bytes, extract(epoch FROM sampled_at) / 86400) / 52428800 NOT BETWEEN 0.9 AND 1.1
       AS least_squares_off
  FROM nadia_bgw.table_daily WHERE relid = 900001 AND sampled_at > '2030-03-01'::timestamptz - interval '7 days';

-- the xid ages fall at each freeze: their slope alone would mislead
SELECT current_value AS age, fit_7d > 0.99 AS counter_on_a_line FROM f WHERE kind = 'xid_freeze';
SELECT slope_7d, days_to_limit FROM f WHERE kind = 'connections';

-- too little history: one point
INSERT INTO nadia_bgw.capacity_samples VALUES ('2030-03-01', 'sequence', 900011, 'app.new_seq', 10, 100, NULL);
SELECT kind, object, slope_7d, points_7d, days_to_limit, basis
  FROM nadia_bgw.capacity_forecast('2030-03-01') WHERE object = 'app.new_seq';

-- database and index sizes from history; a filesystem with a single point
-- falls back on the databases' growth: at T2 = 2030-05-01 a database that
-- grew 1 GiB a day (daily tier), an index of constant size, a data
-- directory with 10 GiB free (truth: 10 days)
SELECT bool_and(nadia_bgw.ensure_partitions('daily', ts) >= 0) AS ok
  FROM generate_series(timestamptz '2030-05-01' - interval '10 days', '2030-05-01', interval '1 day') ts;
INSERT INTO nadia_bgw.database_daily (sampled_at, datid, size_bytes, samples)
SELECT timestamptz '2030-05-01' - d * interval '1 day', 900030, (50 - d) * 1073741824::bigint, 1
  FROM generate_series(0, 9) d;
INSERT INTO nadia_bgw.index_catalog (indexrelid, relid, schemaname, relname, indexrelname, first_seen)
VALUES (900040, 900001, 'app', 'events', 'events_pkey', '2030-01-01');
INSERT INTO nadia_bgw.index_daily (sampled_at, indexrelid, index_bytes, samples)
SELECT timestamptz '2030-05-01' - d * interval '1 day', 900040, 8192, 1
  FROM generate_series(0, 9) d;
INSERT INTO nadia_bgw.capacity_samples
VALUES ('2030-05-01', 'filesystem', 1663, 'data_directory', 90 * 1073741824::numeric, 100 * 1073741824::numeric, NULL);
SELECT kind, object, slope_7d / 1073741824 AS gib_per_day, points_7d, round(days_to_limit::numeric, 3) AS days, basis
  FROM nadia_bgw.capacity_forecast('2030-05-01') ORDER BY kind;

-- the task records what this server has now: filesystems, xid and mxid per
-- database, sequences (the int4 column's limit behind a bigint sequence),
-- connections, and fits nothing; again in the same hour it records only
-- the connections' peak (the hour of T already has rows: written by hand
-- above) and builds its first batch of series (all of them here: fewer
-- than 25)
CREATE TABLE capacity_seq (id int, v int);
CREATE SEQUENCE capacity_seq_id AS bigint OWNED BY capacity_seq.id;
SELECT nextval('capacity_seq_id') + nextval('capacity_seq_id') AS used;
SELECT nadia_bgw._quality_capacity('2030-03-01 01:30') > 0 AS wrote;
SELECT kind, objid = 0 AS no_objid, object, value >= 0 AS value_set,
       CASE WHEN kind = 'filesystem' THEN limit_value > value ELSE limit_value IS NOT NULL END AS has_limit,
       CASE WHEN kind = 'sequence' THEN limit_value END AS seq_limit,
       counter IS NOT NULL AS counted
  FROM nadia_bgw.capacity_samples
 WHERE sampled_at = '2030-03-01 01:30'
   AND (kind NOT IN ('xid', 'mxid') OR object = current_database())
   AND object <> 'app.new_seq'
 ORDER BY kind, object;
SELECT nadia_bgw._quality_capacity('2030-03-01 01:50') AS second_in_hour;
SELECT count(*) > 6 AS forecasts, max(computed_at) AS computed_at FROM nadia_bgw.capacity_forecasts;
SELECT days_to_limit IS NULL AS far, basis FROM nadia_bgw.capacity_forecasts
 WHERE object = 'public.capacity_seq_id';

-- after 8 days one row a day; nothing after 35 days
SELECT nadia_bgw._quality_capacity('2030-03-01 02:10') > 0 AS wrote;
-- the cycles after it (a minute apart) refit every series due
SELECT count(*) FILTER (WHERE nadia_bgw._quality_capacity(timestamptz '2030-03-01 02:10' + i * interval '1 minute') > 0)
       AS refitting_cycles
  FROM generate_series(1, 8) i;
-- (due: not fit since the hour began; tables and indexes: not in the 5
-- hours before it either)
SELECT count(*) FILTER (WHERE fit_at IS NULL
                           OR fit_at < timestamptz '2030-03-01 02:00'
                                       - CASE WHEN kind IN ('table', 'index') THEN interval '5 hours'
                                              ELSE interval '0' END) AS due,
       count(*) AS series FROM nadia_bgw.capacity_series;
-- the stored forecasts against those computed from history at an
-- instant of those cycles (nothing was recorded between them but the
-- connections' peak): the task kept the buckets it built in the cycles
-- after 01:30 and recomputed those of the day only; the 30-day points
-- older than 8 days have been downsampled since (one row a day), so the
-- kept ones may differ a little there
SELECT s.kind, s.object, s.points_7d = l.points_7d AND s.points_30d = l.points_30d AS same_points,
       coalesce(s.slope_7d / nullif(l.slope_7d, 0) BETWEEN 0.99 AND 1.01,
                s.slope_7d IS NOT DISTINCT FROM l.slope_7d) AS slope_7d_same,
       coalesce(s.slope_30d / nullif(l.slope_30d, 0) BETWEEN 0.95 AND 1.05,
                s.slope_30d IS NOT DISTINCT FROM l.slope_30d) AS slope_30d_close,
       s.current_value = l.current_value AS same_current,
       coalesce(s.days_to_limit / nullif(l.days_to_limit, 0) BETWEEN 0.99 AND 1.01,
                s.days_to_limit IS NOT DISTINCT FROM l.days_to_limit) AS days_same
  FROM nadia_bgw.capacity_forecasts s
  JOIN nadia_bgw.capacity_forecast('2030-03-01 02:15') l USING (kind, objid)
 WHERE s.objid IN (900001, 900010, 900020, 1663) OR s.kind = 'connections'
 ORDER BY 1, 2;
-- a batch at a time: with 150 more sequences, the hour's recording cycle
-- refits none; each cycle after it takes 25 series (at least 25, else the
-- share that spreads every series over 50 minutes of cycles), the
-- cluster-wide ones first; those with no point (databases without size
-- history here) are forgotten
INSERT INTO nadia_bgw.capacity_samples
SELECT timestamptz '2030-03-01 03:00' - h * interval '1 hour', 'sequence', 910000 + k,
       'app.s' || k, 1000 - h * 10, 1000000, NULL
  FROM generate_series(1, 150) k, generate_series(0, 2) h;
SELECT nadia_bgw._quality_capacity('2030-03-01 03:05') > 0 AS wrote;
SELECT count(*) FILTER (WHERE fit_at >= '2030-03-01 03:00') AS refit FROM nadia_bgw.capacity_series;
SELECT nadia_bgw._quality_capacity('2030-03-01 03:06') > 0 AS first_batch;
SELECT count(*) FILTER (WHERE fit_at >= '2030-03-01 03:00') AS refit,
       bool_and(fit_at >= '2030-03-01 03:00') FILTER (WHERE kind NOT IN ('table', 'index', 'sequence')) AS cluster_wide_first
  FROM nadia_bgw.capacity_series;
-- the next cycles (a minute apart) take the rest, then find nothing due
SELECT string_agg(nadia_bgw._quality_capacity(timestamptz '2030-03-01 03:06' + i * interval '1 minute')::text, ' '
                  ORDER BY i) AS rows_per_cycle
  FROM generate_series(1, 8) i;
SELECT count(*) FILTER (WHERE fit_at IS NULL
                           OR fit_at < timestamptz '2030-03-01 03:00'
                                       - CASE WHEN kind IN ('table', 'index') THEN interval '5 hours'
                                              ELSE interval '0' END) AS due
  FROM nadia_bgw.capacity_series;
SELECT count(*) AS new_forecasts, min(computed_at) AS first, max(computed_at) AS last
  FROM nadia_bgw.capacity_forecasts WHERE objid > 910000 AND objid <= 910150;
-- after 8 days one row per object and UTC day: each hourly run takes the
-- rows that crossed the 8-day line in the 3 hours before it and deletes
-- the earlier rows of their day (connections: the crossing row keeps the
-- day's peak).  Rows written by hand long past the line stay until the
-- 35 days; so run the task hourly for a day from 03:10, so that
-- 2030-02-21 (crossed whole from 2030-03-01 00:00 to 2030-03-02 00:00)
-- is reduced as in a running server
SELECT count(*) AS rows_before FROM nadia_bgw.capacity_samples
 WHERE kind = 'sequence' AND objid = 900010 AND sampled_at >= '2030-02-21' AND sampled_at < '2030-02-22';
SELECT max(value) AS day_peak FROM nadia_bgw.capacity_samples
 WHERE kind = 'connections' AND sampled_at >= '2030-02-21' AND sampled_at < '2030-02-22';
SELECT count(*) FILTER (WHERE nadia_bgw._quality_capacity(h) >= 0) AS hourly_runs
  FROM generate_series(timestamptz '2030-03-01 03:10', '2030-03-02 02:10', '1 hour') h;
SELECT kind, count(*) AS rows, min(sampled_at) AS kept, max(value) AS value
  FROM nadia_bgw.capacity_samples
 WHERE objid IN (900010, 0) AND kind IN ('sequence', 'connections')
   AND sampled_at >= '2030-02-21' AND sampled_at < '2030-02-22'
 GROUP BY kind ORDER BY kind;
-- the days before, written by hand past the line, as they were
SELECT count(*) AS rows, count(DISTINCT floor(extract(epoch FROM sampled_at) / 86400)) AS days
  FROM nadia_bgw.capacity_samples
 WHERE kind = 'sequence' AND objid = 900010 AND sampled_at >= '2030-02-18' AND sampled_at < '2030-02-21';
SELECT min(sampled_at) AS oldest FROM nadia_bgw.capacity_samples WHERE kind = 'sequence' AND objid = 900010;
-- the clock gone back an hour (or a call for an instant in the past): a
-- batch at 02:20 refits the first 25 series; at 01:40 those, fit after
-- the 01:00 hour, are due again and refit first (order: kind, objid)
SELECT nadia_bgw._quality_capacity('2030-03-02 02:20') > 0 AS wrote;
SELECT nadia_bgw._quality_capacity('2030-03-02 01:40') > 0 AS wrote;
SELECT count(*) FILTER (WHERE fit_at = '2030-03-02 02:20') AS fit_at_0220,
       count(*) FILTER (WHERE fit_at = '2030-03-02 01:40') AS fit_at_0140
  FROM nadia_bgw.capacity_series;
-- a batch drops its series' buckets wholly older than 31 days (here one
-- a series' 2030-01-20, given to each); the series not in it keep theirs
-- until their turn
INSERT INTO nadia_bgw.capacity_buckets
SELECT s.kind, s.objid, 86400, floor(extract(epoch FROM timestamptz '2030-01-20 12:00') / 86400),
       0, 0, 'old', '2030-01-20 12:00', 0, NULL
  FROM nadia_bgw.capacity_series s;
SELECT nadia_bgw._quality_capacity('2030-03-02 01:41') > 0 AS wrote;
SELECT (SELECT count(*) FROM nadia_bgw.capacity_series WHERE fit_at = '2030-03-02 01:41') AS batch,
       count(*) FILTER (WHERE s.fit_at = '2030-03-02 01:41') AS old_in_batch,
       count(*) FILTER (WHERE s.fit_at < '2030-03-02 01:00') > 0 AS old_elsewhere
  FROM nadia_bgw.capacity_buckets b JOIN nadia_bgw.capacity_series s USING (kind, objid)
 WHERE (b.bucket + 1) * b.width <= extract(epoch FROM timestamptz '2030-03-02 01:41' - interval '31 days');

-- tables and indexes are refit once in 6 hours, the other series once an
-- hour: all fit at 03:30, the cycles of 04:05.. refit the others only,
-- those of 09:05.. the tables and indexes too
UPDATE nadia_bgw.capacity_series SET fit_at = '2030-03-02 03:30';
SELECT count(*) FILTER (WHERE nadia_bgw._quality_capacity(timestamptz '2030-03-02 04:05' + i * interval '1 minute') >= 0)
       AS cycles
  FROM generate_series(0, 8) i;
SELECT kind IN ('table', 'index') AS six_hourly, count(*) FILTER (WHERE fit_at > '2030-03-02 04:00') AS refit,
       count(*) AS series
  FROM nadia_bgw.capacity_series GROUP BY 1 ORDER BY 1;
SELECT count(*) FILTER (WHERE nadia_bgw._quality_capacity(timestamptz '2030-03-02 09:05' + i * interval '1 minute') >= 0)
       AS cycles
  FROM generate_series(0, 8) i;
SELECT kind IN ('table', 'index') AS six_hourly, count(*) FILTER (WHERE fit_at > '2030-03-02 09:00') AS refit,
       count(*) AS series
  FROM nadia_bgw.capacity_series GROUP BY 1 ORDER BY 1;

-- the fit in C against its definition in SQL (Theil-Sen: the median of
-- the pairs' slopes, the intercept the median of y - slope x, R^2), on
-- 20 series of 2..31 noisy points; then its edges and bad input
CREATE TEMP TABLE pts AS
SELECT s, i::float8 * 21600 + (i * 7919 % 13) AS x,
       1000 + s * i * 37.5 + ((i * 104729 + s) % 17 - 8) * 100.0 * (s % 3) AS y
  FROM generate_series(1, 20) s, generate_series(1, 1 + s + s / 2) i;
WITH sl AS (SELECT a.s, percentile_cont(0.5) WITHIN GROUP (ORDER BY (b.y - a.y) / (b.x - a.x)) AS slope
              FROM pts a JOIN pts b ON b.s = a.s AND b.x > a.x GROUP BY a.s),
     ln AS (SELECT p.s, sl.slope, count(*) AS n, avg(p.y) AS ybar,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY p.y - sl.slope * p.x) AS a
              FROM pts p JOIN sl USING (s) GROUP BY p.s, sl.slope),
     q AS (SELECT l.s, l.n, l.slope, l.a,
                  greatest(0, 1 - sum((p.y - (l.a + l.slope * p.x)) ^ 2) / nullif(sum((p.y - l.ybar) ^ 2), 0)) AS fit
             FROM ln l JOIN pts p USING (s) GROUP BY l.s, l.n, l.slope, l.a, l.ybar),
     c AS (SELECT p.s, t.* FROM (SELECT s, array_agg(x) xs, array_agg(y) ys FROM pts GROUP BY s) p
            CROSS JOIN LATERAL nadia_bgw._theil_sen(p.xs, p.ys) t)
SELECT count(*) AS series,
       count(*) FILTER (WHERE c.points = q.n
                          AND CASE WHEN q.n < 3 THEN c.slope IS NULL AND c.intercept IS NULL AND c.fit IS NULL
                                   ELSE abs(c.slope - q.slope) <= 1e-9 * abs(q.slope)
                                        AND abs(c.intercept - q.a) <= 1e-6 * greatest(abs(q.a), 1)
                                        AND abs(c.fit - q.fit) <= 1e-9 END) AS same
  FROM c JOIN q USING (s);
SELECT * FROM nadia_bgw._theil_sen('{1,2,3}', '{5,5,5}');      -- flat: no fit
SELECT * FROM nadia_bgw._theil_sen('{1,1,1}', '{1,2,3}');      -- no two distinct x
SELECT * FROM nadia_bgw._theil_sen('{1,2,3,4,5}', '{2,4,6,8,100}'); -- an outlier: slope 2
SELECT * FROM nadia_bgw._theil_sen('{1,2}', '{1}');
SELECT * FROM nadia_bgw._theil_sen('{1,2,NULL}', '{1,2,3}');
SELECT * FROM nadia_bgw._theil_sen('{{1,2},{3,4}}', '{1,2,3,4}');

-- the reader: forecasts and their history, never the filesystem function
SET ROLE nadia_bgw_reader;
SELECT count(*) > 0 AS reads FROM nadia_bgw.capacity_forecast('2030-03-01');
SELECT count(*) > 0 AS reads FROM nadia_bgw.capacity_forecasts;
SELECT * FROM nadia_bgw._fs_space('.');
SELECT * FROM nadia_bgw._capacity_sizes('statement', 'queryid', 'calls', '2030-01-01', '2030-03-01');
RESET ROLE;

\c contrib_regression
DROP DATABASE regress_capacity;
