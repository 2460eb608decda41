
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
-- database_* tiers).  It then recomputes the forecasts of
-- capacity_forecast(now) into capacity_forecasts, which the "capacity"
-- alert reads.

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
    -- connections the day's peak
    UPDATE nadia_bgw.capacity_samples c
       SET value = g.peak
      FROM (SELECT s.objid, floor(extract(epoch FROM s.sampled_at) / 86400) AS day,
                   max(s.sampled_at) AS last_at, max(s.value) AS peak
              FROM nadia_bgw.capacity_samples s
             WHERE s.kind = 'connections' AND s.sampled_at < p_now - interval '8 days'
             GROUP BY 1, 2 HAVING count(*) > 1) g
     WHERE c.kind = 'connections' AND c.objid = g.objid AND c.sampled_at = g.last_at;
    DELETE FROM nadia_bgw.capacity_samples c
     WHERE c.sampled_at < p_now - interval '8 days'
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

-- The forecasts as of p_now, one row per object (docs/capacity.md):
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
--                  that are the medians of 6-hour (7 days) and 1-day (30
--                  days) buckets; connections take each bucket's peak
--   fit_7d, fit_30d  R^2 of that robust line: 1 = the points lie on it;
--                  NULL when the points do not vary
--   points_7d, points_30d  buckets the fit had (3 at least, else no slope)
--   days_to_limit  (limit - current) / slope_7d, or slope_30d without a
--                  7-day slope; 0 when at or past the limit; NULL when
--                  there is no limit or the series is not growing
--   basis          how days_to_limit was found, in words
CREATE FUNCTION nadia_bgw.capacity_forecast(p_now timestamptz DEFAULT now())
RETURNS TABLE (kind text, object text, objid oid, unit text,
               current_value numeric, limit_value numeric,
               slope_7d double precision, slope_30d double precision,
               fit_7d double precision, fit_30d double precision,
               points_7d integer, points_30d integer,
               days_to_limit double precision, basis text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH raw AS (
        SELECT * FROM nadia_bgw._capacity_points(p_now - interval '30 days', p_now)),
    latest AS (
        SELECT DISTINCT ON (r.kind, r.objid) r.kind, r.objid, r.object, r.value, r.limit_value
          FROM raw r ORDER BY r.kind, r.objid, r.sampled_at DESC),
    -- one pass, not a subquery per object: the raw points are many
    peaks AS (
        SELECT r.kind, r.objid, max(r.value) AS peak_7d
          FROM raw r
         WHERE r.kind = 'connections' AND r.sampled_at > p_now - interval '7 days'
         GROUP BY r.kind, r.objid),
    buckets AS (
        SELECT w.win, r.kind, r.objid,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.sampled_at)::float8) AS x,
               CASE WHEN r.kind = 'connections' THEN max(r.y)
                    ELSE percentile_cont(0.5) WITHIN GROUP (ORDER BY r.y) END AS y
          FROM raw r
         CROSS JOIN (VALUES (7, 21600), (30, 86400)) w(win, width)
         WHERE r.sampled_at > p_now - make_interval(days => w.win)
         GROUP BY w.win, r.kind, r.objid, floor(extract(epoch FROM r.sampled_at) / w.width)),
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
REVOKE ALL ON FUNCTION nadia_bgw.capacity_forecast(timestamptz) FROM PUBLIC;

-- The capacity task: record, then once an hour (when it recorded) refresh
-- capacity_forecasts.  Returns the rows written.
CREATE FUNCTION nadia_bgw._quality_capacity(p_now timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_n bigint;
    v_f bigint;
BEGIN
    v_n := nadia_bgw._capacity_record(p_now);
    IF v_n = 0 AND EXISTS (SELECT 1 FROM nadia_bgw.capacity_forecasts) THEN
        RETURN 0;
    END IF;
    DELETE FROM nadia_bgw.capacity_forecasts;
    INSERT INTO nadia_bgw.capacity_forecasts
    SELECT p_now, f.kind, f.objid, f.object, f.unit, f.current_value, f.limit_value,
           f.slope_7d, f.slope_30d, f.fit_7d, f.fit_30d, f.points_7d, f.points_30d,
           f.days_to_limit, f.basis
      FROM nadia_bgw.capacity_forecast(p_now) f;
    GET DIAGNOSTICS v_f = ROW_COUNT;
    RETURN v_n + v_f;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._quality_capacity(timestamptz) FROM PUBLIC;

GRANT SELECT ON nadia_bgw.capacity_samples, nadia_bgw.capacity_forecasts TO nadia_bgw_reader;
-- the reader computes forecasts itself, from history it may read anyway
GRANT EXECUTE ON FUNCTION nadia_bgw.capacity_forecast(timestamptz),
                          nadia_bgw._capacity_points(timestamptz, timestamptz),
                          nadia_bgw._capacity_sizes(text, text, text, timestamptz, timestamptz)
      TO nadia_bgw_reader;
