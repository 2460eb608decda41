
-- nadia_bgw 1.0 -> 1.1 -- one definition of where each history tier takes
-- over in a time range, read by the SQL API and by nadia-mcp alike.
--
-- 1.0 had two: tier_cuts() (raw wherever raw samples are kept, hourly
-- before that, daily before the hourly tier; a range edge outside the raw
-- tier rounded *up* to the next bucket), used by statement_stats() and
-- index_scans(), and mcp_range_cuts() (whole hours from the hourly tier
-- wherever it is complete, raw for the partial edges, daily before the
-- hourly tier; an edge rounded *down* to the bucket it falls in), used by
-- the mcp_* functions.  The same question could get two answers.  Now
-- _history_cuts() is the rule (mcp_range_cuts()'s, extended to an end
-- other than now()), and one "totals over a range" function per history
-- kind holds the union of the three tiers, which both surfaces read:
--
--   _statement_totals  <- statement_stats(), mcp_statement_totals()
--   _table_totals      <- index_usage (table_writes_30d), mcp_table_totals()
--   _index_totals      <- index_scans(), mcp_index_totals()
--
-- mcp_database_totals() and mcp_io_by_hour() (database and cluster
-- history, no SQL-API counterpart over the tiers) keep their 1.0 text: they
-- read mcp_range_cuts(), which is now _history_cuts() for [since, now()).  regress/sql/history_ranges.sql checks that the
-- pairs agree.  See docs/history.md, "Time ranges".

-- The cuts of [since, until) between the tiers.  Every interval is read
-- from exactly one tier:
--   raw rows:    sampled_at >= since AND sampled_at < until
--                AND (sampled_at < raw_until OR sampled_at >= raw_from)
--   hourly rows: sampled_at >= hourly_from AND sampled_at < hourly_until
--   daily rows:  sampled_at >= daily_from AND sampled_at < daily_until
-- Whole hours come from the hourly tier wherever it is complete (an hour
-- is downsampled two minutes after it ends while its raw rows are kept a
-- day: an hourly row costs one row where raw costs one per sample), whole
-- days from the daily tier before the hourly tier begins, raw rows for the
-- rest: the hour in progress, and a partial hour at either edge where raw
-- samples exist.  An edge read from a coarser tier takes in the whole
-- bucket it falls in.  The start of a range longer than six hours is
-- rounded down to its hour even inside the raw tier: a raw partition holds
-- six hours, and reading one for a partial hour would cost more than the
-- rest of a day's range.  Raw samples are complete from the hour of the
-- oldest one kept (partitions are dropped whole, on an hour grid).
--
-- plpgsql callers take the cuts into variables first, and plan the union
-- with force_custom_plan, so that the cuts are constants when it is
-- planned (partitions pruned at plan time: a generic plan, which the plan
-- cache may pick after five calls, prunes only at executor start and was
-- measured 40% slower on the MCP benchmark's week of history).
CREATE FUNCTION nadia_bgw._history_cuts(since timestamptz, until timestamptz,
                                        OUT raw_until timestamptz, OUT raw_from timestamptz,
                                        OUT hourly_from timestamptz, OUT hourly_until timestamptz,
                                        OUT daily_from timestamptz, OUT daily_until timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH b AS (
        SELECT date_trunc('hour', t.raw_from AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS raw_cut,
               coalesce(t.hourly_until, '-infinity') AS hourly_done,
               -- the daily tier answers before the first whole day of the
               -- hourly tier, and only as far as it is complete itself
               coalesce(least(date_trunc('day', (t.hourly_from AT TIME ZONE 'UTC') - interval '1 microsecond')
                                AT TIME ZONE 'UTC' + interval '1 day',
                              t.daily_until), '-infinity') AS daily_cut
          FROM nadia_bgw.mcp_tier_bounds() t),
    e AS (
        SELECT b.daily_cut,
               -- where the hourly span starts: since itself (next hour) when
               -- raw samples cover it and the range is short, else its hour
               CASE WHEN b.raw_cut <= since AND since >= until - interval '6 hours'
                    THEN date_trunc('hour', (since AT TIME ZONE 'UTC') - interval '1 microsecond')
                         AT TIME ZONE 'UTC' + interval '1 hour'
                    ELSE date_trunc('hour', since AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' END AS h0,
               -- where it ends: the hour until falls in when raw samples
               -- cover that hour, else the end of that hour; never past
               -- what the hourly tier holds
               least(b.hourly_done,
                     CASE WHEN b.raw_cut <= until
                          THEN date_trunc('hour', until AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                          ELSE date_trunc('hour', (until AT TIME ZONE 'UTC') - interval '1 microsecond')
                               AT TIME ZONE 'UTC' + interval '1 hour' END) AS h1
          FROM b)
    SELECT e.h0, e.h1,
           greatest(e.h0, e.daily_cut),
           -- an empty (or reversed) range reads no bucket
           CASE WHEN since < until THEN e.h1 ELSE '-infinity' END,
           date_trunc('day', since AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
           CASE WHEN since < until THEN least(e.daily_cut, until) ELSE '-infinity' END
      FROM e
$$;

-- Per statement sums over [since, until), from the tiers as cut above;
-- NULL where no row of the range had a value (zero is NULL in history).
-- first_row/last_row: the first and last sample or bucket read;
-- first_call/last_call: the same among those with calls.
CREATE FUNCTION nadia_bgw._statement_totals(since timestamptz, until timestamptz)
RETURNS TABLE (stmt_id integer, calls bigint, total_exec_time double precision,
               min_exec_time double precision, max_exec_time double precision,
               plans bigint, total_plan_time double precision, rows bigint,
               shared_blks_hit bigint, shared_blks_read bigint, temp_blks_written bigint,
               blk_read_time double precision, blk_write_time double precision,
               wal_bytes bigint, first_row timestamptz, last_row timestamptz,
               first_call timestamptz, last_call timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    c record;
BEGIN
    SELECT * INTO c FROM nadia_bgw._history_cuts(since, until);
    RETURN QUERY
    SELECT h.stmt_id, sum(h.calls)::bigint, sum(h.total_exec_time),
           min(h.min_exec_time), max(h.max_exec_time),
           sum(h.plans)::bigint, sum(h.total_plan_time), sum(h.rows)::bigint,
           sum(h.shared_blks_hit)::bigint, sum(h.shared_blks_read)::bigint,
           sum(h.temp_blks_written)::bigint,
           sum(h.blk_read_time), sum(h.blk_write_time), sum(h.wal_bytes)::bigint,
           min(h.sampled_at), max(h.sampled_at),
           min(h.sampled_at) FILTER (WHERE h.calls > 0), max(h.sampled_at) FILTER (WHERE h.calls > 0)
      FROM (SELECT r.stmt_id, r.sampled_at, r.calls, r.total_exec_time, r.min_exec_time,
                   r.max_exec_time, r.plans, r.total_plan_time, r.rows, r.shared_blks_hit,
                   r.shared_blks_read, r.temp_blks_written, r.blk_read_time, r.blk_write_time,
                   r.wal_bytes
              FROM nadia_bgw.statement_samples r
             WHERE r.sampled_at >= since AND r.sampled_at < until
               AND (r.sampled_at < c.raw_until OR r.sampled_at >= c.raw_from)
            UNION ALL
            SELECT r.stmt_id, r.sampled_at, r.calls, r.total_exec_time, r.min_exec_time,
                   r.max_exec_time, r.plans, r.total_plan_time, r.rows, r.shared_blks_hit,
                   r.shared_blks_read, r.temp_blks_written, r.blk_read_time, r.blk_write_time,
                   r.wal_bytes
              FROM nadia_bgw.statement_hourly r
             WHERE r.sampled_at >= c.hourly_from AND r.sampled_at < c.hourly_until
            UNION ALL
            SELECT r.stmt_id, r.sampled_at, r.calls, r.total_exec_time, r.min_exec_time,
                   r.max_exec_time, r.plans, r.total_plan_time, r.rows, r.shared_blks_hit,
                   r.shared_blks_read, r.temp_blks_written, r.blk_read_time, r.blk_write_time,
                   r.wal_bytes
              FROM nadia_bgw.statement_daily r
             WHERE r.sampled_at >= c.daily_from AND r.sampled_at < c.daily_until) h
     GROUP BY h.stmt_id;
END
$$;

-- Per table sums over [since, until); writes = inserts + updates + deletes,
-- toast blocks = the TOAST table's and its index's.
CREATE FUNCTION nadia_bgw._table_totals(since timestamptz, until timestamptz)
RETURNS TABLE (relid oid, seq_scan bigint, seq_tup_read bigint, idx_scan bigint, writes bigint,
               heap_blks_read bigint, heap_blks_hit bigint,
               idx_blks_read bigint, idx_blks_hit bigint,
               toast_blks_read bigint, toast_blks_hit bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    c record;
BEGIN
    SELECT * INTO c FROM nadia_bgw._history_cuts(since, until);
    RETURN QUERY
    SELECT h.relid, sum(h.seq_scan)::bigint, sum(h.seq_tup_read)::bigint, sum(h.idx_scan)::bigint,
           sum(coalesce(h.n_tup_ins, 0) + coalesce(h.n_tup_upd, 0) + coalesce(h.n_tup_del, 0))::bigint,
           sum(h.heap_blks_read)::bigint, sum(h.heap_blks_hit)::bigint,
           sum(h.idx_blks_read)::bigint, sum(h.idx_blks_hit)::bigint,
           sum(coalesce(h.toast_blks_read, 0) + coalesce(h.tidx_blks_read, 0))::bigint,
           sum(coalesce(h.toast_blks_hit, 0) + coalesce(h.tidx_blks_hit, 0))::bigint
      FROM (SELECT r.relid, r.seq_scan, r.seq_tup_read, r.idx_scan, r.n_tup_ins, r.n_tup_upd,
                   r.n_tup_del, r.heap_blks_read, r.heap_blks_hit, r.idx_blks_read, r.idx_blks_hit,
                   r.toast_blks_read, r.tidx_blks_read, r.toast_blks_hit, r.tidx_blks_hit
              FROM nadia_bgw.table_samples r
             WHERE r.sampled_at >= since AND r.sampled_at < until
               AND (r.sampled_at < c.raw_until OR r.sampled_at >= c.raw_from)
            UNION ALL
            SELECT r.relid, r.seq_scan, r.seq_tup_read, r.idx_scan, r.n_tup_ins, r.n_tup_upd,
                   r.n_tup_del, r.heap_blks_read, r.heap_blks_hit, r.idx_blks_read, r.idx_blks_hit,
                   r.toast_blks_read, r.tidx_blks_read, r.toast_blks_hit, r.tidx_blks_hit
              FROM nadia_bgw.table_hourly r
             WHERE r.sampled_at >= c.hourly_from AND r.sampled_at < c.hourly_until
            UNION ALL
            SELECT r.relid, r.seq_scan, r.seq_tup_read, r.idx_scan, r.n_tup_ins, r.n_tup_upd,
                   r.n_tup_del, r.heap_blks_read, r.heap_blks_hit, r.idx_blks_read, r.idx_blks_hit,
                   r.toast_blks_read, r.tidx_blks_read, r.toast_blks_hit, r.tidx_blks_hit
              FROM nadia_bgw.table_daily r
             WHERE r.sampled_at >= c.daily_from AND r.sampled_at < c.daily_until) h
     GROUP BY h.relid;
END
$$;

-- Per index sums over [since, until).
CREATE FUNCTION nadia_bgw._index_totals(since timestamptz, until timestamptz)
RETURNS TABLE (indexrelid oid, idx_scan bigint, idx_tup_read bigint, idx_tup_fetch bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    c record;
BEGIN
    SELECT * INTO c FROM nadia_bgw._history_cuts(since, until);
    RETURN QUERY
    SELECT h.indexrelid, sum(h.idx_scan)::bigint, sum(h.idx_tup_read)::bigint, sum(h.idx_tup_fetch)::bigint
      FROM (SELECT r.indexrelid, r.idx_scan, r.idx_tup_read, r.idx_tup_fetch
              FROM nadia_bgw.index_samples r
             WHERE r.sampled_at >= since AND r.sampled_at < until
               AND (r.sampled_at < c.raw_until OR r.sampled_at >= c.raw_from)
            UNION ALL
            SELECT r.indexrelid, r.idx_scan, r.idx_tup_read, r.idx_tup_fetch
              FROM nadia_bgw.index_hourly r
             WHERE r.sampled_at >= c.hourly_from AND r.sampled_at < c.hourly_until
            UNION ALL
            SELECT r.indexrelid, r.idx_scan, r.idx_tup_read, r.idx_tup_fetch
              FROM nadia_bgw.index_daily r
             WHERE r.sampled_at >= c.daily_from AND r.sampled_at < c.daily_until) h
     GROUP BY h.indexrelid;
END
$$;

REVOKE ALL ON FUNCTION nadia_bgw._history_cuts(timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION nadia_bgw._statement_totals(timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION nadia_bgw._table_totals(timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION nadia_bgw._index_totals(timestamptz, timestamptz) FROM PUBLIC;
-- the reader calls them through the functions and views below (a view's
-- functions run with the privileges of whoever reads it)
GRANT EXECUTE ON FUNCTION nadia_bgw._history_cuts(timestamptz, timestamptz),
    nadia_bgw._statement_totals(timestamptz, timestamptz),
    nadia_bgw._table_totals(timestamptz, timestamptz),
    nadia_bgw._index_totals(timestamptz, timestamptz)
TO nadia_bgw_reader;

------------------------------------------------------------------------
-- The 1.0 surface, now over the definitions above (names, signatures,
-- privileges and settings unchanged)
------------------------------------------------------------------------

-- Where each tier takes over in a range ending now: raw from raw_cut on,
-- hourly from daily_cut to raw_cut, daily before daily_cut.
CREATE OR REPLACE FUNCTION nadia_bgw.tier_cuts(OUT raw_cut timestamptz, OUT daily_cut timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.raw_from, c.hourly_from
      FROM nadia_bgw._history_cuts('-infinity', pg_catalog.now()) c
$$;

-- The cuts of [since, now()) in mcp_range_cuts()'s terms: raw rows before
-- h0 and from hd, hourly rows from greatest(h0, dc) to hd, daily rows from
-- d0 to dc.
CREATE OR REPLACE FUNCTION nadia_bgw.mcp_range_cuts(since timestamptz,
                                                    OUT h0 timestamptz, OUT hd timestamptz,
                                                    OUT dc timestamptz, OUT d0 timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.raw_until, c.raw_from, c.daily_until, c.daily_from
      FROM nadia_bgw._history_cuts(since, pg_catalog.now()) c
$$;

-- (defaults: the last 24 hours, as 40_day_windows.sql made them)
CREATE OR REPLACE FUNCTION nadia_bgw.statement_stats(
    since timestamptz DEFAULT pg_catalog.now() - interval '24 hours',
    until timestamptz DEFAULT pg_catalog.now())
RETURNS TABLE (queryid bigint, dbid oid, datname name, userid oid, username name,
               calls bigint, total_exec_time_ms double precision, mean_exec_time_ms double precision,
               max_exec_time_ms double precision, rows bigint,
               shared_blks_hit bigint, shared_blks_read bigint, cache_hit_ratio double precision,
               temp_blks_written bigint, wal_bytes bigint,
               first_seen timestamptz, last_seen timestamptz, query text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.queryid, t.dbid, t.datname, t.userid, t.username,
           coalesce(g.calls, 0),
           coalesce(g.total_exec_time, 0),
           coalesce(g.total_exec_time, 0) / nullif(g.calls, 0),
           g.max_exec_time,
           coalesce(g.rows, 0),
           coalesce(g.shared_blks_hit, 0),
           coalesce(g.shared_blks_read, 0),
           g.shared_blks_hit::float8 / nullif(coalesce(g.shared_blks_hit, 0) + coalesce(g.shared_blks_read, 0), 0),
           coalesce(g.temp_blks_written, 0),
           coalesce(g.wal_bytes, 0),
           g.first_row, g.last_row, t.query
      FROM nadia_bgw._statement_totals(since, until) g
      JOIN nadia_bgw.statements t ON t.stmt_id = g.stmt_id
     WHERE NOT t.excluded
$$;

CREATE OR REPLACE FUNCTION nadia_bgw.mcp_statement_totals(since timestamptz)
RETURNS TABLE (stmt_id integer, queryid bigint, datname name, username name,
               calls bigint, total_exec_time_ms double precision,
               min_exec_time_ms double precision, max_exec_time_ms double precision,
               plans bigint, total_plan_time_ms double precision, rows bigint,
               shared_blks_hit bigint, shared_blks_read bigint, temp_blks_written bigint,
               blk_read_time_ms double precision, blk_write_time_ms double precision,
               wal_bytes bigint, first_seen timestamptz, last_seen timestamptz, query text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT g.stmt_id, t.queryid, t.datname, t.username,
           coalesce(g.calls, 0), coalesce(g.total_exec_time, 0),
           g.min_exec_time, g.max_exec_time,
           coalesce(g.plans, 0), coalesce(g.total_plan_time, 0), coalesce(g.rows, 0),
           coalesce(g.shared_blks_hit, 0), coalesce(g.shared_blks_read, 0),
           coalesce(g.temp_blks_written, 0),
           coalesce(g.blk_read_time, 0), coalesce(g.blk_write_time, 0), coalesce(g.wal_bytes, 0),
           g.first_call, g.last_call, t.query
      FROM nadia_bgw._statement_totals(since, pg_catalog.now()) g
      JOIN nadia_bgw.statements t ON t.stmt_id = g.stmt_id
     WHERE NOT t.excluded
$$;

CREATE OR REPLACE FUNCTION nadia_bgw.mcp_table_totals(since timestamptz)
RETURNS TABLE (relid oid, schemaname name, relname name,
               seq_scan bigint, seq_tup_read bigint, idx_scan bigint, writes bigint,
               heap_blks_read bigint, heap_blks_hit bigint,
               idx_blks_read bigint, idx_blks_hit bigint,
               toast_blks_read bigint, toast_blks_hit bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT g.relid, t.schemaname, t.relname,
           coalesce(g.seq_scan, 0), coalesce(g.seq_tup_read, 0),
           coalesce(g.idx_scan, 0), coalesce(g.writes, 0),
           coalesce(g.heap_blks_read, 0), coalesce(g.heap_blks_hit, 0),
           coalesce(g.idx_blks_read, 0), coalesce(g.idx_blks_hit, 0),
           coalesce(g.toast_blks_read, 0), coalesce(g.toast_blks_hit, 0)
      FROM nadia_bgw._table_totals(since, pg_catalog.now()) g
      LEFT JOIN nadia_bgw.table_state t ON t.relid = g.relid
$$;

CREATE OR REPLACE FUNCTION nadia_bgw.index_scans(
    since timestamptz DEFAULT pg_catalog.now() - interval '30 days',
    until timestamptz DEFAULT pg_catalog.now())
RETURNS TABLE (indexrelid oid, idx_scan bigint, idx_tup_read bigint, idx_tup_fetch bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT g.indexrelid, g.idx_scan, g.idx_tup_read, g.idx_tup_fetch
      FROM nadia_bgw._index_totals(since, until) g
$$;

CREATE OR REPLACE FUNCTION nadia_bgw.mcp_index_totals(since timestamptz)
RETURNS TABLE (indexrelid oid, idx_scan bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT g.indexrelid, coalesce(g.idx_scan, 0)
      FROM nadia_bgw._index_totals(since, pg_catalog.now()) g
$$;

-- As in 1.0, but the table's writes of the last 30 days are those of
-- _table_totals() (all three tiers; 1.0 read raw and hourly only, so with
-- the default hourly retention of 28 days it missed the oldest two days).
CREATE OR REPLACE VIEW nadia_bgw.index_usage AS
SELECT i.schemaname, i.relname, i.indexrelname, i.indexrelid, i.relid,
       i.index_bytes, i.is_valid, i.is_unique, i.is_primary,
       i.constraint_name IS NOT NULL AS backs_constraint, i.constraint_name,
       i.idx_scan_total,
       coalesce(s.idx_scan, 0) AS idx_scan_30d,
       coalesce(w.writes, 0) AS table_writes_30d,
       (coalesce(i.idx_scan_total, 0) = 0 AND i.constraint_name IS NULL) AS unused,
       (coalesce(i.idx_scan_total, 0) > 0 AND coalesce(s.idx_scan, 0) < 50
        AND coalesce(w.writes, 0) > 10 * coalesce(s.idx_scan, 0)
        AND i.constraint_name IS NULL) AS rarely_used,
       i.indexdef, i.sampled_at
  FROM nadia_bgw.index_stats_latest i
  LEFT JOIN nadia_bgw.index_scans(pg_catalog.now() - interval '30 days', pg_catalog.now()) s USING (indexrelid)
  LEFT JOIN nadia_bgw._table_totals(pg_catalog.now() - interval '30 days', pg_catalog.now()) w
         ON w.relid = i.relid;
