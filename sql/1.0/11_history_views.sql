
-- nadia_bgw 1.0 -- history views: one *_history view per raw history table
-- (names joined in, NULL deltas shown as 0) and the latest-state views.
-- All are for nadia_bgw_reader; see docs/history.md.

CREATE VIEW nadia_bgw.statement_history AS
SELECT s.sample_id, h.sampled_at,
       d.queryid, d.dbid, d.datname, d.userid, d.username, h.toplevel,
       coalesce(h.calls, 0)                                   AS calls,
       coalesce(h.total_exec_time, 0)                         AS total_exec_time_ms,
       coalesce(h.total_exec_time, 0) / nullif(h.calls, 0)    AS mean_exec_time_ms,
       h.min_exec_time                                        AS min_exec_time_ms,
       h.max_exec_time                                        AS max_exec_time_ms,
       coalesce(h.plans, 0)                                   AS plans,
       coalesce(h.total_plan_time, 0)                         AS total_plan_time_ms,
       coalesce(h.total_plan_time, 0) / nullif(h.plans, 0)    AS mean_plan_time_ms,
       h.min_plan_time                                        AS min_plan_time_ms,
       h.max_plan_time                                        AS max_plan_time_ms,
       coalesce(h.rows, 0)                                    AS rows,
       coalesce(h.shared_blks_hit, 0)     AS shared_blks_hit,
       coalesce(h.shared_blks_read, 0)    AS shared_blks_read,
       coalesce(h.shared_blks_dirtied, 0) AS shared_blks_dirtied,
       coalesce(h.shared_blks_written, 0) AS shared_blks_written,
       coalesce(h.local_blks_hit, 0)      AS local_blks_hit,
       coalesce(h.local_blks_read, 0)     AS local_blks_read,
       coalesce(h.local_blks_dirtied, 0)  AS local_blks_dirtied,
       coalesce(h.local_blks_written, 0)  AS local_blks_written,
       coalesce(h.temp_blks_read, 0)      AS temp_blks_read,
       coalesce(h.temp_blks_written, 0)   AS temp_blks_written,
       coalesce(h.blk_read_time, 0)       AS blk_read_time_ms,
       coalesce(h.blk_write_time, 0)      AS blk_write_time_ms,
       coalesce(h.wal_records, 0)         AS wal_records,
       coalesce(h.wal_fpi, 0)             AS wal_fpi,
       coalesce(h.wal_bytes, 0)           AS wal_bytes,
       d.query
  FROM nadia_bgw.statement_samples h
  JOIN nadia_bgw.statements d USING (stmt_id)
  LEFT JOIN nadia_bgw.samples s USING (sampled_at);

CREATE VIEW nadia_bgw.table_history AS
SELECT s.sample_id, h.sampled_at, h.relid, t.schemaname, t.relname,
       coalesce(h.seq_scan, 0) AS seq_scan, coalesce(h.seq_tup_read, 0) AS seq_tup_read,
       coalesce(h.idx_scan, 0) AS idx_scan, coalesce(h.idx_tup_fetch, 0) AS idx_tup_fetch,
       coalesce(h.n_tup_ins, 0) AS n_tup_ins, coalesce(h.n_tup_upd, 0) AS n_tup_upd,
       coalesce(h.n_tup_del, 0) AS n_tup_del, coalesce(h.n_tup_hot_upd, 0) AS n_tup_hot_upd,
       coalesce(h.vacuum_count, 0) AS vacuum_count, coalesce(h.autovacuum_count, 0) AS autovacuum_count,
       coalesce(h.analyze_count, 0) AS analyze_count, coalesce(h.autoanalyze_count, 0) AS autoanalyze_count,
       coalesce(h.heap_blks_read, 0) AS heap_blks_read, coalesce(h.heap_blks_hit, 0) AS heap_blks_hit,
       coalesce(h.idx_blks_read, 0) AS idx_blks_read, coalesce(h.idx_blks_hit, 0) AS idx_blks_hit,
       coalesce(h.toast_blks_read, 0) AS toast_blks_read, coalesce(h.toast_blks_hit, 0) AS toast_blks_hit,
       coalesce(h.tidx_blks_read, 0) AS tidx_blks_read, coalesce(h.tidx_blks_hit, 0) AS tidx_blks_hit,
       coalesce(h.n_live_tup, 0) AS n_live_tup, coalesce(h.n_dead_tup, 0) AS n_dead_tup,
       coalesce(h.n_mod_since_analyze, 0) AS n_mod_since_analyze,
       coalesce(h.n_ins_since_vacuum, 0) AS n_ins_since_vacuum,
       h.last_vacuum, h.last_autovacuum, h.last_analyze, h.last_autoanalyze,
       h.frozenxid_age, h.heap_bytes, h.index_bytes, h.toast_bytes, h.total_bytes
  FROM nadia_bgw.table_samples h
  LEFT JOIN nadia_bgw.table_state t USING (relid)
  LEFT JOIN nadia_bgw.samples s USING (sampled_at);

CREATE VIEW nadia_bgw.index_history AS
SELECT s.sample_id, h.sampled_at, h.indexrelid, i.relid, i.schemaname, i.relname, i.indexrelname,
       coalesce(h.idx_scan, 0) AS idx_scan, coalesce(h.idx_tup_read, 0) AS idx_tup_read,
       coalesce(h.idx_tup_fetch, 0) AS idx_tup_fetch,
       h.index_bytes
  FROM nadia_bgw.index_samples h
  LEFT JOIN nadia_bgw.index_state i USING (indexrelid)
  LEFT JOIN nadia_bgw.samples s USING (sampled_at);

CREATE VIEW nadia_bgw.database_history AS
SELECT s.sample_id, h.sampled_at, h.datid, d.datname,
       coalesce(h.xact_commit, 0) AS xact_commit, coalesce(h.xact_rollback, 0) AS xact_rollback,
       coalesce(h.blks_read, 0) AS blks_read, coalesce(h.blks_hit, 0) AS blks_hit,
       coalesce(h.tup_returned, 0) AS tup_returned, coalesce(h.tup_fetched, 0) AS tup_fetched,
       coalesce(h.tup_inserted, 0) AS tup_inserted, coalesce(h.tup_updated, 0) AS tup_updated,
       coalesce(h.tup_deleted, 0) AS tup_deleted, coalesce(h.conflicts, 0) AS conflicts,
       coalesce(h.temp_files, 0) AS temp_files, coalesce(h.temp_bytes, 0) AS temp_bytes,
       coalesce(h.deadlocks, 0) AS deadlocks, coalesce(h.checksum_failures, 0) AS checksum_failures,
       coalesce(h.blk_read_time, 0) AS blk_read_time_ms, coalesce(h.blk_write_time, 0) AS blk_write_time_ms,
       coalesce(h.session_time, 0) AS session_time_ms, coalesce(h.active_time, 0) AS active_time_ms,
       coalesce(h.idle_in_transaction_time, 0) AS idle_in_transaction_time_ms,
       coalesce(h.sessions, 0) AS sessions, coalesce(h.sessions_abandoned, 0) AS sessions_abandoned,
       coalesce(h.sessions_fatal, 0) AS sessions_fatal, coalesce(h.sessions_killed, 0) AS sessions_killed,
       h.numbackends, h.frozenxid_age, h.size_bytes
  FROM nadia_bgw.database_samples h
  LEFT JOIN nadia_bgw.database_state d USING (datid)
  LEFT JOIN nadia_bgw.samples s USING (sampled_at);

CREATE VIEW nadia_bgw.cluster_history AS
SELECT s.sample_id, h.sampled_at,
       coalesce(h.checkpoints_timed, 0) AS checkpoints_timed, coalesce(h.checkpoints_req, 0) AS checkpoints_req,
       coalesce(h.checkpoint_write_time, 0) AS checkpoint_write_time_ms,
       coalesce(h.checkpoint_sync_time, 0) AS checkpoint_sync_time_ms,
       coalesce(h.buffers_checkpoint, 0) AS buffers_checkpoint, coalesce(h.buffers_clean, 0) AS buffers_clean,
       coalesce(h.maxwritten_clean, 0) AS maxwritten_clean, coalesce(h.buffers_backend, 0) AS buffers_backend,
       coalesce(h.buffers_backend_fsync, 0) AS buffers_backend_fsync, coalesce(h.buffers_alloc, 0) AS buffers_alloc,
       coalesce(h.wal_records, 0) AS wal_records, coalesce(h.wal_fpi, 0) AS wal_fpi,
       coalesce(h.wal_bytes, 0) AS wal_bytes, coalesce(h.wal_buffers_full, 0) AS wal_buffers_full,
       coalesce(h.wal_write, 0) AS wal_write, coalesce(h.wal_sync, 0) AS wal_sync,
       coalesce(h.wal_write_time, 0) AS wal_write_time_ms, coalesce(h.wal_sync_time, 0) AS wal_sync_time_ms
  FROM nadia_bgw.cluster_samples h
  LEFT JOIN nadia_bgw.samples s USING (sampled_at);

CREATE VIEW nadia_bgw.activity_history AS
SELECT s.sample_id, h.*
  FROM nadia_bgw.activity_samples h
  LEFT JOIN nadia_bgw.samples s USING (sampled_at);

CREATE VIEW nadia_bgw.lock_wait_history AS
SELECT s.sample_id, h.*
  FROM nadia_bgw.lock_wait_samples h
  LEFT JOIN nadia_bgw.samples s USING (sampled_at);

CREATE VIEW nadia_bgw.replication_history AS
SELECT s.sample_id, h.*
  FROM nadia_bgw.replication_samples h
  LEFT JOIN nadia_bgw.samples s USING (sampled_at);

-- The latest sample in which a source succeeded.
CREATE FUNCTION nadia_bgw.latest_sample(source text,
                                        OUT sample_id bigint, OUT sampled_at timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.sample_id, s.sampled_at FROM nadia_bgw.samples s
     WHERE s.outcome ->> source = 'ok'
     ORDER BY s.sampled_at DESC LIMIT 1
$$;

-- One row per user table as of the latest sample.  Cumulative values and
-- gauges come from table_state (current as of the latest sample), the
-- seq_scan/seq_tup_read/idx_scan deltas from the latest sample (0 when the
-- table did not change in it).
CREATE VIEW nadia_bgw.table_stats_latest AS
SELECT t.relid, t.schemaname, t.relname,
       t.n_live_tup, t.n_dead_tup, t.n_mod_since_analyze, t.n_ins_since_vacuum,
       t.last_vacuum, t.last_autovacuum, t.last_analyze, t.last_autoanalyze,
       pg_catalog.age(t.relfrozenxid) AS frozenxid_age,
       t.heap_bytes, t.index_bytes, t.toast_bytes, t.total_bytes,
       coalesce(h.seq_scan, 0)     AS seq_scan,
       coalesce(h.seq_tup_read, 0) AS seq_tup_read,
       coalesce(h.idx_scan, 0)     AS idx_scan,
       coalesce(h.n_tup_ins, 0)    AS n_tup_ins,
       coalesce(h.n_tup_upd, 0)    AS n_tup_upd,
       coalesce(h.n_tup_del, 0)    AS n_tup_del,
       t.seq_scan AS seq_scan_total, t.idx_scan AS idx_scan_total,
       t.vacuum_count AS vacuum_count_total, t.autovacuum_count AS autovacuum_count_total,
       t.analyze_count AS analyze_count_total, t.autoanalyze_count AS autoanalyze_count_total,
       t.changed_at,
       ls.sample_id, ls.sampled_at
  FROM nadia_bgw.table_state t
  CROSS JOIN nadia_bgw.latest_sample('tables') ls
  LEFT JOIN nadia_bgw.table_samples h
         ON h.relid = t.relid AND h.sampled_at = ls.sampled_at
 WHERE t.dropped_at IS NULL;

CREATE VIEW nadia_bgw.index_stats_latest AS
SELECT i.indexrelid, i.relid, i.schemaname, i.relname, i.indexrelname,
       i.is_valid, i.is_unique, i.is_primary, i.constraint_name, i.constraint_type, i.indexdef,
       i.index_bytes, i.idx_scan AS idx_scan_total, i.idx_tup_read AS idx_tup_read_total,
       i.idx_tup_fetch AS idx_tup_fetch_total,
       coalesce(h.idx_scan, 0) AS idx_scan, coalesce(h.idx_tup_read, 0) AS idx_tup_read,
       coalesce(h.idx_tup_fetch, 0) AS idx_tup_fetch,
       i.changed_at, ls.sample_id, ls.sampled_at
  FROM nadia_bgw.index_state i
  CROSS JOIN nadia_bgw.latest_sample('indexes') ls
  LEFT JOIN nadia_bgw.index_samples h
         ON h.indexrelid = i.indexrelid AND h.sampled_at = ls.sampled_at
 WHERE i.dropped_at IS NULL;

REVOKE ALL ON FUNCTION nadia_bgw.latest_sample(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nadia_bgw.latest_sample(text) TO nadia_bgw_reader;

-- Reader grants: history tables, state tables and the views.
GRANT SELECT ON
    nadia_bgw.samples, nadia_bgw.stats_events, nadia_bgw.statements,
    nadia_bgw.statement_samples, nadia_bgw.statement_hourly, nadia_bgw.statement_daily,
    nadia_bgw.table_samples, nadia_bgw.table_hourly, nadia_bgw.table_daily,
    nadia_bgw.index_samples, nadia_bgw.index_hourly, nadia_bgw.index_daily,
    nadia_bgw.database_samples, nadia_bgw.database_hourly, nadia_bgw.database_daily,
    nadia_bgw.cluster_samples, nadia_bgw.cluster_hourly, nadia_bgw.cluster_daily,
    nadia_bgw.activity_samples, nadia_bgw.lock_wait_samples, nadia_bgw.replication_samples,
    nadia_bgw.table_state, nadia_bgw.index_state, nadia_bgw.database_state,
    nadia_bgw.table_catalog, nadia_bgw.index_catalog, nadia_bgw.cluster_state,
    nadia_bgw.statement_history, nadia_bgw.table_history, nadia_bgw.index_history,
    nadia_bgw.database_history, nadia_bgw.cluster_history, nadia_bgw.activity_history,
    nadia_bgw.lock_wait_history, nadia_bgw.replication_history,
    nadia_bgw.table_stats_latest, nadia_bgw.index_stats_latest
TO nadia_bgw_reader;
-- the table_state and index_state views read the sampler's shared memory
GRANT EXECUTE ON FUNCTION nadia_bgw.tracked_state(text) TO nadia_bgw_reader;
