
-- nadia_bgw 1.0 -- MCP read path: range functions over the history tiers
-- that the nadia-mcp tools query, and the gate through which they read the
-- NADIA rollups.  See docs/mcp.md.
--
-- The range functions read history only, through the tier boundaries of
-- nadia_bgw.tier_cuts() (raw where raw samples exist, hourly before that,
-- daily before the hourly tier), so a range is never counted twice.  They
-- are not SECURITY DEFINER: the caller's privileges apply (the MCP role
-- reads them as a member of nadia_bgw_reader).

-- Where each tier holds complete data.  SECURITY DEFINER because the
-- sampler's bookkeeping (tier_state, history_partitions) is not for
-- readers; it returns four timestamps and nothing else:
--   raw_from      the oldest raw sample still kept
--   hourly_from   the start of the oldest hourly partition
--   hourly_until  raw hours before this are in the hourly tier
--   daily_until   hourly days before this are in the daily tier
CREATE FUNCTION nadia_bgw.mcp_tier_bounds(OUT raw_from timestamptz, OUT hourly_from timestamptz,
                                          OUT hourly_until timestamptz, OUT daily_until timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (SELECT min(s.sampled_at) FROM nadia_bgw.samples s),
           (SELECT min(p.lo) FROM nadia_bgw.history_partitions p
             WHERE p.parent = 'nadia_bgw.statement_hourly'::regclass),
           (SELECT t.done_until FROM nadia_bgw.tier_state t WHERE t.tier = 'hourly'),
           (SELECT t.done_until FROM nadia_bgw.tier_state t WHERE t.tier = 'daily')
$$;

-- The cuts of a range [since, now()) between the tiers, so that each
-- interval is read from exactly one tier and as few rows as possible are
-- read: whole hours from the hourly tier wherever it is complete (not only
-- before the raw tier: an hour is downsampled two minutes after it ends,
-- while its raw rows are kept a day), raw rows for the partial first hour
-- and the hour in progress, whole days from the daily tier before the
-- hourly tier begins.  A range longer than six hours, or one that starts
-- before the raw tier, is rounded down to the hour it starts in (a raw
-- partition holds six hours: reading it for a partial hour would cost
-- more than the rest of a day's range); shorter ranges are exact.
--   raw rows:    sampled_at >= since AND (sampled_at < h0 OR sampled_at >= hd)
--   hourly rows: sampled_at >= greatest(h0, dc) AND sampled_at < hd
--   daily rows:  sampled_at >= d0 AND sampled_at < dc
CREATE FUNCTION nadia_bgw.mcp_range_cuts(since timestamptz,
                                         OUT h0 timestamptz, OUT hd timestamptz,
                                         OUT dc timestamptz, OUT d0 timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN b.raw_from IS NULL OR b.raw_from > since
                  OR since < now() - interval '6 hours'
                THEN date_trunc('hour', since AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                ELSE date_trunc('hour', (since AT TIME ZONE 'UTC') - interval '1 microsecond')
                     AT TIME ZONE 'UTC' + interval '1 hour' END,
           coalesce(b.hourly_until, '-infinity'),
           coalesce(least(date_trunc('day', (b.hourly_from AT TIME ZONE 'UTC') - interval '1 microsecond')
                            AT TIME ZONE 'UTC' + interval '1 day',
                          b.daily_until), '-infinity'),
           date_trunc('day', since AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
      FROM nadia_bgw.mcp_tier_bounds() b
$$;

-- Per statement totals over [since, now()): everything nadia-mcp reports
-- about statements (slow_queries, query_stats, cost_analysis).  plpgsql so
-- that the cuts are constants of the query (partition pruning at plan time).
CREATE FUNCTION nadia_bgw.mcp_statement_totals(since timestamptz)
RETURNS TABLE (stmt_id integer, queryid bigint, datname name, username name,
               calls bigint, total_exec_time_ms double precision,
               min_exec_time_ms double precision, max_exec_time_ms double precision,
               plans bigint, total_plan_time_ms double precision, rows bigint,
               shared_blks_hit bigint, shared_blks_read bigint, temp_blks_written bigint,
               blk_read_time_ms double precision, blk_write_time_ms double precision,
               wal_bytes bigint, first_seen timestamptz, last_seen timestamptz, query text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
BEGIN
    SELECT * INTO c FROM nadia_bgw.mcp_range_cuts(since);
    RETURN QUERY
    WITH h AS (
        SELECT r.stmt_id, r.sampled_at, r.calls, r.total_exec_time, r.min_exec_time,
               r.max_exec_time, r.plans, r.total_plan_time, r.rows, r.shared_blks_hit,
               r.shared_blks_read, r.temp_blks_written, r.blk_read_time, r.blk_write_time,
               r.wal_bytes
          FROM nadia_bgw.statement_samples r
         WHERE r.sampled_at >= since AND (r.sampled_at < c.h0 OR r.sampled_at >= c.hd)
        UNION ALL
        SELECT r.stmt_id, r.sampled_at, r.calls, r.total_exec_time, r.min_exec_time,
               r.max_exec_time, r.plans, r.total_plan_time, r.rows, r.shared_blks_hit,
               r.shared_blks_read, r.temp_blks_written, r.blk_read_time, r.blk_write_time,
               r.wal_bytes
          FROM nadia_bgw.statement_hourly r
         WHERE r.sampled_at >= greatest(c.h0, c.dc) AND r.sampled_at < c.hd
        UNION ALL
        SELECT r.stmt_id, r.sampled_at, r.calls, r.total_exec_time, r.min_exec_time,
               r.max_exec_time, r.plans, r.total_plan_time, r.rows, r.shared_blks_hit,
               r.shared_blks_read, r.temp_blks_written, r.blk_read_time, r.blk_write_time,
               r.wal_bytes
          FROM nadia_bgw.statement_daily r
         WHERE r.sampled_at >= c.d0 AND r.sampled_at < c.dc),
    g AS (
        SELECT h.stmt_id,
               coalesce(sum(h.calls), 0)::bigint AS calls,
               coalesce(sum(h.total_exec_time), 0) AS total_exec_time_ms,
               min(h.min_exec_time) AS min_exec_time_ms,
               max(h.max_exec_time) AS max_exec_time_ms,
               coalesce(sum(h.plans), 0)::bigint AS plans,
               coalesce(sum(h.total_plan_time), 0) AS total_plan_time_ms,
               coalesce(sum(h.rows), 0)::bigint AS rows,
               coalesce(sum(h.shared_blks_hit), 0)::bigint AS shared_blks_hit,
               coalesce(sum(h.shared_blks_read), 0)::bigint AS shared_blks_read,
               coalesce(sum(h.temp_blks_written), 0)::bigint AS temp_blks_written,
               coalesce(sum(h.blk_read_time), 0) AS blk_read_time_ms,
               coalesce(sum(h.blk_write_time), 0) AS blk_write_time_ms,
               coalesce(sum(h.wal_bytes), 0)::bigint AS wal_bytes,
               min(h.sampled_at) FILTER (WHERE h.calls > 0) AS first_seen,
               max(h.sampled_at) FILTER (WHERE h.calls > 0) AS last_seen
          FROM h GROUP BY h.stmt_id)
    SELECT g.stmt_id, t.queryid, t.datname, t.username, g.calls, g.total_exec_time_ms,
           g.min_exec_time_ms, g.max_exec_time_ms, g.plans, g.total_plan_time_ms, g.rows,
           g.shared_blks_hit, g.shared_blks_read, g.temp_blks_written,
           g.blk_read_time_ms, g.blk_write_time_ms, g.wal_bytes,
           g.first_seen, g.last_seen, t.query
      FROM g JOIN nadia_bgw.statements t ON t.stmt_id = g.stmt_id
     WHERE NOT t.excluded;
END
$$;

-- Per table scan, write and block counters over [since, now())
-- (missing_indexes, buffer_cache_stats, index_usage), with the table's
-- names from table_state.
CREATE FUNCTION nadia_bgw.mcp_table_totals(since timestamptz)
RETURNS TABLE (relid oid, schemaname name, relname name,
               seq_scan bigint, seq_tup_read bigint, idx_scan bigint, writes bigint,
               heap_blks_read bigint, heap_blks_hit bigint,
               idx_blks_read bigint, idx_blks_hit bigint,
               toast_blks_read bigint, toast_blks_hit bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
BEGIN
    SELECT * INTO c FROM nadia_bgw.mcp_range_cuts(since);
    RETURN QUERY
    WITH h AS (
        SELECT r.relid, r.seq_scan, r.seq_tup_read, r.idx_scan,
               coalesce(r.n_tup_ins, 0) + coalesce(r.n_tup_upd, 0) + coalesce(r.n_tup_del, 0) AS writes,
               r.heap_blks_read, r.heap_blks_hit, r.idx_blks_read, r.idx_blks_hit,
               coalesce(r.toast_blks_read, 0) + coalesce(r.tidx_blks_read, 0) AS toast_blks_read,
               coalesce(r.toast_blks_hit, 0) + coalesce(r.tidx_blks_hit, 0) AS toast_blks_hit
          FROM nadia_bgw.table_samples r
         WHERE r.sampled_at >= since AND (r.sampled_at < c.h0 OR r.sampled_at >= c.hd)
        UNION ALL
        SELECT r.relid, r.seq_scan, r.seq_tup_read, r.idx_scan,
               coalesce(r.n_tup_ins, 0) + coalesce(r.n_tup_upd, 0) + coalesce(r.n_tup_del, 0),
               r.heap_blks_read, r.heap_blks_hit, r.idx_blks_read, r.idx_blks_hit,
               coalesce(r.toast_blks_read, 0) + coalesce(r.tidx_blks_read, 0),
               coalesce(r.toast_blks_hit, 0) + coalesce(r.tidx_blks_hit, 0)
          FROM nadia_bgw.table_hourly r
         WHERE r.sampled_at >= greatest(c.h0, c.dc) AND r.sampled_at < c.hd
        UNION ALL
        SELECT r.relid, r.seq_scan, r.seq_tup_read, r.idx_scan,
               coalesce(r.n_tup_ins, 0) + coalesce(r.n_tup_upd, 0) + coalesce(r.n_tup_del, 0),
               r.heap_blks_read, r.heap_blks_hit, r.idx_blks_read, r.idx_blks_hit,
               coalesce(r.toast_blks_read, 0) + coalesce(r.tidx_blks_read, 0),
               coalesce(r.toast_blks_hit, 0) + coalesce(r.tidx_blks_hit, 0)
          FROM nadia_bgw.table_daily r
         WHERE r.sampled_at >= c.d0 AND r.sampled_at < c.dc)
    SELECT h.relid, t.schemaname, t.relname,
           coalesce(sum(h.seq_scan), 0)::bigint, coalesce(sum(h.seq_tup_read), 0)::bigint,
           coalesce(sum(h.idx_scan), 0)::bigint, coalesce(sum(h.writes), 0)::bigint,
           coalesce(sum(h.heap_blks_read), 0)::bigint, coalesce(sum(h.heap_blks_hit), 0)::bigint,
           coalesce(sum(h.idx_blks_read), 0)::bigint, coalesce(sum(h.idx_blks_hit), 0)::bigint,
           coalesce(sum(h.toast_blks_read), 0)::bigint, coalesce(sum(h.toast_blks_hit), 0)::bigint
      FROM h LEFT JOIN nadia_bgw.table_state t ON t.relid = h.relid
     GROUP BY h.relid, t.schemaname, t.relname;
END
$$;

-- Per index scans over [since, now()) (index_usage).
CREATE FUNCTION nadia_bgw.mcp_index_totals(since timestamptz)
RETURNS TABLE (indexrelid oid, idx_scan bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
BEGIN
    SELECT * INTO c FROM nadia_bgw.mcp_range_cuts(since);
    RETURN QUERY
    SELECT h.indexrelid, coalesce(sum(h.idx_scan), 0)::bigint
      FROM (SELECT r.indexrelid, r.idx_scan FROM nadia_bgw.index_samples r
             WHERE r.sampled_at >= since AND (r.sampled_at < c.h0 OR r.sampled_at >= c.hd)
            UNION ALL
            SELECT r.indexrelid, r.idx_scan FROM nadia_bgw.index_hourly r
             WHERE r.sampled_at >= greatest(c.h0, c.dc) AND r.sampled_at < c.hd
            UNION ALL
            SELECT r.indexrelid, r.idx_scan FROM nadia_bgw.index_daily r
             WHERE r.sampled_at >= c.d0 AND r.sampled_at < c.dc) h
     GROUP BY h.indexrelid;
END
$$;

-- Per database block counters over [since, now()) (buffer_cache_stats).
CREATE FUNCTION nadia_bgw.mcp_database_totals(since timestamptz)
RETURNS TABLE (datid oid, datname name, blks_read bigint, blks_hit bigint,
               temp_files bigint, temp_bytes bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
BEGIN
    SELECT * INTO c FROM nadia_bgw.mcp_range_cuts(since);
    RETURN QUERY
    WITH h AS (
        SELECT r.datid, r.blks_read, r.blks_hit, r.temp_files, r.temp_bytes
          FROM nadia_bgw.database_samples r
         WHERE r.sampled_at >= since AND (r.sampled_at < c.h0 OR r.sampled_at >= c.hd)
        UNION ALL
        SELECT r.datid, r.blks_read, r.blks_hit, r.temp_files, r.temp_bytes
          FROM nadia_bgw.database_hourly r
         WHERE r.sampled_at >= greatest(c.h0, c.dc) AND r.sampled_at < c.hd
        UNION ALL
        SELECT r.datid, r.blks_read, r.blks_hit, r.temp_files, r.temp_bytes
          FROM nadia_bgw.database_daily r
         WHERE r.sampled_at >= c.d0 AND r.sampled_at < c.dc)
    SELECT h.datid, d.datname,
           coalesce(sum(h.blks_read), 0)::bigint, coalesce(sum(h.blks_hit), 0)::bigint,
           coalesce(sum(h.temp_files), 0)::bigint, coalesce(sum(h.temp_bytes), 0)::bigint
      FROM h LEFT JOIN nadia_bgw.database_state d ON d.datid = h.datid
     GROUP BY h.datid, d.datname;
END
$$;

-- I/O per hour over [since, now()) (io_stats): database reads, I/O time,
-- temporary files, WAL, checkpoints and buffer writes.  Buckets from the
-- daily tier are whole days (labelled with the day's start).
CREATE FUNCTION nadia_bgw.mcp_io_by_hour(since timestamptz)
RETURNS TABLE (hour timestamptz, blks_read bigint, blks_hit bigint,
               blk_read_time_ms double precision, blk_write_time_ms double precision,
               temp_bytes bigint, wal_bytes bigint, buffers_checkpoint bigint,
               buffers_clean bigint, buffers_backend bigint, checkpoints bigint,
               checkpoints_req bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
BEGIN
    SELECT * INTO c FROM nadia_bgw.mcp_range_cuts(since);
    RETURN QUERY
    WITH d AS (
        SELECT date_trunc('hour', r.sampled_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
               r.blks_read, r.blks_hit, r.blk_read_time, r.blk_write_time, r.temp_bytes
          FROM nadia_bgw.database_samples r
         WHERE r.sampled_at >= since AND (r.sampled_at < c.h0 OR r.sampled_at >= c.hd)
        UNION ALL
        SELECT r.sampled_at, r.blks_read, r.blks_hit, r.blk_read_time, r.blk_write_time, r.temp_bytes
          FROM nadia_bgw.database_hourly r
         WHERE r.sampled_at >= greatest(c.h0, c.dc) AND r.sampled_at < c.hd
        UNION ALL
        SELECT r.sampled_at, r.blks_read, r.blks_hit, r.blk_read_time, r.blk_write_time, r.temp_bytes
          FROM nadia_bgw.database_daily r
         WHERE r.sampled_at >= c.d0 AND r.sampled_at < c.dc),
    k AS (
        SELECT date_trunc('hour', r.sampled_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
               r.wal_bytes, r.buffers_checkpoint, r.buffers_clean, r.buffers_backend,
               r.checkpoints_timed, r.checkpoints_req
          FROM nadia_bgw.cluster_samples r
         WHERE r.sampled_at >= since AND (r.sampled_at < c.h0 OR r.sampled_at >= c.hd)
        UNION ALL
        SELECT r.sampled_at, r.wal_bytes, r.buffers_checkpoint, r.buffers_clean,
               r.buffers_backend, r.checkpoints_timed, r.checkpoints_req
          FROM nadia_bgw.cluster_hourly r
         WHERE r.sampled_at >= greatest(c.h0, c.dc) AND r.sampled_at < c.hd
        UNION ALL
        SELECT r.sampled_at, r.wal_bytes, r.buffers_checkpoint, r.buffers_clean,
               r.buffers_backend, r.checkpoints_timed, r.checkpoints_req
          FROM nadia_bgw.cluster_daily r
         WHERE r.sampled_at >= c.d0 AND r.sampled_at < c.dc),
    dh AS (
        SELECT d.hour, coalesce(sum(d.blks_read), 0)::bigint AS blks_read,
               coalesce(sum(d.blks_hit), 0)::bigint AS blks_hit,
               coalesce(sum(d.blk_read_time), 0) AS blk_read_time_ms,
               coalesce(sum(d.blk_write_time), 0) AS blk_write_time_ms,
               coalesce(sum(d.temp_bytes), 0)::bigint AS temp_bytes
          FROM d GROUP BY d.hour),
    kh AS (
        SELECT k.hour, coalesce(sum(k.wal_bytes), 0)::bigint AS wal_bytes,
               coalesce(sum(k.buffers_checkpoint), 0)::bigint AS buffers_checkpoint,
               coalesce(sum(k.buffers_clean), 0)::bigint AS buffers_clean,
               coalesce(sum(k.buffers_backend), 0)::bigint AS buffers_backend,
               (coalesce(sum(k.checkpoints_timed), 0) + coalesce(sum(k.checkpoints_req), 0))::bigint AS checkpoints,
               coalesce(sum(k.checkpoints_req), 0)::bigint AS checkpoints_req
          FROM k GROUP BY k.hour)
    SELECT coalesce(dh.hour, kh.hour), coalesce(dh.blks_read, 0), coalesce(dh.blks_hit, 0),
           coalesce(dh.blk_read_time_ms, 0), coalesce(dh.blk_write_time_ms, 0),
           coalesce(dh.temp_bytes, 0), coalesce(kh.wal_bytes, 0),
           coalesce(kh.buffers_checkpoint, 0), coalesce(kh.buffers_clean, 0),
           coalesce(kh.buffers_backend, 0), coalesce(kh.checkpoints, 0),
           coalesce(kh.checkpoints_req, 0)
      FROM dh FULL JOIN kh ON kh.hour = dh.hour;
END
$$;

------------------------------------------------------------------------
-- NADIA rollups through MCP
------------------------------------------------------------------------

-- Which rollup each rollup tool reads.  A rollup is readable through MCP
-- only once listed here (by a superuser): its table belongs to the
-- application, and the MCP role has no privilege on it.
CREATE TABLE nadia_bgw.mcp_rollups (
    tool       text PRIMARY KEY
               CHECK (tool IN ('review_queue_stats', 'user_activity_patterns',
                               'llm_cost_tracking', 'recovery_system_stats')),
    rollup     text NOT NULL,           -- schema-qualified rollup table
    exposed_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
REVOKE ALL ON nadia_bgw.mcp_rollups FROM PUBLIC;
GRANT SELECT ON nadia_bgw.mcp_rollups TO nadia_bgw_reader;

-- Expose (or, with rollup => NULL, withdraw) a rollup for one tool.  The
-- name is resolved with the caller's search_path and must be a rollup of
-- nadia_bgw.rollups.  Superuser only (not SECURITY DEFINER).
CREATE FUNCTION nadia_bgw.mcp_expose_rollup(tool text, rollup text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    target regclass;
    found  boolean;
    qname  text;
BEGIN
    IF rollup IS NULL THEN
        DELETE FROM nadia_bgw.mcp_rollups m WHERE m.tool = mcp_expose_rollup.tool;
        RETURN NULL;
    END IF;
    target := rollup::regclass;
    IF pg_catalog.to_regclass('nadia_bgw.rollups') IS NULL THEN
        RAISE EXCEPTION 'nadia_bgw rollups are not installed in this database';
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM nadia_bgw.rollups r
                             WHERE pg_catalog.to_regclass(r.name::text) = $1)'
       INTO found USING target;
    IF NOT found THEN
        RAISE EXCEPTION '% is not a nadia_bgw rollup', target
            USING HINT = 'Create it with nadia_bgw.create_rollup(); nadia_bgw.rollups lists them.';
    END IF;
    SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) INTO qname
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = target;
    INSERT INTO nadia_bgw.mcp_rollups AS m (tool, rollup) VALUES (tool, qname)
    ON CONFLICT ON CONSTRAINT mcp_rollups_pkey
    DO UPDATE SET rollup = EXCLUDED.rollup, exposed_at = pg_catalog.now();
    RETURN qname;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw.mcp_expose_rollup(text, text) FROM PUBLIC;

-- The buckets of the rollup exposed for a tool, newest first, each row as
-- (bucket, jsonb of the other columns).  SECURITY DEFINER: it reads a
-- table the caller cannot, so it serves only a table that is registered
-- as a nadia_bgw rollup (nadia_bgw.rollups) and exposed for that tool
-- (nadia_bgw.mcp_rollups): rows of aggregates, bounded in number.  An
-- absent rollup module or rollup raises undefined_table, which nadia-mcp
-- reports as "not available".
CREATE FUNCTION nadia_bgw.rollup_rows(tool text, since timestamptz, max_rows integer)
RETURNS TABLE (ord bigint, bucket text, "values" jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rname   text;
    reg     jsonb;
    target  regclass;
    bcol    text;
BEGIN
    SELECT m.rollup INTO rname FROM nadia_bgw.mcp_rollups m WHERE m.tool = rollup_rows.tool;
    IF rname IS NULL THEN
        RAISE EXCEPTION 'no rollup is exposed to MCP for %', tool
            USING ERRCODE = 'undefined_table',
                  HINT = format('A superuser runs SELECT nadia_bgw.mcp_expose_rollup(%L, <rollup>).', tool);
    END IF;
    IF to_regclass('nadia_bgw.rollups') IS NULL THEN
        RAISE EXCEPTION 'relation "nadia_bgw.rollups" does not exist (nadia_bgw rollups are not installed)'
            USING ERRCODE = 'undefined_table';
    END IF;
    target := to_regclass(rname);
    IF target IS NOT NULL THEN
        -- the registry row, read generically: only name and bucket_column are relied on
        EXECUTE 'SELECT to_jsonb(r) FROM nadia_bgw.rollups r WHERE to_regclass(r.name::text) = $1 LIMIT 1'
           INTO reg USING target;
    END IF;
    IF reg IS NULL THEN
        RAISE EXCEPTION 'rollup % exposed for % does not exist or is no longer a nadia_bgw rollup', rname, tool
            USING ERRCODE = 'undefined_table';
    END IF;
    bcol := coalesce(reg ->> 'bucket_column',
                     (SELECT a.attname FROM pg_attribute a
                       WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped
                       ORDER BY a.attnum LIMIT 1));
    RETURN QUERY EXECUTE format(
        'SELECT row_number() OVER (ORDER BY t.%1$I DESC), t.%1$I::text, to_jsonb(t) - %2$L
           FROM %3$s t
          WHERE t.%1$I >= $1
          ORDER BY t.%1$I DESC
          LIMIT $2', bcol, bcol, target)
        USING since, greatest(least(max_rows, 1000), 0);
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw.rollup_rows(text, timestamptz, integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION nadia_bgw.mcp_statement_totals(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION nadia_bgw.mcp_table_totals(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION nadia_bgw.mcp_database_totals(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION nadia_bgw.mcp_io_by_hour(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION nadia_bgw.mcp_index_totals(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION nadia_bgw.mcp_tier_bounds() FROM PUBLIC;
REVOKE ALL ON FUNCTION nadia_bgw.mcp_range_cuts(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nadia_bgw.mcp_tier_bounds(), nadia_bgw.mcp_range_cuts(timestamptz),
    nadia_bgw.mcp_index_totals(timestamptz),
    nadia_bgw.mcp_statement_totals(timestamptz),
    nadia_bgw.mcp_table_totals(timestamptz), nadia_bgw.mcp_database_totals(timestamptz),
    nadia_bgw.mcp_io_by_hour(timestamptz),
    nadia_bgw.rollup_rows(text, timestamptz, integer)
TO nadia_bgw_reader;
