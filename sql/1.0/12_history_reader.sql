
-- nadia_bgw 1.0 -- reader surface of statistics history: the monitoring
-- questions (slow queries, statement stats by pattern, index usage and
-- duplicates, table size/dead tuples/bloat, vacuum, cache hit ratios, I/O,
-- connections, lock waits, replication lag, wraparound), answered from
-- history only.  Time-range functions read the raw tier where raw samples
-- still exist, the hourly tier before that and the daily tier before the
-- hourly one, so a range is never counted twice.  See docs/history.md.

-- Where each tier takes over: raw from raw_cut on, hourly from daily_cut
-- to raw_cut, daily before daily_cut.
CREATE FUNCTION nadia_bgw.tier_cuts(OUT raw_cut timestamptz, OUT daily_cut timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT date_trunc('hour', min(s.sampled_at) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                       FROM nadia_bgw.samples s), 'infinity'),
           coalesce((SELECT date_trunc('day', min(h.sampled_at) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                       FROM nadia_bgw.statement_hourly h), 'infinity')
$$;

-- Per statement totals over [since, until).
CREATE FUNCTION nadia_bgw.statement_stats(
    since timestamptz DEFAULT pg_catalog.now() - interval '1 day',
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
    WITH c AS (SELECT * FROM nadia_bgw.tier_cuts()),
    h AS (
        SELECT r.stmt_id, r.sampled_at, r.calls, r.total_exec_time, r.max_exec_time, r.rows,
               r.shared_blks_hit, r.shared_blks_read, r.temp_blks_written, r.wal_bytes
          FROM nadia_bgw.statement_samples r, c
         WHERE r.sampled_at >= greatest(since, c.raw_cut) AND r.sampled_at < until
        UNION ALL
        SELECT r.stmt_id, r.sampled_at, r.calls, r.total_exec_time, r.max_exec_time, r.rows,
               r.shared_blks_hit, r.shared_blks_read, r.temp_blks_written, r.wal_bytes
          FROM nadia_bgw.statement_hourly r, c
         WHERE r.sampled_at >= greatest(since, c.daily_cut) AND r.sampled_at < least(until, c.raw_cut)
        UNION ALL
        SELECT r.stmt_id, r.sampled_at, r.calls, r.total_exec_time, r.max_exec_time, r.rows,
               r.shared_blks_hit, r.shared_blks_read, r.temp_blks_written, r.wal_bytes
          FROM nadia_bgw.statement_daily r, c
         WHERE r.sampled_at >= since AND r.sampled_at < least(until, c.daily_cut)
    )
    SELECT t.queryid, t.dbid, t.datname, t.userid, t.username,
           coalesce(sum(h.calls), 0)::bigint,
           coalesce(sum(h.total_exec_time), 0),
           coalesce(sum(h.total_exec_time), 0) / nullif(sum(h.calls), 0),
           max(h.max_exec_time),
           coalesce(sum(h.rows), 0)::bigint,
           coalesce(sum(h.shared_blks_hit), 0)::bigint,
           coalesce(sum(h.shared_blks_read), 0)::bigint,
           sum(h.shared_blks_hit)::float8 / nullif(coalesce(sum(h.shared_blks_hit), 0) + coalesce(sum(h.shared_blks_read), 0), 0),
           coalesce(sum(h.temp_blks_written), 0)::bigint,
           coalesce(sum(h.wal_bytes), 0)::bigint,
           min(h.sampled_at), max(h.sampled_at), t.query
      FROM h JOIN nadia_bgw.statements t USING (stmt_id)
     WHERE NOT t.excluded
     GROUP BY t.stmt_id
$$;

-- The same, for statements whose text matches a LIKE pattern (case-insensitive).
CREATE FUNCTION nadia_bgw.statement_stats_by_pattern(
    pattern text,
    since timestamptz DEFAULT pg_catalog.now() - interval '1 day',
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

-- Slowest statements of the last 24 hours by mean time (PgHero's "slow":
-- mean >= 20 ms and >= 100 calls; all statements are listed, flagged).
CREATE VIEW nadia_bgw.slow_queries AS
SELECT s.*, (s.mean_exec_time_ms >= 20 AND s.calls >= 100) AS slow
  FROM nadia_bgw.statement_stats(pg_catalog.now() - interval '1 day', pg_catalog.now()) s
 WHERE s.calls > 0
 ORDER BY s.mean_exec_time_ms DESC NULLS LAST;

-- Top statements of the last 24 hours by total time.
CREATE VIEW nadia_bgw.top_statements AS
SELECT s.*,
       s.total_exec_time_ms / nullif(sum(s.total_exec_time_ms) OVER (), 0) AS share_of_total_time
  FROM nadia_bgw.statement_stats(pg_catalog.now() - interval '1 day', pg_catalog.now()) s
 WHERE s.calls > 0
 ORDER BY s.total_exec_time_ms DESC;

-- Index scans per index over [since, until), all tiers.
CREATE FUNCTION nadia_bgw.index_scans(
    since timestamptz DEFAULT pg_catalog.now() - interval '30 days',
    until timestamptz DEFAULT pg_catalog.now())
RETURNS TABLE (indexrelid oid, idx_scan bigint, idx_tup_read bigint, idx_tup_fetch bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH c AS (SELECT * FROM nadia_bgw.tier_cuts())
    SELECT h.indexrelid, sum(h.idx_scan)::bigint, sum(h.idx_tup_read)::bigint, sum(h.idx_tup_fetch)::bigint
      FROM (SELECT r.indexrelid, r.idx_scan, r.idx_tup_read, r.idx_tup_fetch
              FROM nadia_bgw.index_samples r, c
             WHERE r.sampled_at >= greatest(since, c.raw_cut) AND r.sampled_at < until
            UNION ALL
            SELECT r.indexrelid, r.idx_scan, r.idx_tup_read, r.idx_tup_fetch
              FROM nadia_bgw.index_hourly r, c
             WHERE r.sampled_at >= greatest(since, c.daily_cut) AND r.sampled_at < least(until, c.raw_cut)
            UNION ALL
            SELECT r.indexrelid, r.idx_scan, r.idx_tup_read, r.idx_tup_fetch
              FROM nadia_bgw.index_daily r, c
             WHERE r.sampled_at >= since AND r.sampled_at < least(until, c.daily_cut)) h
     GROUP BY h.indexrelid
$$;

-- Index usage: every existing index with its scans in the last 30 days of
-- history and since the statistics were last reset.  "unused": never
-- scanned since the reset and not backing a constraint; "rarely_used":
-- fewer than 50 scans in 30 days while its table was written more than
-- 10 times as often (an index that costs more than it serves).
CREATE VIEW nadia_bgw.index_usage AS
SELECT i.schemaname, i.relname, i.indexrelname, i.indexrelid, i.relid,
       i.index_bytes, i.is_valid, i.is_unique, i.is_primary,
       i.constraint_name IS NOT NULL AS backs_constraint, i.constraint_name,
       i.idx_scan AS idx_scan_total,
       coalesce(s.idx_scan, 0) AS idx_scan_30d,
       coalesce(w.writes_30d, 0) AS table_writes_30d,
       (coalesce(i.idx_scan, 0) = 0 AND i.constraint_name IS NULL) AS unused,
       (coalesce(i.idx_scan, 0) > 0 AND coalesce(s.idx_scan, 0) < 50
        AND coalesce(w.writes_30d, 0) > 10 * coalesce(s.idx_scan, 0)
        AND i.constraint_name IS NULL) AS rarely_used,
       i.indexdef, i.sampled_at
  FROM nadia_bgw.index_stats_latest i
  LEFT JOIN nadia_bgw.index_scans(pg_catalog.now() - interval '30 days', pg_catalog.now()) s USING (indexrelid)
  LEFT JOIN (SELECT t.relid, sum(coalesce(t.n_tup_ins, 0) + coalesce(t.n_tup_upd, 0) + coalesce(t.n_tup_del, 0))::bigint AS writes_30d
               FROM (SELECT relid, n_tup_ins, n_tup_upd, n_tup_del FROM nadia_bgw.table_samples
                      WHERE sampled_at >= (SELECT raw_cut FROM nadia_bgw.tier_cuts())
                     UNION ALL
                     SELECT relid, n_tup_ins, n_tup_upd, n_tup_del FROM nadia_bgw.table_hourly
                      WHERE sampled_at >= pg_catalog.now() - interval '30 days'
                        AND sampled_at < (SELECT raw_cut FROM nadia_bgw.tier_cuts())) t
              GROUP BY t.relid) w ON w.relid = i.relid;

-- Duplicate indexes: same table, same columns, operator classes,
-- collations, expressions and predicate.  The one to keep is the one that
-- backs a constraint, else the oldest (lowest OID).
CREATE VIEW nadia_bgw.duplicate_indexes AS
SELECT a.schemaname, a.relname, a.indexrelname AS duplicate_index, b.indexrelname AS same_as,
       a.index_bytes AS duplicate_bytes, a.indexdef AS duplicate_def, b.indexdef AS same_as_def
  FROM nadia_bgw.index_state a
  JOIN nadia_bgw.index_state b
    ON a.index_key = b.index_key AND a.indexrelid <> b.indexrelid
 WHERE a.dropped_at IS NULL AND b.dropped_at IS NULL
   AND a.constraint_name IS NULL
   AND (b.constraint_name IS NOT NULL OR b.indexrelid < a.indexrelid);

-- Table size, dead tuples and a rough bloat estimate (dead-tuple share of
-- the heap; history holds no per-column widths, so this is not pgstattuple).
CREATE VIEW nadia_bgw.table_stats AS
SELECT t.schemaname, t.relname, t.relid,
       t.total_bytes, t.heap_bytes, t.index_bytes, t.toast_bytes,
       t.n_live_tup, t.n_dead_tup,
       t.n_dead_tup::float8 / nullif(t.n_live_tup + t.n_dead_tup, 0) AS dead_tuple_ratio,
       (t.heap_bytes * (t.n_dead_tup::float8 / nullif(t.n_live_tup + t.n_dead_tup, 0)))::bigint AS bloat_bytes_estimate,
       t.seq_scan_total, t.idx_scan_total,
       t.idx_scan_total::float8 / nullif(t.seq_scan_total + t.idx_scan_total, 0) AS index_scan_ratio,
       t.frozenxid_age, t.sampled_at
  FROM nadia_bgw.table_stats_latest t;

-- Vacuum and analyze state per table, with autovacuum's trigger points
-- computed from the current global settings (per-table reloptions are not
-- in history).
CREATE VIEW nadia_bgw.vacuum_stats AS
SELECT t.schemaname, t.relname, t.relid, t.n_live_tup, t.n_dead_tup, t.n_mod_since_analyze,
       t.n_ins_since_vacuum,
       t.last_vacuum, t.last_autovacuum, t.last_analyze, t.last_autoanalyze,
       t.vacuum_count_total, t.autovacuum_count_total, t.analyze_count_total, t.autoanalyze_count_total,
       (current_setting('autovacuum_vacuum_threshold')::float8
        + current_setting('autovacuum_vacuum_scale_factor')::float8 * t.n_live_tup)::bigint AS autovacuum_dead_threshold,
       t.n_dead_tup > current_setting('autovacuum_vacuum_threshold')::float8
        + current_setting('autovacuum_vacuum_scale_factor')::float8 * t.n_live_tup AS vacuum_due,
       t.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::float8
        + current_setting('autovacuum_analyze_scale_factor')::float8 * t.n_live_tup AS analyze_due,
       t.frozenxid_age, t.sampled_at
  FROM nadia_bgw.table_stats_latest t;

-- Buffer cache hit ratio per database over the last hour and day of raw
-- history, and per table over the last day.
CREATE VIEW nadia_bgw.cache_hit_ratios AS
SELECT 'database'::text AS scope, d.datname AS name,
       sum(d.blks_hit) FILTER (WHERE d.sampled_at >= now() - interval '1 hour')::float8
         / nullif(sum(d.blks_hit + d.blks_read) FILTER (WHERE d.sampled_at >= now() - interval '1 hour'), 0) AS hit_ratio_1h,
       sum(d.blks_hit)::float8 / nullif(sum(d.blks_hit + d.blks_read), 0) AS hit_ratio_24h,
       sum(d.blks_read)::bigint AS blks_read_24h, sum(d.blks_hit)::bigint AS blks_hit_24h
  FROM nadia_bgw.database_history d
 WHERE d.sampled_at >= now() - interval '1 day'
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
 WHERE t.sampled_at >= now() - interval '1 day'
 GROUP BY t.schemaname, t.relname;

-- I/O per hour (last 24 hours): database reads, temp files, checkpoints,
-- background writer and WAL.
CREATE VIEW nadia_bgw.io_stats AS
WITH d AS (
    SELECT date_trunc('hour', h.sampled_at) AS hour,
           sum(h.blks_read)::bigint AS blks_read, sum(h.blks_hit)::bigint AS blks_hit,
           sum(h.temp_files)::bigint AS temp_files, sum(h.temp_bytes)::bigint AS temp_bytes,
           sum(h.blk_read_time_ms) AS blk_read_time_ms, sum(h.blk_write_time_ms) AS blk_write_time_ms
      FROM nadia_bgw.database_history h
     WHERE h.sampled_at >= now() - interval '1 day'
     GROUP BY 1),
c AS (
    SELECT date_trunc('hour', h.sampled_at) AS hour,
           sum(h.checkpoints_timed + h.checkpoints_req)::bigint AS checkpoints,
           sum(h.buffers_checkpoint + h.buffers_clean + h.buffers_backend)::bigint AS buffers_written,
           sum(h.wal_bytes)::bigint AS wal_bytes
      FROM nadia_bgw.cluster_history h
     WHERE h.sampled_at >= now() - interval '1 day'
     GROUP BY 1)
SELECT hour, d.blks_read, d.blks_hit, d.temp_files, d.temp_bytes, d.blk_read_time_ms, d.blk_write_time_ms,
       c.checkpoints, c.buffers_written, c.wal_bytes
  FROM d FULL JOIN c USING (hour)
 ORDER BY hour;

-- Connections: the latest activity sample and the peaks of the last hour.
CREATE VIEW nadia_bgw.connections AS
SELECT a.sampled_at, a.max_connections, a.backends, a.active, a.idle,
       a.idle_in_transaction, a.idle_in_transaction_aborted, a.waiting, a.waiting_on_lock,
       a.backends::float8 / nullif(a.max_connections, 0) AS used_ratio,
       a.longest_query_s, a.longest_query_pid, a.longest_query_queryid,
       a.longest_xact_s, a.longest_xact_pid, a.longest_xact_queryid,
       a.longest_idle_in_xact_s, a.longest_idle_in_xact_pid,
       a.by_wait_event_type, a.by_database,
       (SELECT max(x.backends) FROM nadia_bgw.activity_samples x
         WHERE x.sampled_at >= a.sampled_at - interval '1 hour') AS peak_backends_1h,
       (SELECT max(x.idle_in_transaction) FROM nadia_bgw.activity_samples x
         WHERE x.sampled_at >= a.sampled_at - interval '1 hour') AS peak_idle_in_transaction_1h
  FROM nadia_bgw.activity_samples a
 ORDER BY a.sampled_at DESC
 LIMIT 1;

-- Lock waits of the last 24 hours, newest first, with the statement
-- text of the waiter and of the blockers when history knows it.
CREATE VIEW nadia_bgw.lock_waits AS
SELECT w.sampled_at, w.pid, w.datname, w.username, w.locktype, w.mode, w.relation,
       w.wait_s, w.queryid, w.blocking_pids, w.blocking_queryids,
       (SELECT t.query FROM nadia_bgw.statements t WHERE t.queryid = w.queryid AND NOT t.excluded LIMIT 1) AS query,
       (SELECT array_agg(t.query) FROM nadia_bgw.statements t
         WHERE t.queryid = ANY (w.blocking_queryids) AND NOT t.excluded) AS blocking_queries
  FROM nadia_bgw.lock_wait_samples w
 WHERE w.sampled_at >= now() - interval '1 day'
 ORDER BY w.sampled_at DESC, w.wait_s DESC;

-- Replication lag as of the latest sample that saw standbys or slots.
CREATE VIEW nadia_bgw.replication_lag AS
SELECT r.*
  FROM nadia_bgw.replication_samples r
 WHERE r.sampled_at = (SELECT max(x.sampled_at) FROM nadia_bgw.replication_samples x);

-- Transaction ID wraparound: databases and the tables closest to it, as a
-- share of autovacuum_freeze_max_age and of the 2^31 hard limit.
CREATE VIEW nadia_bgw.wraparound AS
SELECT 'database'::text AS scope, d.datname::text AS name, d.frozenxid_age::bigint AS xid_age,
       d.frozenxid_age / current_setting('autovacuum_freeze_max_age')::float8 AS share_of_freeze_max_age,
       d.frozenxid_age / 2147483648.0 AS share_of_wraparound
  FROM nadia_bgw.database_state d
 WHERE d.dropped_at IS NULL
UNION ALL
SELECT 'table', t.schemaname || '.' || t.relname, t.frozenxid_age,
       t.frozenxid_age / current_setting('autovacuum_freeze_max_age')::float8,
       t.frozenxid_age / 2147483648.0
  FROM nadia_bgw.table_stats_latest t
 ORDER BY 3 DESC;

REVOKE ALL ON FUNCTION nadia_bgw.tier_cuts() FROM PUBLIC;
REVOKE ALL ON FUNCTION nadia_bgw.statement_stats(timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION nadia_bgw.statement_stats_by_pattern(text, timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION nadia_bgw.index_scans(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nadia_bgw.tier_cuts(), nadia_bgw.statement_stats(timestamptz, timestamptz),
    nadia_bgw.statement_stats_by_pattern(text, timestamptz, timestamptz),
    nadia_bgw.index_scans(timestamptz, timestamptz)
TO nadia_bgw_reader;
GRANT SELECT ON nadia_bgw.slow_queries, nadia_bgw.top_statements, nadia_bgw.index_usage,
    nadia_bgw.duplicate_indexes, nadia_bgw.table_stats, nadia_bgw.vacuum_stats,
    nadia_bgw.cache_hit_ratios, nadia_bgw.io_stats, nadia_bgw.connections, nadia_bgw.lock_waits,
    nadia_bgw.replication_lag, nadia_bgw.wraparound
TO nadia_bgw_reader;
