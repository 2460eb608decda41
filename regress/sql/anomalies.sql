-- anomalies: business-metric anomalies (sql/1.1/99_anomalies.sql).
-- 60 days of NADIA-like messages with a weekly shape (weekdays busier than
-- weekends, a daytime peak) and deterministic pseudo-noise, rolled up by
-- day, by day and model, and by hour; nadia_bgw._quality_anomalies() is
-- called with explicit instants only (the rollups' refreshes, at the real
-- time, only need it to be after March 2026).  The worker of this cluster
-- serves another database.
CREATE EXTENSION nadia_bgw;
SET client_min_messages = warning;
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never

CREATE TABLE msgs (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL,
    user_id  integer,
    model    text,
    cost     numeric(8,5),
    quality  numeric(3,1)
);
CREATE INDEX ON msgs (at);
-- 2026-01-05 (a Monday) .. 2026-03-05 (60 days); per hour
-- base(weekday 40, weekend 20) x shape(hour) x (0.95 .. 1.05)
INSERT INTO msgs (at, user_id, model, cost, quality)
SELECT h.h + (i * 53 % 60) * interval '1 minute', i % 17, (ARRAY['a', 'b'])[1 + i % 2],
       0.01 + 0.001 * (i % 5), 3 + i % 3
  FROM generate_series(timestamptz '2026-01-05', '2026-03-05 23:00', '1 hour') h(h)
 CROSS JOIN LATERAL (
       SELECT round(CASE WHEN extract(isodow FROM h.h) >= 6 THEN 20 ELSE 40 END
                    * (0.4 + 0.6 * (1 - abs(extract(hour FROM h.h) - 14) / 14.0))
                    * (0.95 + 0.1 * (abs(hashtext(extract(epoch FROM h.h)::bigint::text)) % 1000) / 1000.0)
                   )::int AS n) c
 CROSS JOIN LATERAL generate_series(1, c.n) i;
SELECT count(*) > 30000 AS enough_rows FROM msgs;

SELECT nadia_bgw.create_rollup(name => 'anom_daily', source => 'msgs', time_column => 'at',
    bucket => '1 day', bucket_column => 'date', timezone => 'UTC',
    aggregates => ARRAY['COUNT(*) AS message_count', 'COUNT(DISTINCT user_id) AS unique_users',
                        'AVG(quality) AS avg_quality', 'SUM(cost) AS daily_cost'])::text;
SELECT nadia_bgw.create_rollup(name => 'anom_model', source => 'msgs', time_column => 'at',
    bucket => '1 day', bucket_column => 'date', timezone => 'UTC', group_by => ARRAY['model'],
    aggregates => ARRAY['COUNT(*) AS messages', 'SUM(cost) AS total_cost'])::text;
SELECT nadia_bgw.create_rollup(name => 'anom_hourly', source => 'msgs', time_column => 'at',
    bucket => '1 hour', bucket_column => 'hour', timezone => 'UTC',
    aggregates => ARRAY['COUNT(*) AS messages'])::text;

-- the settings
SELECT name, setting FROM pg_settings WHERE name LIKE 'nadia_bgw.anomaly%' ORDER BY name;

-- nothing judged before the rollups have closed buckets
SELECT nadia_bgw._quality_anomalies('2026-01-05 00:00+00') AS anomalies;
-- no injection: judged in two steps (the progress is kept), no anomaly
SELECT nadia_bgw._quality_anomalies('2026-02-01 00:00+00') AS anomalies;
SELECT nadia_bgw._quality_anomalies('2026-03-06 00:00+00') AS anomalies;
SELECT nadia_bgw._quality_anomalies('2026-03-06 00:00+00') AS again;
SELECT kind, objid = 0 AS writes, judged_until FROM nadia_bgw.anomaly_progress
 WHERE kind = 'rollup' ORDER BY objid;
-- the day buckets: 21 days of warm-up (3 past weekdays needed), then 39
-- judged normal; per group for the model rollup; hours likewise
SELECT source, metric, group_columns, group_hash <> '' AS grouped, last_bucket_start,
       last_status, judged, not_judged, anomalies
  FROM nadia_bgw.anomaly_series WHERE kind = 'rollup'
 ORDER BY source, metric, group_hash;
SELECT count(*) AS anomalies_without_injection FROM nadia_bgw.metric_anomalies;

-- injections, written to the source and refreshed as any late change:
-- cost x3 on Wednesday 2026-02-25, -80% of the messages on Friday
-- 2026-02-27 14:00-15:00, quality -1 point on Monday 2026-03-02
UPDATE msgs SET cost = cost * 3 WHERE at >= '2026-02-25' AND at < '2026-02-26';
DELETE FROM msgs WHERE at >= '2026-02-27 14:00' AND at < '2026-02-27 15:00' AND id % 5 <> 0;
UPDATE msgs SET quality = quality - 1 WHERE at >= '2026-03-02' AND at < '2026-03-03';
SELECT nadia_bgw.refresh_rollup('anom_daily') > 0 AS refreshed,
       nadia_bgw.refresh_rollup('anom_model') > 0 AS refreshed,
       nadia_bgw.refresh_rollup('anom_hourly') > 0 AS refreshed;
-- judge everything again from scratch
TRUNCATE nadia_bgw.anomaly_progress, nadia_bgw.anomaly_series, nadia_bgw.metric_anomalies;
SELECT nadia_bgw._quality_anomalies('2026-03-06 00:00+00') AS anomalies;
-- each injection flagged, nothing else
SELECT kind, source, metric, group_columns, bucket_start, bucket_end, direction, seasons,
       observed < expected_low OR observed > expected_high AS outside,
       round(observed::numeric, 3) AS observed, round(median::numeric, 3) AS median
  FROM nadia_bgw.data_anomalies('2026-01-01', '2026-04-01')
 ORDER BY bucket_start, source, metric, group_hash;
-- the group is named by a hash of its values, never by them
SELECT count(*) AS value_stored FROM nadia_bgw.metric_anomalies WHERE group_hash IN ('a', 'b');
SELECT count(*) AS group_found FROM anom_model m JOIN nadia_bgw.metric_anomalies a
    ON a.group_hash = md5(row(m.model)::text) AND a.bucket_start = m.date::timestamptz;
-- the series are normal again after their anomalies: nothing to alert on
SELECT count(*) AS alert_candidates FROM nadia_bgw._anomaly_alerts();

-- the latest bucket an anomaly: an alert candidate naming the rollup,
-- column, bucket and range; normal again with the next bucket
INSERT INTO msgs (at, user_id, model, cost, quality)
SELECT timestamptz '2026-03-06 00:00' + i * interval '30 seconds', i % 17, 'a', 0.5, 4
  FROM generate_series(1, 400) i;
SELECT nadia_bgw.refresh_rollup('anom_daily') > 0 AS refreshed;
SELECT nadia_bgw._quality_anomalies('2026-03-07 00:00+00') > 0 AS anomalies;
SELECT kind, alert_key ~ '^metric_anomaly:rollup:[0-9]+:daily_cost:$' AS key, object, object_type,
       metric, round(baseline::numeric, 3) AS baseline, round(observed::numeric, 3) AS observed,
       severity, details->>'bucket_start' AS bucket_start, details->>'direction' AS direction,
       (details->>'expected_high')::float8 < observed AS above_range
  FROM nadia_bgw._anomaly_alerts() WHERE object LIKE 'rollup public.anom_daily %' ORDER BY object;

-- a normal Saturday next (last Saturday's messages a week later): the
-- series are normal again, no candidate is left
INSERT INTO msgs (at, user_id, model, cost, quality)
SELECT at + interval '7 days', user_id, model, cost, quality
  FROM msgs WHERE at >= '2026-02-28' AND at < '2026-03-01';
SELECT nadia_bgw.refresh_rollup('anom_daily') > 0 AS refreshed;
SELECT nadia_bgw._quality_anomalies('2026-03-08 00:00+00') AS anomalies;
SELECT metric, last_bucket_start, last_status FROM nadia_bgw.anomaly_series
 WHERE source = 'public.anom_daily' ORDER BY metric;
SELECT count(*) AS daily_candidates FROM nadia_bgw._anomaly_alerts()
 WHERE object LIKE 'rollup public.anom_daily %';

-- table writes: an application table that inserts about 600 rows an
-- hour on weekday afternoons (hourly tier for four weeks), raw samples
-- every minute on Wednesday 2026-03-04 until the bot stops at 14:00
SET nadia_bgw.anomaly_k = 4;
SELECT bool_and(nadia_bgw.ensure_partitions('hourly', ts) >= 0) AS ok
  FROM generate_series(timestamptz '2026-02-04', '2026-03-03', '1 day') ts;
SELECT bool_and(nadia_bgw.ensure_partitions('raw', ts) >= 0) AS ok
  FROM generate_series(timestamptz '2026-03-04', '2026-03-05', '1 hour') ts;
INSERT INTO nadia_bgw.table_catalog (relid, schemaname, relname, first_seen)
VALUES (4000000001, 'public', 'interactions', '2026-01-01');
UPDATE nadia_bgw.tier_state SET done_until = '2026-03-04 00:00+00' WHERE tier = 'hourly';
INSERT INTO nadia_bgw.table_hourly (sampled_at, relid, n_tup_ins, n_tup_upd, samples)
SELECT h, 4000000001,
       CASE WHEN extract(isodow FROM h) < 6 AND extract(hour FROM h) BETWEEN 8 AND 20
            THEN 570 + abs(hashtext(extract(epoch FROM h)::bigint::text)) % 60 ELSE 30 END,
       10, 60
  FROM generate_series(timestamptz '2026-02-04', '2026-03-03 23:00', '1 hour') h;
INSERT INTO nadia_bgw.samples (sampled_at, duration_ms, taken_by, outcome)
SELECT ts, 1, 'test', '{}'
  FROM generate_series(timestamptz '2026-03-04 13:00', '2026-03-04 14:05', '1 minute') ts;
INSERT INTO nadia_bgw.table_samples (sampled_at, relid, n_tup_ins)
SELECT ts, 4000000001, 9 + (extract(minute FROM ts)::int % 3)
  FROM generate_series(timestamptz '2026-03-04 13:01', '2026-03-04 14:00', '1 minute') ts;
-- before the stop: writes as usual (the first run judges the last hour)
SELECT nadia_bgw._quality_anomalies('2026-03-04 14:00+00') AS anomalies;
SELECT metric, last_status, judged > 0 AS judged
  FROM nadia_bgw.anomaly_series WHERE kind = 'table_writes' ORDER BY metric;
-- one sample without inserts: not yet (the window is two samples)
SELECT nadia_bgw._quality_anomalies('2026-03-04 14:01+00') AS anomalies;
-- the second one: flagged
SELECT nadia_bgw._quality_anomalies('2026-03-04 14:02+00') AS anomalies;
SELECT source, metric, bucket_start, bucket_end, observed, round(median::numeric, 1) AS median,
       expected_low > 0 AS low_above_zero, direction, seasons
  FROM nadia_bgw.data_anomalies('2026-03-04', '2026-03-05') WHERE kind = 'table_writes';
SELECT object, metric, observed, details->>'direction' AS direction
  FROM nadia_bgw._anomaly_alerts() WHERE object_type = 'table';
-- still stopped: each new sample is flagged
SELECT nadia_bgw._quality_anomalies('2026-03-04 14:05+00') AS still_stopped;

-- the reader reads the results, not the rollups
SELECT has_function_privilege('nadia_bgw_reader', 'nadia_bgw.data_anomalies(timestamptz, timestamptz)', 'EXECUTE') AS reader_function,
       has_table_privilege('nadia_bgw_reader', 'nadia_bgw.metric_anomalies', 'SELECT') AS reader_table,
       has_function_privilege('nadia_bgw_reader', 'nadia_bgw._quality_anomalies(timestamptz)', 'EXECUTE') AS reader_task;

-- retention: a run deletes anomalies whose bucket ended more than
-- anomaly_retention_days before its instant
SELECT count(*) > 0 AS kept FROM nadia_bgw.metric_anomalies;
SET nadia_bgw.anomaly_retention_days = 30;
SELECT nadia_bgw._quality_anomalies('2026-04-04 12:00+00') AS anomalies;
SELECT min(bucket_start) AS oldest_kept, count(*) AS kept FROM nadia_bgw.metric_anomalies;
RESET nadia_bgw.anomaly_retention_days;

-- a dropped rollup's state goes with it
SELECT nadia_bgw.drop_rollup('anom_model');
SELECT nadia_bgw._quality_anomalies('2026-03-07 00:00+00') >= 0 AS ran;
SELECT count(*) AS model_series FROM nadia_bgw.anomaly_series WHERE source = 'public.anom_model';

SELECT nadia_bgw.drop_rollup('anom_daily');
SELECT nadia_bgw.drop_rollup('anom_hourly');
DROP TABLE msgs;
DROP EXTENSION nadia_bgw;
