-- bench/quality/history.sql -- the history the quality tasks read, at the
-- sampling bench's scale, synthesized SQL-side (the bench has not the time
-- to sample it): written before :'now' so that the real samples and the
-- quality functions called with now() find it.
--
--   * size history (capacity): every table and index the sampler knows
--     (table_catalog, index_catalog) and the database, hourly for the 7
--     days before :'now' and daily for the 30 days before, growing
--     linearly with +-5% noise; the table rows carry insert/update/delete
--     counts too (the anomalies task's write rates read table_hourly);
--   * capacity_samples: every sequence, the transaction and multixact
--     counters, the filesystems and connections, hourly for 8 days and one
--     row per UTC day before, up to 35 days (what _capacity_record keeps);
--   * distribution_samples: one ANALYZE a day of every column of every
--     bench table for 30 days;
--   * a rollup (hourly and daily buckets, 60 days) over bench_events, for
--     the anomalies task's rollup judgements.
--
--   psql -v now="$(date -u +%FT%TZ)" -f bench/quality/history.sql

SET TimeZone = 'UTC';
SELECT count(nadia_bgw.ensure_partitions('hourly', g))
  FROM generate_series(:'now'::timestamptz - interval '8 days', :'now', '1 day') g;
SELECT count(nadia_bgw.ensure_partitions('daily', g))
  FROM generate_series(:'now'::timestamptz - interval '31 days', :'now', '1 day') g;

-- hour h (1..168) before now, day d (1..30) before now
CREATE TEMP TABLE hours AS
  SELECT date_trunc('hour', :'now'::timestamptz) - h * interval '1 hour' AS at, h FROM generate_series(1, 168) h;
CREATE TEMP TABLE days AS
  SELECT date_trunc('day', :'now'::timestamptz) - d * interval '1 day' AS at, d * 24 AS h FROM generate_series(1, 30) d;

-- size(object, h hours ago) = base + rate * (720 - h) / 24, +-5% noise
CREATE TEMP TABLE objs AS
  SELECT 'table' AS kind, t.relid AS objid, 8192 * (100 + t.relid::int8 % 50) AS base,
         81920 * (1 + t.relid::int8 % 7) AS rate
    FROM nadia_bgw.table_catalog t WHERE t.dropped_at IS NULL AND t.schemaname = 'public'
  UNION ALL
  SELECT 'index', i.indexrelid, 8192 * (20 + i.indexrelid::int8 % 30), 16384 * (1 + i.indexrelid::int8 % 5)
    FROM nadia_bgw.index_catalog i WHERE i.dropped_at IS NULL AND i.schemaname = 'public';

CREATE FUNCTION pg_temp.sz(base bigint, rate bigint, h integer, objid oid) RETURNS bigint
LANGUAGE sql IMMUTABLE AS
$$ SELECT (($1 + $2 * (720 - $3) / 24.0)
           * (0.95 + 0.1 * (abs(hashint8($4::int8 * 1000 + $3)) % 1000) / 1000.0))::bigint $$;

INSERT INTO nadia_bgw.table_hourly (sampled_at, relid, n_tup_ins, n_tup_upd, n_tup_del, n_live_tup,
                                    heap_bytes, index_bytes, total_bytes)
SELECT x.at, o.objid, 100 + o.objid::int8 % 40, 20, 1, 200, 0, 0, pg_temp.sz(o.base, o.rate, x.h, o.objid)
  FROM objs o, hours x WHERE o.kind = 'table';
INSERT INTO nadia_bgw.table_daily (sampled_at, relid, n_tup_ins, n_tup_upd, n_tup_del, n_live_tup,
                                   heap_bytes, index_bytes, total_bytes)
SELECT x.at, o.objid, 2400 + o.objid::int8 % 40, 480, 24, 200, 0, 0, pg_temp.sz(o.base, o.rate, x.h, o.objid)
  FROM objs o, days x WHERE o.kind = 'table';
INSERT INTO nadia_bgw.index_hourly (sampled_at, indexrelid, index_bytes)
SELECT x.at, o.objid, pg_temp.sz(o.base, o.rate, x.h, o.objid) FROM objs o, hours x WHERE o.kind = 'index';
INSERT INTO nadia_bgw.index_daily (sampled_at, indexrelid, index_bytes)
SELECT x.at, o.objid, pg_temp.sz(o.base, o.rate, x.h, o.objid) FROM objs o, days x WHERE o.kind = 'index';
INSERT INTO nadia_bgw.database_hourly (sampled_at, datid, size_bytes)
SELECT x.at, d.oid, pg_temp.sz(100000000, 50000000, x.h, d.oid) FROM pg_database d, hours x
 WHERE d.datname = current_database();
INSERT INTO nadia_bgw.database_daily (sampled_at, datid, size_bytes)
SELECT x.at, d.oid, pg_temp.sz(100000000, 50000000, x.h, d.oid) FROM pg_database d, days x
 WHERE d.datname = current_database();

-- capacity_samples: hourly for 8 days, then the day's last row up to 35 days
CREATE TEMP TABLE cap_at AS
  SELECT date_trunc('hour', :'now'::timestamptz) - h * interval '1 hour' AS at, h
    FROM generate_series(1, 8 * 24) h
  UNION ALL
  SELECT date_trunc('day', :'now'::timestamptz) - d * interval '1 day' - interval '1 hour', d * 24 + 1
    FROM generate_series(8, 34) d;
INSERT INTO nadia_bgw.capacity_samples
SELECT x.at, 'sequence', c.oid, format('%I.%I', n.nspname, c.relname),
       1000 + (c.oid::int8 % 97) * (840 - x.h), 2147483647, NULL
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, cap_at x
 WHERE c.relkind = 'S' AND n.nspname = 'public';
INSERT INTO nadia_bgw.capacity_samples
SELECT x.at, 'xid', d.oid, d.datname, 1000000 + 1000 * (840 - x.h), NULL, 5000000 + 2000 * (840 - x.h)
  FROM pg_database d, cap_at x WHERE d.datallowconn;
INSERT INTO nadia_bgw.capacity_samples
SELECT x.at, 'mxid', d.oid, d.datname, 10 * (840 - x.h), NULL, 100 + 10 * (840 - x.h)
  FROM pg_database d, cap_at x WHERE d.datallowconn;
INSERT INTO nadia_bgw.capacity_samples
SELECT x.at, 'filesystem', f.objid, f.object, f.total_bytes / 2 + 1000000 * (840 - x.h), f.total_bytes, NULL
  FROM nadia_bgw._capacity_filesystems() f, cap_at x;
INSERT INTO nadia_bgw.capacity_samples
SELECT x.at, 'connections', 0, 'server', 5 + x.h % 7, 100, NULL FROM cap_at x;

-- one ANALYZE a day of every column of the bench tables, 30 days
INSERT INTO nadia_bgw.distribution_samples
       (sampled_at, analyzed_at, relid, attnum, schemaname, relname, attname, reltuples,
        null_frac, n_distinct, n_distinct_abs, top_freq, correlation, avg_width)
SELECT x.at, x.at, c.oid, a.attnum, n.nspname, c.relname, a.attname, 200,
       0, -1, 200, NULL, 0.5, 4
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped, days x
 WHERE c.relkind = 'r' AND n.nspname = 'public' AND c.relname LIKE 'bench\_t%';

-- the rollup's source: 60 days of events with a weekly shape, refreshed
-- into hourly and daily buckets
CREATE TABLE bench_events (at timestamptz NOT NULL, user_id int, cost numeric);
CREATE INDEX ON bench_events (at);
INSERT INTO bench_events
SELECT h + (i * 7 % 60) * interval '1 minute', i % 17, 0.01 * (i % 5)
  FROM generate_series(date_trunc('hour', :'now'::timestamptz) - interval '60 days',
                       date_trunc('hour', :'now'::timestamptz) - interval '1 hour', '1 hour') h,
       generate_series(1, CASE WHEN extract(isodow FROM h) >= 6 THEN 10 ELSE 20 END) i;
SELECT nadia_bgw.create_rollup(name => 'bench_daily', source => 'bench_events', time_column => 'at',
    bucket => '1 day', bucket_column => 'date', timezone => 'UTC',
    aggregates => ARRAY['COUNT(*) AS messages', 'COUNT(DISTINCT user_id) AS users', 'SUM(cost) AS cost'])::text;
SELECT nadia_bgw.create_rollup(name => 'bench_hourly', source => 'bench_events', time_column => 'at',
    bucket => '1 hour', bucket_column => 'hour', timezone => 'UTC',
    aggregates => ARRAY['COUNT(*) AS messages', 'SUM(cost) AS cost'])::text;
SELECT nadia_bgw.refresh_rollup('bench_daily') >= 0, nadia_bgw.refresh_rollup('bench_hourly') >= 0;
