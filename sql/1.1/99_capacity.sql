
-- nadia_bgw 1.0 -> 1.1 -- capacity forecasts (docs/capacity.md).
--
-- The "capacity" task of the worker calls _quality_capacity(now) once per
-- cycle.  Once an hour it records in capacity_samples what statistics
-- history does not hold already: how full each filesystem is (the data
-- directory, pg_wal, each tablespace: statvfs through _fs_space()), the
-- cluster's transaction and multixact counters with each database's
-- age(datfrozenxid) and mxid_age(datminmxid), every sequence's last value
-- and limit, and (every cycle) the hour's peak of client connections.
-- Table, index and database sizes come from history (table_*, index_*,
-- database_* tiers).  It keeps the forecasts in capacity_forecasts (which
-- the "capacity" alert and the MCP tool read) incrementally: the points of
-- each series in capacity_buckets, recomputed hourly only where rows can
-- still arrive, and a batch of series refit per cycle (capacity_series),
-- each series once an hour; capacity_forecast(now) computes the same from
-- history at each call.

-- One row per object per hour (the first cycle of the hour; connections
-- keep the hour's peak), one per UTC day after 8 days, none after 35
-- days: at 1,000 sequences about 220,000 rows.  A plain table: small,
-- deleted by the task itself.
--   kind        filesystem, xid, mxid, sequence, connections
--   objid       tablespace oid (data_directory = pg_default), 0 for pg_wal;
--               database oid (xid, mxid); sequence oid; 0 (connections)
--   object      data_directory, pg_wal, "tablespace <name>"; database
--               name; schema-qualified sequence name; "server"
--   value       used bytes (total - free); age(datfrozenxid);
--               mxid_age(datminmxid); the sequence's last value (negated
--               for a descending sequence); client connections
--   limit_value total bytes; NULL (xid, mxid: the limits are settings);
--               max_value (or -min_value), capped by the type of the
--               column owning the sequence; max_connections
--   counter     xid: the cluster's next transaction id (64 bits); mxid: the
--               next multixact id, unwrapped past 2^32; else NULL
CREATE TABLE nadia_bgw.capacity_samples (
    sampled_at timestamptz NOT NULL,
    kind text NOT NULL,
    objid oid NOT NULL,
    object text NOT NULL,
    value numeric NOT NULL,
    limit_value numeric,
    counter numeric,
    PRIMARY KEY (kind, objid, sampled_at)
);
CREATE INDEX ON nadia_bgw.capacity_samples (sampled_at);

-- The forecasts as of the task's last hourly run (capacity_forecast()'s
-- columns and computed_at); the "capacity" detector reads them.
CREATE TABLE nadia_bgw.capacity_forecasts (
    computed_at timestamptz NOT NULL,
    kind text NOT NULL, objid oid NOT NULL, object text NOT NULL, unit text NOT NULL,
    current_value numeric, limit_value numeric,
    slope_7d double precision, slope_30d double precision,
    fit_7d double precision, fit_30d double precision,
    points_7d integer, points_30d integer,
    days_to_limit double precision, basis text NOT NULL,
    PRIMARY KEY (kind, objid)
);

CREATE FUNCTION nadia_bgw._fs_space(path text,
    OUT total_bytes bigint, OUT free_bytes bigint, OUT device bigint)
RETURNS record
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'nadia_bgw_fs_space';
REVOKE ALL ON FUNCTION nadia_bgw._fs_space(text) FROM PUBLIC;

-- The filesystems to watch: the data directory, pg_wal (a symbolic link
-- when initdb --waldir put it elsewhere: statvfs follows it) and each
-- tablespace's location.  A directory that cannot be read is left out
-- (its row is missing that hour) rather than failing the task.
CREATE FUNCTION nadia_bgw._capacity_filesystems()
RETURNS TABLE (objid oid, object text, total_bytes bigint, free_bytes bigint, device bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d record;
    s record;
BEGIN
    FOR d IN
        SELECT 1663::oid AS oid, 'data_directory' AS object, '.' AS path
        UNION ALL SELECT 0, 'pg_wal', 'pg_wal'
        UNION ALL
        SELECT t.oid, 'tablespace ' || t.spcname, pg_tablespace_location(t.oid)
          FROM pg_tablespace t
         WHERE t.spcname NOT IN ('pg_default', 'pg_global')
           AND pg_tablespace_location(t.oid) <> ''
    LOOP
        BEGIN
            SELECT * INTO s FROM nadia_bgw._fs_space(d.path);
        EXCEPTION WHEN OTHERS THEN
            CONTINUE;
        END;
        objid := d.oid; object := d.object;
        total_bytes := s.total_bytes; free_bytes := s.free_bytes; device := s.device;
        RETURN NEXT;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._capacity_filesystems() FROM PUBLIC;

-- Record what the hour has not recorded yet; returns the rows written.
CREATE FUNCTION nadia_bgw._capacity_record(p_now timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_hour timestamptz := to_timestamp(floor(extract(epoch FROM p_now) / 3600) * 3600);
    v_conn numeric;
    v_n bigint := 0;
    v_rows bigint;
    v_prev numeric;
    v_next numeric;
    v_old timestamptz;
BEGIN
    -- connections: the hour's peak of what each cycle sees
    SELECT count(*) INTO v_conn FROM pg_stat_activity WHERE backend_type = 'client backend';
    UPDATE nadia_bgw.capacity_samples c
       SET value = greatest(c.value, v_conn),
           limit_value = current_setting('max_connections')::numeric
     WHERE c.kind = 'connections' AND c.objid = 0
       AND c.sampled_at >= v_hour AND c.sampled_at < v_hour + interval '1 hour';
    IF NOT FOUND THEN
        INSERT INTO nadia_bgw.capacity_samples
        VALUES (p_now, 'connections', 0, 'server', v_conn,
                current_setting('max_connections')::numeric, NULL)
        ON CONFLICT DO NOTHING;
    END IF;

    IF EXISTS (SELECT 1 FROM nadia_bgw.capacity_samples c
                WHERE c.kind = 'xid' AND c.sampled_at >= v_hour
                  AND c.sampled_at < v_hour + interval '1 hour') THEN
        RETURN 0;
    END IF;

    INSERT INTO nadia_bgw.capacity_samples
    SELECT p_now, 'filesystem', f.objid, f.object, f.total_bytes - f.free_bytes, f.total_bytes, NULL
      FROM nadia_bgw._capacity_filesystems() f;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    v_n := v_n + v_rows;

    -- the transaction counter without assigning a transaction id
    INSERT INTO nadia_bgw.capacity_samples
    SELECT p_now, 'xid', d.oid, d.datname, age(d.datfrozenxid), NULL,
           pg_snapshot_xmax(pg_current_snapshot())::text::numeric
      FROM pg_database d WHERE d.datallowconn;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    v_n := v_n + v_rows;

    -- the next multixact id is datminmxid + mxid_age(datminmxid), modulo
    -- 2^32; unwrapped from the previous row so that the counter only grows
    SELECT max((d.datminmxid::text::numeric + mxid_age(d.datminmxid)) % 4294967296)
      INTO v_next FROM pg_database d WHERE d.datallowconn;
    SELECT c.counter INTO v_prev FROM nadia_bgw.capacity_samples c
     WHERE c.kind = 'mxid' AND c.sampled_at < p_now
     ORDER BY c.sampled_at DESC LIMIT 1;
    IF v_prev IS NOT NULL THEN
        v_next := v_prev + ((v_next - v_prev % 4294967296) + 4294967296) % 4294967296;
    END IF;
    INSERT INTO nadia_bgw.capacity_samples
    SELECT p_now, 'mxid', d.oid, d.datname, mxid_age(d.datminmxid), NULL, v_next
      FROM pg_database d WHERE d.datallowconn;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    v_n := v_n + v_rows;

    -- sequences of this database that can run out (not CYCLE), with a
    -- value; the limit is the column's type when the sequence belongs to
    -- an int2/int4 column (a bigint sequence behind an int4 key)
    INSERT INTO nadia_bgw.capacity_samples
    SELECT p_now, 'sequence', c.oid, format('%I.%I', s.schemaname, s.sequencename),
           CASE WHEN s.increment_by > 0 THEN s.last_value ELSE -s.last_value::numeric END,
           CASE WHEN s.increment_by > 0
                THEN least(s.max_value::numeric, coalesce(col.maxv, s.max_value))
                ELSE least(-s.min_value::numeric, coalesce(col.maxv + 1, -s.min_value::numeric)) END,
           NULL
      FROM pg_sequences s
      JOIN pg_class c ON c.relname = s.sequencename
      JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname
      LEFT JOIN LATERAL (
           SELECT min(CASE a.atttypid WHEN 'int2'::regtype THEN 32767::numeric
                                      WHEN 'int4'::regtype THEN 2147483647::numeric END) AS maxv
             FROM pg_depend dp
             JOIN pg_attribute a ON a.attrelid = dp.refobjid AND a.attnum = dp.refobjsubid
            WHERE dp.classid = 'pg_class'::regclass AND dp.objid = c.oid
              AND dp.refclassid = 'pg_class'::regclass AND dp.refobjsubid > 0
              AND dp.deptype IN ('a', 'i')) col ON true
     WHERE NOT s.cycle AND s.last_value IS NOT NULL;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    v_n := v_n + v_rows;

    -- after 8 days one row per object and UTC day: the day's last, and for
    -- connections the day's peak.  Only the days that crossed the 8-day
    -- line lately (within the 3 days before it, whole UTC days): the older
    -- ones were reduced by earlier runs (rows that crossed it while the
    -- worker was stopped longer stay until the 35 days), and reading
    -- them all every hour would cost more than the rest of the task
    v_old := to_timestamp(floor(extract(epoch FROM p_now - interval '11 days') / 86400) * 86400);
    UPDATE nadia_bgw.capacity_samples c
       SET value = g.peak
      FROM (SELECT s.objid, floor(extract(epoch FROM s.sampled_at) / 86400) AS day,
                   max(s.sampled_at) AS last_at, max(s.value) AS peak
              FROM nadia_bgw.capacity_samples s
             WHERE s.kind = 'connections' AND s.sampled_at < p_now - interval '8 days'
               AND s.sampled_at >= v_old
             GROUP BY 1, 2 HAVING count(*) > 1) g
     WHERE c.kind = 'connections' AND c.objid = g.objid AND c.sampled_at = g.last_at;
    DELETE FROM nadia_bgw.capacity_samples c
     WHERE c.sampled_at < p_now - interval '8 days' AND c.sampled_at >= v_old
       AND EXISTS (SELECT 1 FROM nadia_bgw.capacity_samples l
                    WHERE l.kind = c.kind AND l.objid = c.objid
                      AND l.sampled_at > c.sampled_at
                      AND l.sampled_at < p_now - interval '8 days'
                      AND floor(extract(epoch FROM l.sampled_at) / 86400)
                          = floor(extract(epoch FROM c.sampled_at) / 86400));
    DELETE FROM nadia_bgw.capacity_samples c WHERE c.sampled_at < p_now - interval '35 days';
    RETURN v_n;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._capacity_record(timestamptz) FROM PUBLIC;

-- A size gauge of history over (since, until], from the three tiers of
-- <kind>_samples, <kind>_hourly and <kind>_daily: the rows where it was
-- measured.
CREATE FUNCTION nadia_bgw._capacity_sizes(p_kind text, p_key text, p_column text,
                                          p_since timestamptz, p_until timestamptz)
RETURNS TABLE (objid oid, sampled_at timestamptz, bytes bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
BEGIN
    -- the reader may call it: only the three gauges, whatever it is given
    IF (p_kind, p_key, p_column) NOT IN (('database', 'datid', 'size_bytes'),
                                         ('table', 'relid', 'total_bytes'),
                                         ('index', 'indexrelid', 'index_bytes')) THEN
        RAISE EXCEPTION 'no size history "%"', p_kind
              USING ERRCODE = 'invalid_parameter_value',
                    HINT = 'The sizes are those of databases, tables and indexes.';
    END IF;
    FOREACH t IN ARRAY ARRAY['_samples', '_hourly', '_daily'] LOOP
        RETURN QUERY EXECUTE format(
            'SELECT r.%2$I, r.sampled_at, r.%3$I FROM nadia_bgw.%1$I r'
            ' WHERE r.sampled_at > $1 AND r.sampled_at <= $2 AND r.%3$I IS NOT NULL',
            p_kind || t, p_key, p_column)
        USING p_since, p_until;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._capacity_sizes(text, text, text, timestamptz, timestamptz) FROM PUBLIC;

-- Every series the forecasts fit, over (since, until]: y is what grows
-- (the counter for xid and mxid, whose ages fall at each freeze, else the
-- value).  Sizes of databases, tables and indexes come from the three
-- history tiers: a bucket of the fit takes the median of what falls in it,
-- so the overlap of tiers does not matter.  Tables and indexes dropped
-- since are left out.
CREATE FUNCTION nadia_bgw._capacity_points(p_since timestamptz, p_until timestamptz)
RETURNS TABLE (kind text, objid oid, object text, sampled_at timestamptz,
               value numeric, limit_value numeric, y double precision)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.kind, c.objid, c.object, c.sampled_at, c.value, c.limit_value,
           coalesce(c.counter, c.value)::float8
      FROM nadia_bgw.capacity_samples c
     WHERE c.sampled_at > p_since AND c.sampled_at <= p_until
    UNION ALL
    SELECT 'database', h.objid, coalesce(d.datname::text, h.objid::text), h.sampled_at,
           h.bytes, NULL, h.bytes::float8
      FROM nadia_bgw._capacity_sizes('database', 'datid', 'size_bytes', p_since, p_until) h
      LEFT JOIN pg_database d ON d.oid = h.objid
    UNION ALL
    SELECT 'table', h.objid, format('%I.%I', t.schemaname, t.relname), h.sampled_at,
           h.bytes, NULL, h.bytes::float8
      FROM nadia_bgw._capacity_sizes('table', 'relid', 'total_bytes', p_since, p_until) h
      JOIN nadia_bgw.table_catalog t ON t.relid = h.objid AND t.dropped_at IS NULL
    UNION ALL
    SELECT 'index', h.objid, format('%I.%I', i.schemaname, i.indexrelname), h.sampled_at,
           h.bytes, NULL, h.bytes::float8
      FROM nadia_bgw._capacity_sizes('index', 'indexrelid', 'index_bytes', p_since, p_until) h
      JOIN nadia_bgw.index_catalog i ON i.indexrelid = h.objid AND i.dropped_at IS NULL
$$;
REVOKE ALL ON FUNCTION nadia_bgw._capacity_points(timestamptz, timestamptz) FROM PUBLIC;

-- The points of the fits: each series cut into UTC-aligned buckets of
-- 6 hours (width 21600, the 7-day fit) and 1 day (86400, the 30-day fit).
-- A bucket's point is the median time and median y of the rows in it that
-- are in [since, until] (connections: the bucket's peak), with the bucket's
-- last row (object name, value, limit) for the series' current value.
-- capacity_forecast() computes them from history at each call; the
-- capacity task keeps them in capacity_buckets and recomputes only the
-- buckets that can still change (docs/capacity.md, "Cost").
CREATE FUNCTION nadia_bgw._capacity_bucketize(p_since timestamptz, p_until timestamptz)
RETURNS TABLE (kind text, objid oid, width integer, bucket bigint,
               x double precision, y double precision,
               object text, last_at timestamptz, last_value numeric, last_limit numeric)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.kind, r.objid, w.width, floor(extract(epoch FROM r.sampled_at) / w.width)::bigint,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.sampled_at)::float8),
           CASE WHEN r.kind = 'connections' THEN max(r.y)
                ELSE percentile_cont(0.5) WITHIN GROUP (ORDER BY r.y) END,
           (array_agg(r.object ORDER BY r.sampled_at DESC))[1],
           max(r.sampled_at),
           (array_agg(r.value ORDER BY r.sampled_at DESC))[1],
           (array_agg(r.limit_value ORDER BY r.sampled_at DESC))[1]
      FROM nadia_bgw._capacity_points(p_since - interval '1 microsecond', p_until) r
     CROSS JOIN (VALUES (21600), (86400)) w(width)
     GROUP BY r.kind, r.objid, w.width, floor(extract(epoch FROM r.sampled_at) / w.width)
$$;
REVOKE ALL ON FUNCTION nadia_bgw._capacity_bucketize(timestamptz, timestamptz) FROM PUBLIC;

-- The capacity task's buckets (_capacity_bucketize's rows, 31 days): only
-- those that can still receive rows are recomputed, once an hour.
CREATE TABLE nadia_bgw.capacity_buckets (
    kind text NOT NULL, objid oid NOT NULL, width integer NOT NULL, bucket bigint NOT NULL,
    x double precision NOT NULL, y double precision NOT NULL,
    object text NOT NULL, last_at timestamptz NOT NULL,
    last_value numeric NOT NULL, last_limit numeric,
    PRIMARY KEY (kind, objid, width, bucket)
);
CREATE INDEX ON nadia_bgw.capacity_buckets (last_at);

-- Each series of capacity_buckets, due when its forecast predates the
-- hour's buckets.
CREATE TABLE nadia_bgw.capacity_series (
    kind text NOT NULL, objid oid NOT NULL, due boolean NOT NULL DEFAULT true,
    PRIMARY KEY (kind, objid)
);

-- A forecast, as capacity_forecast() and _capacity_fit() return it (the
-- columns are described at capacity_forecast()).
CREATE TYPE nadia_bgw.capacity_forecast_row AS (
    kind text, object text, objid oid, unit text,
    current_value numeric, limit_value numeric,
    slope_7d double precision, slope_30d double precision,
    fit_7d double precision, fit_30d double precision,
    points_7d integer, points_30d integer,
    days_to_limit double precision, basis text
);

-- The forecasts as of p_now from bucket points: those of history
-- (p_kinds NULL: every series, computed now) or those kept in
-- capacity_buckets for the series (p_kinds[i], p_objids[i]) (the task).
-- A fit takes the buckets that overlap its window, (p_now - 7 days, p_now]
-- in 6-hour buckets, (p_now - 30 days, p_now] in 1-day buckets.
CREATE FUNCTION nadia_bgw._capacity_fit(p_now timestamptz, p_kinds text[], p_objids oid[])
RETURNS SETOF nadia_bgw.capacity_forecast_row
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH src AS (
        SELECT b.* FROM nadia_bgw._capacity_bucketize(p_now - interval '31 days', p_now) b
         WHERE p_kinds IS NULL
        UNION ALL
        SELECT c.kind, c.objid, c.width, c.bucket, c.x, c.y, c.object, c.last_at, c.last_value, c.last_limit
          FROM unnest(p_kinds, p_objids) s(kind, objid)
          JOIN nadia_bgw.capacity_buckets c ON c.kind = s.kind AND c.objid = s.objid
         WHERE p_kinds IS NOT NULL AND c.last_at <= p_now),
    buckets AS (
        SELECT CASE b.width WHEN 21600 THEN 7 ELSE 30 END AS win, b.*
          FROM src b
         WHERE (b.bucket + 1) * b.width > extract(epoch FROM p_now)
                                          - CASE b.width WHEN 21600 THEN 7 ELSE 30 END * 86400),
    latest AS (
        SELECT DISTINCT ON (b.kind, b.objid) b.kind, b.objid, b.object,
               b.last_value AS value, b.last_limit AS limit_value
          FROM buckets b WHERE b.win = 30 ORDER BY b.kind, b.objid, b.last_at DESC),
    peaks AS (
        SELECT b.kind, b.objid, max(b.y)::numeric AS peak_7d
          FROM buckets b WHERE b.kind = 'connections' AND b.win = 7
         GROUP BY b.kind, b.objid),
    slopes AS (
        SELECT a.win, a.kind, a.objid,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY (b.y - a.y) / (b.x - a.x)) AS s
          FROM buckets a JOIN buckets b
            ON b.win = a.win AND b.kind = a.kind AND b.objid = a.objid AND b.x > a.x
         GROUP BY a.win, a.kind, a.objid),
    lines AS (
        SELECT b.win, b.kind, b.objid, s.s, count(*)::int AS n,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY b.y - s.s * b.x) AS a,
               avg(b.y) AS ybar
          FROM buckets b JOIN slopes s USING (win, kind, objid)
         GROUP BY b.win, b.kind, b.objid, s.s),
    fits AS (
        SELECT l.win, l.kind, l.objid, l.n,
               CASE WHEN l.n >= 3 THEN l.s * 86400 END AS slope,
               CASE WHEN l.n >= 3 AND sum((b.y - l.ybar) ^ 2) > 0
                    THEN greatest(0, 1 - sum((b.y - (l.a + l.s * b.x)) ^ 2)
                                         / sum((b.y - l.ybar) ^ 2)) END AS fit
          FROM lines l JOIN buckets b USING (win, kind, objid)
         GROUP BY l.win, l.kind, l.objid, l.n, l.s),
    series AS (
        SELECT t.kind, t.objid, t.object, t.value, t.limit_value,
               f7.slope AS slope_7d, f30.slope AS slope_30d, f7.fit AS fit_7d, f30.fit AS fit_30d,
               coalesce(f7.n, 0) AS points_7d, coalesce(f30.n, 0) AS points_30d,
               p.peak_7d
          FROM latest t
          LEFT JOIN peaks p ON p.kind = t.kind AND p.objid = t.objid
          LEFT JOIN fits f7 ON f7.win = 7 AND f7.kind = t.kind AND f7.objid = t.objid
          LEFT JOIN fits f30 ON f30.win = 30 AND f30.kind = t.kind AND f30.objid = t.objid),
    -- what the data directory's filesystem grows by when its own history
    -- is too short: the databases' growth
    dbsum AS (
        SELECT sum(s.slope_7d) AS slope FROM series s WHERE s.kind = 'database'),
    rows AS (
        SELECT s.kind, s.object, s.objid, 'bytes' AS unit, s.value AS cur, s.limit_value AS lim,
               s.slope_7d, s.slope_30d, s.fit_7d, s.fit_30d, s.points_7d, s.points_30d,
               CASE WHEN s.kind = 'filesystem' AND s.slope_7d IS NULL AND s.slope_30d IS NULL
                         AND s.objid = 1663 THEN (SELECT d.slope FROM dbsum d) END AS alt_slope,
               'growth of the databases' AS alt_basis
          FROM series s WHERE s.kind IN ('filesystem', 'database', 'table', 'index')
        UNION ALL
        SELECT s.kind, s.object, s.objid, 'values', s.value, s.limit_value,
               s.slope_7d, s.slope_30d, s.fit_7d, s.fit_30d, s.points_7d, s.points_30d, NULL, NULL
          FROM series s WHERE s.kind = 'sequence'
        UNION ALL
        SELECT 'connections', s.object, s.objid, 'connections', s.peak_7d, s.limit_value,
               s.slope_7d, s.slope_30d, s.fit_7d, s.fit_30d, s.points_7d, s.points_30d, NULL, NULL
          FROM series s WHERE s.kind = 'connections'
        UNION ALL
        SELECT s.kind || l.suffix, s.object, s.objid,
               CASE s.kind WHEN 'xid' THEN 'transactions' ELSE 'multixacts' END,
               s.value, l.lim,
               s.slope_7d, s.slope_30d, s.fit_7d, s.fit_30d, s.points_7d, s.points_30d, NULL, NULL
          FROM series s
         CROSS JOIN LATERAL (VALUES
               ('_freeze', current_setting(CASE s.kind WHEN 'xid' THEN 'autovacuum_freeze_max_age'
                                                   ELSE 'autovacuum_multixact_freeze_max_age' END)::numeric),
               ('_wraparound', 2147483648::numeric - 3000000)) l(suffix, lim)
         WHERE s.kind IN ('xid', 'mxid'))
    SELECT r.kind, r.object, r.objid, r.unit, r.cur, r.lim,
           r.slope_7d, r.slope_30d, r.fit_7d, r.fit_30d, r.points_7d, r.points_30d,
           CASE WHEN r.lim IS NULL THEN NULL
                WHEN r.cur >= r.lim THEN 0
                WHEN g.slope > 0 THEN (r.lim - r.cur)::float8 / g.slope END,
           CASE WHEN r.lim IS NULL THEN 'no limit'
                WHEN r.cur >= r.lim THEN 'at the limit'
                WHEN g.slope IS NULL THEN 'too little history'
                WHEN g.slope <= 0 THEN 'not growing (' || g.basis || ')'
                ELSE g.basis END
      FROM rows r
     CROSS JOIN LATERAL (SELECT coalesce(r.slope_7d, r.slope_30d, r.alt_slope) AS slope,
                                CASE WHEN r.slope_7d IS NOT NULL THEN 'slope_7d'
                                     WHEN r.slope_30d IS NOT NULL THEN 'slope_30d'
                                     ELSE r.alt_basis END AS basis) g
     ORDER BY 13 NULLS LAST, 1, 2
$$;
REVOKE ALL ON FUNCTION nadia_bgw._capacity_fit(timestamptz, text[], oid[]) FROM PUBLIC;

-- The forecasts as of p_now, one row per object, computed from history at
-- each call (docs/capacity.md; readers should prefer capacity_forecasts,
-- the task's stored result, which costs nothing to read):
--   kind           filesystem, database, table, index, xid_freeze,
--                  xid_wraparound, mxid_freeze, mxid_wraparound, sequence,
--                  connections
--   object, objid  what (see capacity_samples; tables and indexes
--                  schema-qualified)
--   unit           bytes, transactions, multixacts, values, connections
--   current_value  the latest value (sizes, used bytes, ages, the
--                  sequence's last value); connections: the peak of the
--                  last 7 days
--   limit_value    total bytes; autovacuum_freeze_max_age or
--                  autovacuum_multixact_freeze_max_age; 2^31 - 3,000,000
--                  (where PostgreSQL stops assigning ids); the sequence's
--                  last possible value; max_connections; NULL when none
--   slope_7d, slope_30d  growth per day: the Theil-Sen slope (median of
--                  the slopes between every pair of points) over points
--                  that are the medians of the 6-hour (7 days) and 1-day
--                  (30 days) buckets overlapping the window; connections
--                  take each bucket's peak
--   fit_7d, fit_30d  R^2 of that robust line: 1 = the points lie on it;
--                  NULL when the points do not vary
--   points_7d, points_30d  buckets the fit had (3 at least, else no slope)
--   days_to_limit  (limit - current) / slope_7d, or slope_30d without a
--                  7-day slope; 0 when at or past the limit; NULL when
--                  there is no limit or the series is not growing
--   basis          how days_to_limit was found, in words
CREATE FUNCTION nadia_bgw.capacity_forecast(p_now timestamptz DEFAULT now())
RETURNS SETOF nadia_bgw.capacity_forecast_row
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM nadia_bgw._capacity_fit(p_now, NULL, NULL)
$$;
REVOKE ALL ON FUNCTION nadia_bgw.capacity_forecast(timestamptz) FROM PUBLIC;

-- The capacity task (docs/capacity.md, "Cost"): record (the first cycle
-- of an hour records everything, the others the connections' peak); in
-- the recording cycle recompute the buckets that can still change, both
-- widths, from the start of the UTC day (of the day before in the first
-- two hours of a day, while its hourly and daily tiers are written), dropping
-- buckets older than 31 days and those of dropped objects; then, every
-- cycle, refit a batch of the series whose forecast predates the hour's
-- buckets: sized so that every series is refit within 40 minutes of
-- cycles (nadia_bgw.interval), at least 100 series.  The cluster-wide
-- series (filesystems, databases, xid, mxid, connections: a handful) are
-- refit with the first batch of the hour, together, since the data
-- directory's fallback sums the databases.  Returns the rows written.
CREATE FUNCTION nadia_bgw._quality_capacity(p_now timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_n       bigint;
    v_f       bigint;
    v_since   timestamptz;
    v_batch   bigint;
    v_kinds   text[];
    v_objids  oid[];
BEGIN
    v_n := nadia_bgw._capacity_record(p_now);

    -- the buckets: all of them the first time, else those that can change
    IF v_n > 0 OR NOT EXISTS (SELECT 1 FROM nadia_bgw.capacity_buckets) THEN
        v_since := CASE WHEN EXISTS (SELECT 1 FROM nadia_bgw.capacity_buckets)
                        THEN p_now - interval '2 hours' ELSE p_now - interval '31 days' END;
        v_since := to_timestamp(floor(extract(epoch FROM v_since) / 86400) * 86400);
        -- a bucket starting at or after v_since holds rows from v_since on
        -- only, one before it none: last_at tells them apart
        DELETE FROM nadia_bgw.capacity_buckets c
         WHERE c.last_at >= v_since OR c.last_at < p_now - interval '31 days';
        DELETE FROM nadia_bgw.capacity_buckets c
         WHERE (c.kind = 'table' AND c.objid IN (SELECT t.relid FROM nadia_bgw.table_catalog t
                                                  WHERE t.dropped_at IS NOT NULL))
            OR (c.kind = 'index' AND c.objid IN (SELECT i.indexrelid FROM nadia_bgw.index_catalog i
                                                  WHERE i.dropped_at IS NOT NULL));
        INSERT INTO nadia_bgw.capacity_buckets
        SELECT b.* FROM nadia_bgw._capacity_bucketize(v_since, p_now) b;
        INSERT INTO nadia_bgw.capacity_series (kind, objid)
        SELECT DISTINCT c.kind, c.objid FROM nadia_bgw.capacity_buckets c WHERE c.last_at >= v_since
        ON CONFLICT (kind, objid) DO NOTHING;
        DELETE FROM nadia_bgw.capacity_series s
         WHERE NOT EXISTS (SELECT 1 FROM nadia_bgw.capacity_buckets c
                            WHERE c.kind = s.kind AND c.objid = s.objid);
        DELETE FROM nadia_bgw.capacity_forecasts f
         WHERE NOT EXISTS (SELECT 1 FROM nadia_bgw.capacity_series s
                            WHERE s.kind = split_part(f.kind, '_', 1) AND s.objid = f.objid);
        UPDATE nadia_bgw.capacity_series SET due = true WHERE NOT due;
    END IF;

    -- the batch: the cluster-wide series first (all in the first batch of
    -- the hour: the data directory's fallback sums the databases), then
    -- tables, indexes and sequences
    SELECT greatest(100, ceil(count(*) * extract(epoch FROM coalesce(current_setting('nadia_bgw.interval', true),
                                                                      '60s')::interval) / 2400))
      INTO v_batch FROM nadia_bgw.capacity_series;
    SELECT array_agg(s.kind), array_agg(s.objid) INTO v_kinds, v_objids
      FROM (SELECT s.kind, s.objid FROM nadia_bgw.capacity_series s WHERE s.due
             ORDER BY s.kind IN ('table', 'index', 'sequence'), s.kind, s.objid
             LIMIT v_batch) s;
    IF v_kinds IS NULL THEN
        RETURN v_n;
    END IF;
    DELETE FROM nadia_bgw.capacity_forecasts f
     USING unnest(v_kinds, v_objids) s(kind, objid)
     WHERE split_part(f.kind, '_', 1) = s.kind AND f.objid = s.objid;
    INSERT INTO nadia_bgw.capacity_forecasts
    SELECT p_now, f.kind, f.objid, f.object, f.unit, f.current_value, f.limit_value,
           f.slope_7d, f.slope_30d, f.fit_7d, f.fit_30d, f.points_7d, f.points_30d,
           f.days_to_limit, f.basis
      FROM nadia_bgw._capacity_fit(p_now, v_kinds, v_objids) f;
    GET DIAGNOSTICS v_f = ROW_COUNT;
    UPDATE nadia_bgw.capacity_series c SET due = false
      FROM unnest(v_kinds, v_objids) s(kind, objid)
     WHERE c.kind = s.kind AND c.objid = s.objid;
    RETURN v_n + v_f;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._quality_capacity(timestamptz) FROM PUBLIC;

GRANT SELECT ON nadia_bgw.capacity_samples, nadia_bgw.capacity_forecasts,
                nadia_bgw.capacity_buckets TO nadia_bgw_reader;
-- the reader may compute forecasts itself, from history it may read anyway
GRANT EXECUTE ON FUNCTION nadia_bgw.capacity_forecast(timestamptz),
                          nadia_bgw._capacity_fit(timestamptz, text[], oid[]),
                          nadia_bgw._capacity_bucketize(timestamptz, timestamptz),
                          nadia_bgw._capacity_points(timestamptz, timestamptz),
                          nadia_bgw._capacity_sizes(text, text, text, timestamptz, timestamptz)
      TO nadia_bgw_reader;
