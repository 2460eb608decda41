
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
-- Where the hour's recording of sequences got to: they are read in chunks
-- of the cycles (one lock and one buffer read each), in oid order.
CREATE TABLE nadia_bgw.capacity_sequence_cursor (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    hour timestamptz NOT NULL,
    last_oid oid NOT NULL
);

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
    v_line timestamptz := p_now - interval '8 days';
    v_cursor oid;
    v_chunk bigint;
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

    -- sequences of this database that can run out (not CYCLE), with a
    -- value, in chunks: those after the hour's cursor, a fortieth of them
    -- per cycle (at least 25), so that the hour's first 40 cycles read
    -- each once; the limit is the column's type when the sequence belongs
    -- to an int2/int4 column (a bigint sequence behind an int4 key).  A
    -- sequence never called has no value and no row.
    SELECT CASE WHEN k.hour = v_hour THEN k.last_oid ELSE 0 END INTO v_cursor
      FROM nadia_bgw.capacity_sequence_cursor k;
    v_cursor := coalesce(v_cursor, 0);
    SELECT greatest(25, ceil(count(*) / 40.0)) INTO v_chunk FROM pg_sequence;
    WITH chunk AS (
        SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name,
               s.seqincrement, s.seqmax, s.seqmin, col.maxv
          FROM pg_sequence s
          JOIN pg_class c ON c.oid = s.seqrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN LATERAL (
               SELECT min(CASE a.atttypid WHEN 'int2'::regtype THEN 32767::numeric
                                          WHEN 'int4'::regtype THEN 2147483647::numeric END) AS maxv
                 FROM pg_depend dp
                 JOIN pg_attribute a ON a.attrelid = dp.refobjid AND a.attnum = dp.refobjsubid
                WHERE dp.classid = 'pg_class'::regclass AND dp.objid = c.oid
                  AND dp.refclassid = 'pg_class'::regclass AND dp.refobjsubid > 0
                  AND dp.deptype IN ('a', 'i')) col ON true
         WHERE s.seqrelid > v_cursor AND NOT s.seqcycle AND NOT pg_is_other_temp_schema(n.oid)
         ORDER BY s.seqrelid
         LIMIT v_chunk),
    cur AS (
        INSERT INTO nadia_bgw.capacity_sequence_cursor AS k (hour, last_oid)
        SELECT v_hour, max(ch.oid) FROM chunk ch HAVING count(*) > 0
        ON CONFLICT (one) DO UPDATE SET hour = excluded.hour, last_oid = excluded.last_oid)
    INSERT INTO nadia_bgw.capacity_samples
    SELECT p_now, 'sequence', ch.oid, ch.name,
           CASE WHEN ch.seqincrement > 0 THEN v.lv ELSE -v.lv::numeric END,
           CASE WHEN ch.seqincrement > 0
                THEN least(ch.seqmax::numeric, coalesce(ch.maxv, ch.seqmax))
                ELSE least(-ch.seqmin::numeric, coalesce(ch.maxv + 1, -ch.seqmin::numeric)) END,
           NULL
      FROM chunk ch
     CROSS JOIN LATERAL (SELECT pg_sequence_last_value(ch.oid) AS lv) v
     WHERE v.lv IS NOT NULL
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    v_n := v_n + v_rows;

    IF EXISTS (SELECT 1 FROM nadia_bgw.capacity_samples c
                WHERE c.kind = 'xid' AND c.sampled_at >= v_hour
                  AND c.sampled_at < v_hour + interval '1 hour') THEN
        RETURN v_n;
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

    -- after 8 days one row per object and UTC day: the day's last, and for
    -- connections the day's peak.  Once an hour, from the rows that crossed
    -- the 8-day line in the last 3 hours (hourly rows: one or three per
    -- object): each takes the peak of the earlier rows of its day
    -- (connections) and those are deleted.  Rows that crossed it while the
    -- worker was stopped longer stay until the 35 days; reading every day
    -- past the line each hour would cost more than the rest of the task
    UPDATE nadia_bgw.capacity_samples c
       SET value = g.peak
      FROM (SELECT x.objid, x.sampled_at, max(e.value) AS peak
              FROM nadia_bgw.capacity_samples x
              JOIN nadia_bgw.capacity_samples e
                ON e.kind = x.kind AND e.objid = x.objid
               AND e.sampled_at >= to_timestamp(floor(extract(epoch FROM x.sampled_at) / 86400) * 86400)
               AND e.sampled_at <= x.sampled_at
             WHERE x.kind = 'connections'
               AND x.sampled_at < v_line AND x.sampled_at >= v_line - interval '3 hours'
             GROUP BY x.objid, x.sampled_at) g
     WHERE c.kind = 'connections' AND c.objid = g.objid AND c.sampled_at = g.sampled_at
       AND c.value < g.peak;
    DELETE FROM nadia_bgw.capacity_samples c
     USING nadia_bgw.capacity_samples x
     WHERE x.sampled_at < v_line AND x.sampled_at >= v_line - interval '3 hours'
       AND c.kind = x.kind AND c.objid = x.objid
       AND c.sampled_at >= to_timestamp(floor(extract(epoch FROM x.sampled_at) / 86400) * 86400)
       AND c.sampled_at < x.sampled_at;
    DELETE FROM nadia_bgw.capacity_samples c WHERE c.sampled_at < p_now - interval '35 days';
    RETURN v_n;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._capacity_record(timestamptz) FROM PUBLIC;

-- A size gauge of history over (since, until], from the three tiers of
-- <kind>_samples, <kind>_hourly and <kind>_daily: the rows where it was
-- measured.  Given p_objids, only those objects and only from the hourly
-- and daily tiers, through their (key, sampled_at) indexes: the capacity
-- task reads a batch of series at a time, and the raw tier has no such
-- index (its rows reach the hourly tier within the hour).
CREATE FUNCTION nadia_bgw._capacity_sizes(p_kind text, p_key text, p_column text,
                                          p_since timestamptz, p_until timestamptz,
                                          p_objids oid[] DEFAULT NULL)
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
    FOREACH t IN ARRAY CASE WHEN p_objids IS NULL THEN ARRAY['_samples', '_hourly', '_daily']
                            ELSE ARRAY['_hourly', '_daily'] END
    LOOP
        RETURN QUERY EXECUTE format(
            'SELECT r.%2$I, r.sampled_at, r.%3$I FROM nadia_bgw.%1$I r'
            ' WHERE r.sampled_at > $1 AND r.sampled_at <= $2 AND r.%3$I IS NOT NULL'
            '   AND ($3 IS NULL OR r.%2$I = ANY ($3))',
            p_kind || t, p_key, p_column)
        USING p_since, p_until, p_objids;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._capacity_sizes(text, text, text, timestamptz, timestamptz, oid[]) FROM PUBLIC;

-- what _capacity_sizes reads for a batch of objects
CREATE INDEX ON nadia_bgw.table_hourly (relid, sampled_at);
CREATE INDEX ON nadia_bgw.table_daily (relid, sampled_at);
CREATE INDEX ON nadia_bgw.index_hourly (indexrelid, sampled_at);
CREATE INDEX ON nadia_bgw.index_daily (indexrelid, sampled_at);
CREATE INDEX ON nadia_bgw.database_hourly (datid, sampled_at);
CREATE INDEX ON nadia_bgw.database_daily (datid, sampled_at);

-- Every series the forecasts fit, over (since, until]: y is what grows
-- (the counter for xid and mxid, whose ages fall at each freeze, else the
-- value).  Sizes of databases, tables and indexes come from the three
-- history tiers: a bucket of the fit takes the median of what falls in it,
-- so the overlap of tiers does not matter.  Tables and indexes dropped
-- since are left out.  Given the series (p_kinds[i], p_objids[i]): only
-- those, sizes from the hourly and daily tiers (_capacity_sizes).
CREATE FUNCTION nadia_bgw._capacity_points(p_since timestamptz, p_until timestamptz,
                                           p_kinds text[] DEFAULT NULL, p_objids oid[] DEFAULT NULL)
RETURNS TABLE (kind text, objid oid, object text, sampled_at timestamptz,
               value numeric, limit_value numeric, y double precision)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_db  oid[];
    v_tab oid[];
    v_idx oid[];
BEGIN
    IF p_kinds IS NULL THEN
        RETURN QUERY
        SELECT c.kind, c.objid, c.object, c.sampled_at, c.value, c.limit_value,
               coalesce(c.counter, c.value)::float8
          FROM nadia_bgw.capacity_samples c
         WHERE c.sampled_at > p_since AND c.sampled_at <= p_until;
    ELSE
        SELECT array_agg(s.objid) FILTER (WHERE s.kind = 'database'),
               array_agg(s.objid) FILTER (WHERE s.kind = 'table'),
               array_agg(s.objid) FILTER (WHERE s.kind = 'index')
          INTO v_db, v_tab, v_idx
          FROM unnest(p_kinds, p_objids) s(kind, objid);
        -- an empty array reads nothing: NULL would read every object
        v_db := coalesce(v_db, '{}'); v_tab := coalesce(v_tab, '{}'); v_idx := coalesce(v_idx, '{}');
        -- each series' rows through the primary key (OFFSET 0 keeps the
        -- subquery a per-series probe: joined as a whole, the planner
        -- read every series' rows of the range by time and hashed them)
        RETURN QUERY
        SELECT c.kind, c.objid, c.object, c.sampled_at, c.value, c.limit_value,
               coalesce(c.counter, c.value)::float8
          FROM unnest(p_kinds, p_objids) s(kind, objid)
         CROSS JOIN LATERAL (SELECT c.* FROM nadia_bgw.capacity_samples c
                              WHERE c.kind = s.kind AND c.objid = s.objid
                                AND c.sampled_at > p_since AND c.sampled_at <= p_until
                             OFFSET 0) c;
    END IF;
    RETURN QUERY
    SELECT 'database'::text, h.objid, coalesce(d.datname::text, h.objid::text), h.sampled_at,
           h.bytes::numeric, NULL::numeric, h.bytes::float8
      FROM nadia_bgw._capacity_sizes('database', 'datid', 'size_bytes', p_since, p_until, v_db) h
      LEFT JOIN pg_database d ON d.oid = h.objid
    UNION ALL
    SELECT 'table', h.objid, format('%I.%I', t.schemaname, t.relname), h.sampled_at,
           h.bytes, NULL, h.bytes::float8
      FROM nadia_bgw._capacity_sizes('table', 'relid', 'total_bytes', p_since, p_until, v_tab) h
      JOIN nadia_bgw.table_catalog t ON t.relid = h.objid AND t.dropped_at IS NULL
    UNION ALL
    SELECT 'index', h.objid, format('%I.%I', i.schemaname, i.indexrelname), h.sampled_at,
           h.bytes, NULL, h.bytes::float8
      FROM nadia_bgw._capacity_sizes('index', 'indexrelid', 'index_bytes', p_since, p_until, v_idx) h
      JOIN nadia_bgw.index_catalog i ON i.indexrelid = h.objid AND i.dropped_at IS NULL;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._capacity_points(timestamptz, timestamptz, text[], oid[]) FROM PUBLIC;

-- The median (percentile_cont(0.5)) of an array, NULL when empty
-- (worker/quality/capacity_fit.c): the buckets' points.
CREATE FUNCTION nadia_bgw._median(v float8[])
RETURNS float8
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'nadia_bgw_median';
REVOKE ALL ON FUNCTION nadia_bgw._median(float8[]) FROM PUBLIC;

-- The points of the fits: each series cut into UTC-aligned buckets of
-- 6 hours (width 21600, the 7-day fit) and 1 day (86400, the 30-day fit).
-- A bucket's point is the median time and median y of the rows in it that
-- are in [since, until] (connections: the bucket's peak), with the bucket's
-- last row (object name, value, limit) for the series' current value.
-- capacity_forecast() computes them from history at each call; the
-- capacity task keeps them in capacity_buckets and recomputes only the
-- buckets that can still change (docs/capacity.md, "Cost"), a batch of
-- series at a time (p_kinds, p_objids: see _capacity_points).
CREATE FUNCTION nadia_bgw._capacity_bucketize(p_since timestamptz, p_until timestamptz,
                                              p_kinds text[] DEFAULT NULL, p_objids oid[] DEFAULT NULL)
RETURNS TABLE (kind text, objid oid, width integer, bucket bigint,
               x double precision, y double precision,
               object text, last_at timestamptz, last_value numeric, last_limit numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    -- (PL/pgSQL, as _capacity_fit: its plan is kept, where a SQL
    -- function's is made again at each call)
    -- one sort of all the rows, by bucket and latest first (the aggregates
    -- take them in that order; the grouping needs no other sort), rather
    -- than sorts per bucket: medians by _median().  The kind sorted as
    -- bytes (COLLATE "C"): under a linguistic collation that sort took
    -- ten times as long; epochs in float8 (date_part), not numeric (the
    -- same values: a timestamp's microseconds are exact in a float8)
    SELECT r.kind, r.objid, r.width, r.bucket,
           nadia_bgw._median(array_agg(r.t)),
           CASE WHEN r.kind = 'connections' THEN max(r.y) ELSE nadia_bgw._median(array_agg(r.y)) END,
           (array_agg(r.object))[1],
           max(r.sampled_at),
           (array_agg(r.value))[1],
           (array_agg(r.limit_value))[1]
      FROM (SELECT p.kind COLLATE "C" AS kind, p.objid, p.object, p.sampled_at, p.value,
                   p.limit_value, p.y,
                   w.width, floor(date_part('epoch', p.sampled_at) / w.width)::bigint AS bucket,
                   date_part('epoch', p.sampled_at) AS t
              FROM nadia_bgw._capacity_points(p_since - interval '1 microsecond', p_until, p_kinds, p_objids) p
             CROSS JOIN (VALUES (21600), (86400)) w(width)
             ORDER BY kind, objid, width, bucket, sampled_at DESC) r
     GROUP BY r.kind, r.objid, r.width, r.bucket;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._capacity_bucketize(timestamptz, timestamptz, text[], oid[]) FROM PUBLIC;

-- The capacity task's buckets (_capacity_bucketize's rows, 31 days): only
-- those that can still receive rows are recomputed, once an hour.
CREATE TABLE nadia_bgw.capacity_buckets (
    kind text NOT NULL, objid oid NOT NULL, width integer NOT NULL, bucket bigint NOT NULL,
    x double precision NOT NULL, y double precision NOT NULL,
    object text NOT NULL, last_at timestamptz NOT NULL,
    last_value numeric NOT NULL, last_limit numeric,
    PRIMARY KEY (kind, objid, width, bucket)
);

-- Each series of capacity_buckets and when it was last fit: due once an
-- hour, when fit_at (NULL: never) is not in the current hour (before it,
-- or after it when the clock went back or the task is called for an
-- instant in the past).  A time, not a flag: a new hour makes every
-- series due without an UPDATE of thousands of rows in its first cycle.
CREATE TABLE nadia_bgw.capacity_series (
    kind text NOT NULL, objid oid NOT NULL, fit_at timestamptz,
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

-- The robust line through points (x, y) (worker/quality/capacity_fit.c):
-- slope, the median of the pairs' slopes (Theil-Sen); intercept, the
-- median of y - slope * x; fit, its R^2 (NULL when y does not vary);
-- points, the number of points.  slope, intercept and fit are NULL below
-- 3 points.
CREATE FUNCTION nadia_bgw._theil_sen(x float8[], y float8[],
    OUT slope float8, OUT intercept float8, OUT fit float8, OUT points integer)
RETURNS record
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'nadia_bgw_theil_sen';
REVOKE ALL ON FUNCTION nadia_bgw._theil_sen(float8[], float8[]) FROM PUBLIC;

-- The forecasts as of p_now from bucket points: those of history
-- (p_kinds NULL: every series, computed now) or those kept in
-- capacity_buckets for the series (p_kinds[i], p_objids[i]) (the task).
-- A fit takes the buckets that overlap its window, (p_now - 7 days, p_now]
-- in 6-hour buckets, (p_now - 30 days, p_now] in 1-day buckets.
CREATE FUNCTION nadia_bgw._capacity_fit(p_now timestamptz, p_kinds text[], p_objids oid[])
RETURNS SETOF nadia_bgw.capacity_forecast_row
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    WITH src AS (
        SELECT b.* FROM nadia_bgw._capacity_bucketize(p_now - interval '31 days', p_now) b
         WHERE p_kinds IS NULL
        UNION ALL
        SELECT c.kind, c.objid, c.width, c.bucket, c.x, c.y, c.object, c.last_at, c.last_value, c.last_limit
          FROM unnest(p_kinds, p_objids) s(kind, objid)
          JOIN nadia_bgw.capacity_buckets c ON c.kind = s.kind AND c.objid = s.objid
         WHERE p_kinds IS NOT NULL AND c.last_at <= p_now),
    -- (the kind grouped as bytes, COLLATE "C": see _capacity_bucketize)
    buckets AS (
        SELECT CASE b.width WHEN 21600 THEN 7 ELSE 30 END AS win, b.kind COLLATE "C" AS kind,
               b.objid, b.width, b.bucket, b.x, b.y, b.object, b.last_at, b.last_value, b.last_limit
          FROM src b
         WHERE (b.bucket + 1) * b.width > extract(epoch FROM p_now)
                                          - CASE b.width WHEN 21600 THEN 7 ELSE 30 END * 86400),
    -- one group per series: its latest 1-day bucket's row, the 7-day peak
    -- (connections), the points of both fits
    points AS (
        SELECT b.kind COLLATE "default" AS kind, b.objid,
               (array_agg(b.object ORDER BY b.last_at DESC) FILTER (WHERE b.win = 30))[1] AS object,
               (array_agg(b.last_value ORDER BY b.last_at DESC) FILTER (WHERE b.win = 30))[1] AS value,
               (array_agg(b.last_limit ORDER BY b.last_at DESC) FILTER (WHERE b.win = 30))[1] AS limit_value,
               max(b.y) FILTER (WHERE b.win = 7)::numeric AS peak_7d,
               array_agg(b.x) FILTER (WHERE b.win = 7) AS x7, array_agg(b.y) FILTER (WHERE b.win = 7) AS y7,
               array_agg(b.x) FILTER (WHERE b.win = 30) AS x30, array_agg(b.y) FILTER (WHERE b.win = 30) AS y30
          FROM buckets b
         GROUP BY b.kind, b.objid
        HAVING count(*) FILTER (WHERE b.win = 30) > 0),
    -- (a STRICT function given a NULL array: a row of NULLs)
    series AS (
        SELECT p.kind, p.objid, p.object, p.value, p.limit_value,
               f7.slope * 86400 AS slope_7d, f30.slope * 86400 AS slope_30d,
               f7.fit AS fit_7d, f30.fit AS fit_30d,
               coalesce(f7.points, 0) AS points_7d, coalesce(f30.points, 0) AS points_30d,
               p.peak_7d
          FROM points p
         CROSS JOIN LATERAL nadia_bgw._theil_sen(p.x7, p.y7) f7
         CROSS JOIN LATERAL nadia_bgw._theil_sen(p.x30, p.y30) f30),
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
     ORDER BY 13 NULLS LAST, 1, 2;
END
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
-- of an hour records everything but sequences, read in chunks from then
-- on; the others raise the connections' peak); in the recording cycle
-- find the series (those recorded in the last two hours, the tables,
-- indexes and databases history knows; every series of the last 31 days
-- the first time), drop those of dropped tables and indexes, and stop
-- there (every series fit before the hour is now due: capacity_series).
-- Then, every later cycle, a batch of the due series: each series is due
-- once an hour, tables and indexes once in 6 hours (their forecasts have
-- no limit: no alert reads them); a batch is sized so that an hour's due
-- series are done within 50 minutes of cycles (nadia_bgw.interval), at
-- least 25 series.  For each series of the batch its buckets that may
-- have changed since its last fit are recomputed from its own rows (from
-- the start of the UTC day two hours before that fit, while its hourly
-- and daily tiers are written; all 31 days for a series never fit or not
-- fit for 29 days), buckets wholly older than 31 days dropped, and it is
-- refit.  The cluster-wide series (filesystems, databases, xid,
-- mxid, connections: a handful) come first, together, since the data
-- directory's fallback sums the databases; then sequences, tables and
-- indexes.  Returns the rows written.
CREATE FUNCTION nadia_bgw._quality_capacity(p_now timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_n       bigint;
    v_f       bigint;
    v_b       bigint;
    v_since   timestamptz;
    v_batch   bigint;
    v_kinds   text[];
    v_objids  oid[];
    v_nk      text[];
    v_no      oid[];
    v_oldest  timestamptz;
    v_hourly  boolean;
    v_hour    timestamptz := to_timestamp(floor(extract(epoch FROM p_now) / 3600) * 3600);
BEGIN
    -- the hour's recording cycle: the one that records the xid counter
    v_hourly := NOT EXISTS (
        SELECT 1 FROM nadia_bgw.capacity_samples c
         WHERE c.kind = 'xid' AND c.sampled_at >= v_hour AND c.sampled_at < v_hour + interval '1 hour');
    v_n := nadia_bgw._capacity_record(p_now);

    IF v_hourly OR NOT EXISTS (SELECT 1 FROM nadia_bgw.capacity_series) THEN
        v_since := CASE WHEN EXISTS (SELECT 1 FROM nadia_bgw.capacity_series)
                        THEN p_now - interval '2 hours' ELSE p_now - interval '31 days' END;
        INSERT INTO nadia_bgw.capacity_series (kind, objid)
        SELECT n.kind, n.objid
          FROM (SELECT c.kind, c.objid FROM nadia_bgw.capacity_samples c
                 WHERE c.sampled_at > v_since AND c.sampled_at <= p_now
                UNION
                SELECT 'table', t.relid FROM nadia_bgw.table_catalog t WHERE t.dropped_at IS NULL
                UNION
                SELECT 'index', i.indexrelid FROM nadia_bgw.index_catalog i WHERE i.dropped_at IS NULL
                UNION
                SELECT 'database', d.oid FROM pg_database d WHERE d.datallowconn) n
         WHERE NOT EXISTS (SELECT 1 FROM nadia_bgw.capacity_series s
                            WHERE s.kind = n.kind AND s.objid = n.objid)
        ON CONFLICT (kind, objid) DO NOTHING;
        WITH gone AS (
            DELETE FROM nadia_bgw.capacity_series s
             WHERE (s.kind = 'table' AND s.objid IN (SELECT t.relid FROM nadia_bgw.table_catalog t
                                                      WHERE t.dropped_at IS NOT NULL))
                OR (s.kind = 'index' AND s.objid IN (SELECT i.indexrelid FROM nadia_bgw.index_catalog i
                                                      WHERE i.dropped_at IS NOT NULL))
            RETURNING s.kind, s.objid),
        b AS (
            DELETE FROM nadia_bgw.capacity_buckets c USING gone g
             WHERE c.kind = g.kind AND c.objid = g.objid)
        DELETE FROM nadia_bgw.capacity_forecasts f USING gone g
         WHERE split_part(f.kind, '_', 1) = g.kind AND f.objid = g.objid;
        -- the batches start with the next cycle: this one has recorded
        RETURN v_n;
    END IF;

    -- the batch: the cluster-wide series first (all in the first batch of
    -- the hour: the data directory's fallback sums the databases), then
    -- sequences (the classic outage), tables, indexes
    -- (tables and indexes are refit every 6 hours: a sixth of them an
    -- hour, but all of those never fit, so that the first build after
    -- install or update is done in the first hour)
    SELECT greatest(25, ceil((count(*) FILTER (WHERE s.kind NOT IN ('table', 'index') OR s.fit_at IS NULL)
                              + count(*) FILTER (WHERE s.kind IN ('table', 'index') AND s.fit_at IS NOT NULL) / 6.0)
                             * extract(epoch FROM coalesce(current_setting('nadia_bgw.interval', true),
                                                           '60s')::interval) / 3000))
      INTO v_batch FROM nadia_bgw.capacity_series s;
    -- due: never fit, fit "after" this hour (the clock went back), or fit
    -- before this hour (tables and indexes: before the 5 hours before it).
    -- A series not fit for 29 days is built anew, as a new one.
    SELECT array_agg(s.kind), array_agg(s.objid),
           array_agg(s.kind) FILTER (WHERE s.fresh),
           array_agg(s.objid) FILTER (WHERE s.fresh),
           min(s.fit_at) FILTER (WHERE NOT s.fresh)
      INTO v_kinds, v_objids, v_nk, v_no, v_oldest
      FROM (SELECT s.kind, s.objid, s.fit_at,
                   s.fit_at IS NULL OR s.fit_at < p_now - interval '29 days' AS fresh
              FROM nadia_bgw.capacity_series s
             WHERE s.fit_at IS NULL OR s.fit_at >= v_hour + interval '1 hour'
                OR s.fit_at < v_hour - CASE WHEN s.kind IN ('table', 'index') THEN interval '5 hours'
                                            ELSE interval '0' END
             ORDER BY CASE s.kind WHEN 'sequence' THEN 1 WHEN 'table' THEN 2 WHEN 'index' THEN 3 ELSE 0 END,
                      s.kind COLLATE "C", s.objid
             LIMIT v_batch) s;
    IF v_kinds IS NULL THEN
        RETURN v_n;
    END IF;

    -- the batch's buckets that may have changed since its oldest fit, from
    -- its series' rows: those from v_since on (the start of the UTC day
    -- two hours before that fit, or before now: the hourly and daily
    -- tiers write a bucket's rows after it; no bucket straddles a day's
    -- start), and those wholly before the 31 days; each a range of the
    -- primary key's buckets (a filter on last_at read every bucket of
    -- each series: a third of the batch's time)
    v_since := to_timestamp(floor(extract(epoch FROM least(p_now, coalesce(v_oldest, p_now))
                                                     - interval '2 hours') / 86400) * 86400);
    -- series never fit (fit_at NULL: new to the task) get all 31 days
    -- built below: nothing of theirs is kept
    IF v_nk IS NOT NULL THEN
        DELETE FROM nadia_bgw.capacity_buckets c
         USING unnest(v_nk, v_no) s(kind, objid)
         WHERE c.kind = s.kind AND c.objid = s.objid;
    END IF;
    DELETE FROM nadia_bgw.capacity_buckets c
     USING unnest(v_kinds, v_objids) s(kind, objid), (VALUES (21600), (86400)) w(width)
     WHERE c.kind = s.kind AND c.objid = s.objid AND c.width = w.width
       AND c.bucket >= floor(date_part('epoch', v_since) / w.width)::bigint;
    DELETE FROM nadia_bgw.capacity_buckets c
     USING unnest(v_kinds, v_objids) s(kind, objid), (VALUES (21600), (86400)) w(width)
     WHERE c.kind = s.kind AND c.objid = s.objid AND c.width = w.width
       AND c.bucket < floor(date_part('epoch', p_now - interval '31 days') / w.width)::bigint;
    INSERT INTO nadia_bgw.capacity_buckets
    SELECT b.* FROM nadia_bgw._capacity_bucketize(v_since, p_now, v_kinds, v_objids) b;
    GET DIAGNOSTICS v_b = ROW_COUNT;
    IF v_nk IS NOT NULL THEN
        -- series new to the task: their older buckets too
        INSERT INTO nadia_bgw.capacity_buckets
        SELECT b.* FROM nadia_bgw._capacity_bucketize(p_now - interval '31 days',
                                                      v_since - interval '1 microsecond', v_nk, v_no) b;
        GET DIAGNOSTICS v_f = ROW_COUNT;
        v_b := v_b + v_f;
    END IF;

    -- (xid and mxid have two forecasts each: through the primary key)
    DELETE FROM nadia_bgw.capacity_forecasts f
     USING unnest(v_kinds, v_objids) s(kind, objid)
     WHERE f.kind IN (s.kind, s.kind || '_freeze', s.kind || '_wraparound') AND f.objid = s.objid;
    INSERT INTO nadia_bgw.capacity_forecasts
    SELECT p_now, f.kind, f.objid, f.object, f.unit, f.current_value, f.limit_value,
           f.slope_7d, f.slope_30d, f.fit_7d, f.fit_30d, f.points_7d, f.points_30d,
           f.days_to_limit, f.basis
      FROM nadia_bgw._capacity_fit(p_now, v_kinds, v_objids) f;
    GET DIAGNOSTICS v_f = ROW_COUNT;
    UPDATE nadia_bgw.capacity_series c SET fit_at = p_now
      FROM unnest(v_kinds, v_objids) s(kind, objid)
     WHERE c.kind = s.kind AND c.objid = s.objid;
    -- a series with no point in 31 days (a dropped sequence, a database
    -- without size history) is forgotten
    DELETE FROM nadia_bgw.capacity_series c
     USING unnest(v_kinds, v_objids) s(kind, objid)
     WHERE c.kind = s.kind AND c.objid = s.objid
       AND NOT EXISTS (SELECT 1 FROM nadia_bgw.capacity_buckets b
                        WHERE b.kind = s.kind AND b.objid = s.objid);
    RETURN v_n + v_b + v_f;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._quality_capacity(timestamptz) FROM PUBLIC;

GRANT SELECT ON nadia_bgw.capacity_samples, nadia_bgw.capacity_forecasts,
                nadia_bgw.capacity_buckets TO nadia_bgw_reader;
-- the reader may compute forecasts itself, from history it may read anyway
GRANT EXECUTE ON FUNCTION nadia_bgw.capacity_forecast(timestamptz),
                          nadia_bgw._capacity_fit(timestamptz, text[], oid[]),
                          nadia_bgw._theil_sen(float8[], float8[]),
                          nadia_bgw._median(float8[]),
                          nadia_bgw._capacity_bucketize(timestamptz, timestamptz, text[], oid[]),
                          nadia_bgw._capacity_points(timestamptz, timestamptz, text[], oid[]),
                          nadia_bgw._capacity_sizes(text, text, text, timestamptz, timestamptz, oid[])
      TO nadia_bgw_reader;
