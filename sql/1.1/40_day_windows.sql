
-- nadia_bgw 1.0 -> 1.1 -- "the last 24 hours" is 24 hours in every zone.
--
-- In 1.0 these views and defaults took now() - interval '1 day', which
-- PostgreSQL computes on the calendar of the session's TimeZone: in a DST
-- zone, on the day after the clocks change, that is 23 or 25 hours (a
-- "hit_ratio_24h" over 25 hours).  interval '24 hours' is always 86,400
-- seconds.  Definitions otherwise as in 1.0.

-- statement_stats() takes the same 24-hour default in 45_history_ranges.sql,
-- which replaces it whole.

CREATE OR REPLACE FUNCTION nadia_bgw.statement_stats_by_pattern(
    pattern text,
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
    SELECT * FROM nadia_bgw.statement_stats(since, until) s WHERE s.query ILIKE pattern
$$;


CREATE OR REPLACE VIEW nadia_bgw.slow_queries AS
SELECT s.*, (s.mean_exec_time_ms >= 20 AND s.calls >= 100) AS slow
  FROM nadia_bgw.statement_stats(pg_catalog.now() - interval '24 hours', pg_catalog.now()) s
 WHERE s.calls > 0
 ORDER BY s.mean_exec_time_ms DESC NULLS LAST;


CREATE OR REPLACE VIEW nadia_bgw.top_statements AS
SELECT s.*,
       s.total_exec_time_ms / nullif(sum(s.total_exec_time_ms) OVER (), 0) AS share_of_total_time
  FROM nadia_bgw.statement_stats(pg_catalog.now() - interval '24 hours', pg_catalog.now()) s
 WHERE s.calls > 0
 ORDER BY s.total_exec_time_ms DESC;


CREATE OR REPLACE VIEW nadia_bgw.cache_hit_ratios AS
SELECT 'database'::text AS scope, d.datname AS name,
       sum(d.blks_hit) FILTER (WHERE d.sampled_at >= now() - interval '1 hour')::float8
         / nullif(sum(d.blks_hit + d.blks_read) FILTER (WHERE d.sampled_at >= now() - interval '1 hour'), 0) AS hit_ratio_1h,
       sum(d.blks_hit)::float8 / nullif(sum(d.blks_hit + d.blks_read), 0) AS hit_ratio_24h,
       sum(d.blks_read)::bigint AS blks_read_24h, sum(d.blks_hit)::bigint AS blks_hit_24h
  FROM nadia_bgw.database_history d
 WHERE d.sampled_at >= now() - interval '24 hours'
 GROUP BY d.datname
UNION ALL
SELECT 'table', t.schemaname || '.' || t.relname,
       sum(t.heap_blks_hit + t.idx_blks_hit) FILTER (WHERE t.sampled_at >= now() - interval '1 hour')::float8
         / nullif(sum(t.heap_blks_hit + t.idx_blks_hit + t.heap_blks_read + t.idx_blks_read)
                  FILTER (WHERE t.sampled_at >= now() - interval '1 hour'), 0),
       sum(t.heap_blks_hit + t.idx_blks_hit)::float8
         / nullif(sum(t.heap_blks_hit + t.idx_blks_hit + t.heap_blks_read + t.idx_blks_read), 0),
       sum(t.heap_blks_read + t.idx_blks_read)::bigint, sum(t.heap_blks_hit + t.idx_blks_hit)::bigint
  FROM nadia_bgw.table_history t
 WHERE t.sampled_at >= now() - interval '24 hours'
 GROUP BY t.schemaname, t.relname;


CREATE OR REPLACE VIEW nadia_bgw.io_stats AS
WITH d AS (
    SELECT date_trunc('hour', h.sampled_at) AS hour,
           sum(h.blks_read)::bigint AS blks_read, sum(h.blks_hit)::bigint AS blks_hit,
           sum(h.temp_files)::bigint AS temp_files, sum(h.temp_bytes)::bigint AS temp_bytes,
           sum(h.blk_read_time_ms) AS blk_read_time_ms, sum(h.blk_write_time_ms) AS blk_write_time_ms
      FROM nadia_bgw.database_history h
     WHERE h.sampled_at >= now() - interval '24 hours'
     GROUP BY 1),
c AS (
    SELECT date_trunc('hour', h.sampled_at) AS hour,
           sum(h.checkpoints_timed + h.checkpoints_req)::bigint AS checkpoints,
           sum(h.buffers_checkpoint + h.buffers_clean + h.buffers_backend)::bigint AS buffers_written,
           sum(h.wal_bytes)::bigint AS wal_bytes
      FROM nadia_bgw.cluster_history h
     WHERE h.sampled_at >= now() - interval '24 hours'
     GROUP BY 1)
SELECT hour, d.blks_read, d.blks_hit, d.temp_files, d.temp_bytes, d.blk_read_time_ms, d.blk_write_time_ms,
       c.checkpoints, c.buffers_written, c.wal_bytes
  FROM d FULL JOIN c USING (hour)
 ORDER BY hour;


CREATE OR REPLACE VIEW nadia_bgw.lock_waits AS
SELECT w.sampled_at, w.pid, w.datname, w.username, w.locktype, w.mode, w.relation,
       w.wait_s, w.queryid, w.blocking_pids, w.blocking_queryids,
       (SELECT t.query FROM nadia_bgw.statements t WHERE t.queryid = w.queryid AND NOT t.excluded LIMIT 1) AS query,
       (SELECT array_agg(t.query) FROM nadia_bgw.statements t
         WHERE t.queryid = ANY (w.blocking_queryids) AND NOT t.excluded) AS blocking_queries
  FROM nadia_bgw.lock_wait_samples w
 WHERE w.sampled_at >= now() - interval '24 hours'
 ORDER BY w.sampled_at DESC, w.wait_s DESC;
