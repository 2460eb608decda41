
-- nadia_bgw 1.0 -- statistics history: samples, per-source state, raw
-- history partitioned by time, hourly/daily tiers, reader views.
--
-- Documented column by column in docs/history.md.  Conventions:
--  * history rows hold per-interval deltas of rows that changed since the
--    previous sample; a zero delta is stored as NULL (costs one bit) and the
--    *_history views show it as 0;
--  * raw history tables are partitioned by sampled_at; partitions are made
--    by the sampler and dropped whole when older than their retention;
--  * the last cumulative values seen (one set per object) are what a
--    sample compares with, so its cost does not depend on history size.
--    Statements, tables and indexes keep them in shared memory (sized by
--    nadia_bgw.max_tracked_objects; table_state and index_state are views
--    over it and over the *_catalog tables of names and definitions);
--    databases and cluster in the UNLOGGED *_state tables.  After a
--    restart, a crash or on a promoted standby they are gone and the
--    sampler takes a new baseline (event 'state_lost').

-- One row per sample.
CREATE SEQUENCE nadia_bgw.samples_sample_id_seq;
CREATE TABLE nadia_bgw.samples (
    sample_id      bigint PRIMARY KEY DEFAULT pg_catalog.nextval('nadia_bgw.samples_sample_id_seq'),
    sampled_at     timestamptz NOT NULL UNIQUE,
    duration_ms    double precision NOT NULL,
    taken_by       text NOT NULL,          -- 'worker' or 'take_sample'
    outcome        jsonb NOT NULL,          -- {"statements": "ok", "locks": "error: ...", ...}
    failed_sources text[] NOT NULL DEFAULT '{}',
    rows_written   jsonb NOT NULL DEFAULT '{}', -- {"statements": 123, ...}
    source_ms      jsonb NOT NULL DEFAULT '{}'  -- {"statements": 1.234, ...}
);
ALTER SEQUENCE nadia_bgw.samples_sample_id_seq OWNED BY nadia_bgw.samples.sample_id;

-- Per-source bookkeeping: baseline taken, reset markers, dealloc seen.
CREATE TABLE nadia_bgw.source_state (
    source          text PRIMARY KEY,
    initialized_at  timestamptz,
    stats_reset     timestamptz,
    dealloc         bigint,
    last_warning_at timestamptz
);

-- Resets, evictions and other discontinuities seen by the sampler.
CREATE TABLE nadia_bgw.stats_events (
    event_id   bigserial PRIMARY KEY,
    sample_id  bigint NOT NULL,
    sampled_at timestamptz NOT NULL,
    source     text NOT NULL,
    kind       text NOT NULL,   -- 'stats_reset', 'counters_restarted', 'dealloc', 'near_max'
    count      bigint,
    details    jsonb
);
CREATE INDEX ON nadia_bgw.stats_events (sampled_at);

-- Registry of the time partitions the sampler made.
CREATE TABLE nadia_bgw.history_partitions (
    parent regclass NOT NULL,
    child  regclass NOT NULL PRIMARY KEY,
    lo     timestamptz NOT NULL,
    hi     timestamptz NOT NULL,
    CHECK (lo < hi)
);
CREATE INDEX ON nadia_bgw.history_partitions (parent, hi);

-- Which partitioned tables belong to which tier (drives partition width
-- and retention).
CREATE TABLE nadia_bgw.history_tables (
    parent regclass PRIMARY KEY,
    tier   text NOT NULL CHECK (tier IN ('raw', 'hourly', 'daily'))
);

-- Downsampling progress: everything before done_until is in the tier.
CREATE TABLE nadia_bgw.tier_state (
    tier       text PRIMARY KEY CHECK (tier IN ('hourly', 'daily')),
    done_until timestamptz
);
INSERT INTO nadia_bgw.tier_state VALUES ('hourly', NULL), ('daily', NULL);

------------------------------------------------------------------------
-- Statements (pg_stat_statements)
------------------------------------------------------------------------

-- Query text, stored once per (queryid, dbid, userid).
CREATE TABLE nadia_bgw.statements (
    stmt_id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queryid    bigint NOT NULL,
    dbid       oid NOT NULL,
    userid     oid NOT NULL,
    datname    name,
    username   name,
    query      text,
    query_len  integer,            -- length of the text pg_stat_statements had
    redacted   boolean NOT NULL DEFAULT false,
    excluded   boolean NOT NULL DEFAULT false,   -- nadia_bgw's own calls
    first_seen timestamptz NOT NULL,
    UNIQUE (queryid, dbid, userid)
);

CREATE TABLE nadia_bgw.statement_samples (
    sampled_at timestamptz NOT NULL,
    stmt_id integer NOT NULL,
    toplevel boolean NOT NULL,
    calls bigint, plans bigint, total_exec_time double precision, total_plan_time double precision,
    rows bigint,
    shared_blks_hit bigint, shared_blks_read bigint, shared_blks_dirtied bigint, shared_blks_written bigint,
    local_blks_hit bigint, local_blks_read bigint, local_blks_dirtied bigint, local_blks_written bigint,
    temp_blks_read bigint, temp_blks_written bigint,
    blk_read_time double precision, blk_write_time double precision,
    wal_records bigint, wal_fpi bigint, wal_bytes bigint,
    min_exec_time double precision, max_exec_time double precision,
    min_plan_time double precision, max_plan_time double precision
) PARTITION BY RANGE (sampled_at);

------------------------------------------------------------------------
-- Tables (pg_stat_user_tables + pg_statio_user_tables + sizes)
------------------------------------------------------------------------

-- Names of the tables seen by the sampler (written when a table is new or
-- renamed; a dropped table keeps its row, with dropped_at, while history
-- may mention it).
CREATE TABLE nadia_bgw.table_catalog (
    relid oid PRIMARY KEY,
    schemaname name, relname name,
    first_seen timestamptz, dropped_at timestamptz
);

CREATE TABLE nadia_bgw.table_samples (
    sampled_at timestamptz NOT NULL,
    relid oid NOT NULL,
    seq_scan bigint, seq_tup_read bigint, idx_scan bigint, idx_tup_fetch bigint,
    n_tup_ins bigint, n_tup_upd bigint, n_tup_del bigint, n_tup_hot_upd bigint,
    vacuum_count bigint, autovacuum_count bigint, analyze_count bigint, autoanalyze_count bigint,
    heap_blks_read bigint, heap_blks_hit bigint, idx_blks_read bigint, idx_blks_hit bigint,
    toast_blks_read bigint, toast_blks_hit bigint, tidx_blks_read bigint, tidx_blks_hit bigint,
    n_live_tup bigint, n_dead_tup bigint, n_mod_since_analyze bigint, n_ins_since_vacuum bigint,
    last_vacuum timestamptz, last_autovacuum timestamptz, last_analyze timestamptz, last_autoanalyze timestamptz,
    frozenxid_age integer, heap_bytes bigint, index_bytes bigint, toast_bytes bigint, total_bytes bigint
) PARTITION BY RANGE (sampled_at);

------------------------------------------------------------------------
-- Indexes (pg_stat_user_indexes + pg_statio_user_indexes + pg_index)
------------------------------------------------------------------------

-- Names and definitions of the indexes seen by the sampler (written when
-- an index is new, renamed, rebuilt or its constraint changed).
CREATE TABLE nadia_bgw.index_catalog (
    indexrelid oid PRIMARY KEY,
    relid oid, schemaname name, relname name, indexrelname name,
    is_valid boolean, is_unique boolean, is_primary boolean, constraint_name name, constraint_type "char",
    index_key text,            -- indkey, indclass, expressions and predicate: equal keys = duplicates
    indexdef text,
    first_seen timestamptz, dropped_at timestamptz
);

CREATE TABLE nadia_bgw.index_samples (
    sampled_at timestamptz NOT NULL,
    indexrelid oid NOT NULL,
    idx_scan bigint, idx_tup_read bigint, idx_tup_fetch bigint,
    index_bytes bigint
) PARTITION BY RANGE (sampled_at);

------------------------------------------------------------------------
-- The last-seen values of tables and indexes, from the sampler's shared
-- memory (empty after a restart until the next sample).
------------------------------------------------------------------------

CREATE FUNCTION nadia_bgw.tracked_state(source text)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'nadia_bgw_tracked_state';

CREATE VIEW nadia_bgw.table_state AS
SELECT c.relid, c.schemaname, c.relname, s.relfilenode, s.reltoastrelid, s.relfrozenxid,
       s.seq_scan, s.seq_tup_read, s.idx_scan, s.idx_tup_fetch,
       s.n_tup_ins, s.n_tup_upd, s.n_tup_del, s.n_tup_hot_upd,
       s.vacuum_count, s.autovacuum_count, s.analyze_count, s.autoanalyze_count,
       s.heap_blks_read, s.heap_blks_hit, s.idx_blks_read, s.idx_blks_hit,
       s.toast_blks_read, s.toast_blks_hit, s.tidx_blks_read, s.tidx_blks_hit,
       s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze, s.n_ins_since_vacuum,
       s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
       s.frozenxid_age, s.heap_bytes, s.index_bytes, s.toast_bytes, s.total_bytes,
       s.changed_at, c.dropped_at
  FROM nadia_bgw.table_catalog c
  LEFT JOIN nadia_bgw.tracked_state('tables') AS s(
       relid oid, relfilenode oid, reltoastrelid oid, relfrozenxid xid,
       seq_scan bigint, seq_tup_read bigint, idx_scan bigint, idx_tup_fetch bigint,
       n_tup_ins bigint, n_tup_upd bigint, n_tup_del bigint, n_tup_hot_upd bigint,
       vacuum_count bigint, autovacuum_count bigint, analyze_count bigint, autoanalyze_count bigint,
       heap_blks_read bigint, heap_blks_hit bigint, idx_blks_read bigint, idx_blks_hit bigint,
       toast_blks_read bigint, toast_blks_hit bigint, tidx_blks_read bigint, tidx_blks_hit bigint,
       n_live_tup bigint, n_dead_tup bigint, n_mod_since_analyze bigint, n_ins_since_vacuum bigint,
       last_vacuum timestamptz, last_autovacuum timestamptz, last_analyze timestamptz, last_autoanalyze timestamptz,
       frozenxid_age integer, heap_bytes bigint, index_bytes bigint, toast_bytes bigint, total_bytes bigint,
       changed_at timestamptz) ON s.relid = c.relid;

CREATE VIEW nadia_bgw.index_state AS
SELECT c.indexrelid, c.relid, c.schemaname, c.relname, c.indexrelname, s.relfilenode, s.table_writes,
       c.is_valid, c.is_unique, c.is_primary, c.constraint_name, c.constraint_type, c.index_key, c.indexdef,
       s.idx_scan, s.idx_tup_read, s.idx_tup_fetch, s.idx_blks_read, s.idx_blks_hit, s.index_bytes,
       s.changed_at, c.dropped_at
  FROM nadia_bgw.index_catalog c
  LEFT JOIN nadia_bgw.tracked_state('indexes') AS s(
       indexrelid oid, relfilenode oid, table_writes bigint,
       idx_scan bigint, idx_tup_read bigint, idx_tup_fetch bigint, idx_blks_read bigint, idx_blks_hit bigint,
       index_bytes bigint, changed_at timestamptz) ON s.indexrelid = c.indexrelid;

REVOKE ALL ON FUNCTION nadia_bgw.tracked_state(text) FROM PUBLIC;

------------------------------------------------------------------------
-- Databases (pg_stat_database)
------------------------------------------------------------------------

CREATE UNLOGGED TABLE nadia_bgw.database_state (
    datid oid PRIMARY KEY,
    datname name, stats_reset timestamptz,
    xact_commit bigint, xact_rollback bigint, blks_read bigint, blks_hit bigint,
    tup_returned bigint, tup_fetched bigint, tup_inserted bigint, tup_updated bigint, tup_deleted bigint,
    conflicts bigint, temp_files bigint, temp_bytes bigint, deadlocks bigint, checksum_failures bigint,
    blk_read_time double precision, blk_write_time double precision,
    session_time double precision, active_time double precision, idle_in_transaction_time double precision,
    sessions bigint, sessions_abandoned bigint, sessions_fatal bigint, sessions_killed bigint,
    numbackends integer, frozenxid_age integer, size_bytes bigint,
    changed_at timestamptz, dropped_at timestamptz
);

CREATE TABLE nadia_bgw.database_samples (
    sampled_at timestamptz NOT NULL,
    datid oid NOT NULL,
    xact_commit bigint, xact_rollback bigint, blks_read bigint, blks_hit bigint,
    tup_returned bigint, tup_fetched bigint, tup_inserted bigint, tup_updated bigint, tup_deleted bigint,
    conflicts bigint, temp_files bigint, temp_bytes bigint, deadlocks bigint, checksum_failures bigint,
    blk_read_time double precision, blk_write_time double precision,
    session_time double precision, active_time double precision, idle_in_transaction_time double precision,
    sessions bigint, sessions_abandoned bigint, sessions_fatal bigint, sessions_killed bigint,
    numbackends integer, frozenxid_age integer, size_bytes bigint
) PARTITION BY RANGE (sampled_at);

------------------------------------------------------------------------
-- Cluster (pg_stat_bgwriter / pg_stat_checkpointer, pg_stat_wal)
------------------------------------------------------------------------

CREATE UNLOGGED TABLE nadia_bgw.cluster_state (
    node integer PRIMARY KEY,
    bgwriter_reset timestamptz, wal_reset timestamptz,
    checkpoints_timed bigint, checkpoints_req bigint,
    checkpoint_write_time double precision, checkpoint_sync_time double precision,
    buffers_checkpoint bigint, buffers_clean bigint, maxwritten_clean bigint,
    buffers_backend bigint, buffers_backend_fsync bigint, buffers_alloc bigint,
    wal_records bigint, wal_fpi bigint, wal_bytes bigint, wal_buffers_full bigint,
    wal_write bigint, wal_sync bigint, wal_write_time double precision, wal_sync_time double precision,
    changed_at timestamptz, dropped_at timestamptz
);

CREATE TABLE nadia_bgw.cluster_samples (
    sampled_at timestamptz NOT NULL,
    node integer NOT NULL,
    checkpoints_timed bigint, checkpoints_req bigint,
    checkpoint_write_time double precision, checkpoint_sync_time double precision,
    buffers_checkpoint bigint, buffers_clean bigint, maxwritten_clean bigint,
    buffers_backend bigint, buffers_backend_fsync bigint, buffers_alloc bigint,
    wal_records bigint, wal_fpi bigint, wal_bytes bigint, wal_buffers_full bigint,
    wal_write bigint, wal_sync bigint, wal_write_time double precision, wal_sync_time double precision
) PARTITION BY RANGE (sampled_at);

------------------------------------------------------------------------
-- Activity, lock waits, replication (gauges: one row set per sample)
------------------------------------------------------------------------

CREATE TABLE nadia_bgw.activity_samples (
    sampled_at timestamptz NOT NULL,
    max_connections integer,
    backends integer, active integer, idle integer,
    idle_in_transaction integer, idle_in_transaction_aborted integer,
    waiting integer, waiting_on_lock integer,
    longest_query_s double precision, longest_query_pid integer, longest_query_queryid bigint,
    longest_xact_s double precision, longest_xact_pid integer, longest_xact_queryid bigint,
    longest_idle_in_xact_s double precision, longest_idle_in_xact_pid integer,
    by_wait_event_type jsonb, by_database jsonb
) PARTITION BY RANGE (sampled_at);

CREATE TABLE nadia_bgw.lock_wait_samples (
    sampled_at timestamptz NOT NULL,
    pid integer, datname name, username name,
    locktype text, mode text, relation text,
    wait_s double precision, queryid bigint,
    blocking_pids integer[], blocking_queryids bigint[]
) PARTITION BY RANGE (sampled_at);

CREATE TABLE nadia_bgw.replication_samples (
    sampled_at timestamptz NOT NULL,
    kind text NOT NULL,            -- 'standby' or 'slot'
    name text,                     -- application_name or slot_name
    state text,                    -- standby state, or slot wal_status
    active boolean,
    sent_lag_bytes bigint, write_lag_bytes bigint, flush_lag_bytes bigint, replay_lag_bytes bigint,
    write_lag_s double precision, flush_lag_s double precision, replay_lag_s double precision,
    retained_bytes bigint
) PARTITION BY RANGE (sampled_at);

------------------------------------------------------------------------
-- Downsampling tiers (sums of deltas, min of minima, max of maxima and of
-- gauges; "samples" = raw rows aggregated)
------------------------------------------------------------------------

CREATE TABLE nadia_bgw.statement_hourly (LIKE nadia_bgw.statement_samples) PARTITION BY RANGE (sampled_at);
ALTER TABLE nadia_bgw.statement_hourly ADD COLUMN samples integer;
CREATE TABLE nadia_bgw.statement_daily (LIKE nadia_bgw.statement_hourly) PARTITION BY RANGE (sampled_at);
CREATE TABLE nadia_bgw.table_hourly (LIKE nadia_bgw.table_samples) PARTITION BY RANGE (sampled_at);
ALTER TABLE nadia_bgw.table_hourly ADD COLUMN samples integer;
CREATE TABLE nadia_bgw.table_daily (LIKE nadia_bgw.table_hourly) PARTITION BY RANGE (sampled_at);
CREATE TABLE nadia_bgw.index_hourly (LIKE nadia_bgw.index_samples) PARTITION BY RANGE (sampled_at);
ALTER TABLE nadia_bgw.index_hourly ADD COLUMN samples integer;
CREATE TABLE nadia_bgw.index_daily (LIKE nadia_bgw.index_hourly) PARTITION BY RANGE (sampled_at);
CREATE TABLE nadia_bgw.database_hourly (LIKE nadia_bgw.database_samples) PARTITION BY RANGE (sampled_at);
ALTER TABLE nadia_bgw.database_hourly ADD COLUMN samples integer;
CREATE TABLE nadia_bgw.database_daily (LIKE nadia_bgw.database_hourly) PARTITION BY RANGE (sampled_at);
CREATE TABLE nadia_bgw.cluster_hourly (LIKE nadia_bgw.cluster_samples) PARTITION BY RANGE (sampled_at);
ALTER TABLE nadia_bgw.cluster_hourly ADD COLUMN samples integer;
CREATE TABLE nadia_bgw.cluster_daily (LIKE nadia_bgw.cluster_hourly) PARTITION BY RANGE (sampled_at);

INSERT INTO nadia_bgw.history_tables VALUES
    ('nadia_bgw.statement_samples', 'raw'), ('nadia_bgw.table_samples', 'raw'),
    ('nadia_bgw.index_samples', 'raw'), ('nadia_bgw.database_samples', 'raw'),
    ('nadia_bgw.cluster_samples', 'raw'), ('nadia_bgw.activity_samples', 'raw'),
    ('nadia_bgw.lock_wait_samples', 'raw'), ('nadia_bgw.replication_samples', 'raw'),
    ('nadia_bgw.statement_hourly', 'hourly'), ('nadia_bgw.table_hourly', 'hourly'),
    ('nadia_bgw.index_hourly', 'hourly'), ('nadia_bgw.database_hourly', 'hourly'),
    ('nadia_bgw.cluster_hourly', 'hourly'),
    ('nadia_bgw.statement_daily', 'daily'), ('nadia_bgw.table_daily', 'daily'),
    ('nadia_bgw.index_daily', 'daily'), ('nadia_bgw.database_daily', 'daily'),
    ('nadia_bgw.cluster_daily', 'daily');

------------------------------------------------------------------------
-- Partition management (called by the sampler; superuser only)
------------------------------------------------------------------------

-- Retention of a tier ('raw', 'hourly', 'daily') from its GUC (minutes).
CREATE FUNCTION nadia_bgw.retention(tier text)
RETURNS interval
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT make_interval(mins => s.setting::int)
      FROM pg_catalog.pg_settings s WHERE s.name = 'nadia_bgw.' || tier || '_retention'
$$;

-- Width of one partition of a tier: a quarter of its retention, rounded
-- up to the tier's unit (an hour for raw, a day otherwise), so a table has
-- about five partitions at a time.
CREATE FUNCTION nadia_bgw.partition_width(tier text)
RETURNS interval
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE tier
        WHEN 'raw' THEN make_interval(hours =>
            greatest(1, ceil(extract(epoch FROM nadia_bgw.retention(tier)) / 3600 / 4)::int))
        ELSE make_interval(days =>
            greatest(1, ceil(extract(epoch FROM nadia_bgw.retention(tier)) / 86400 / 4)::int))
    END
$$;

-- Make sure every table of a tier has a partition holding "ts".
CREATE FUNCTION nadia_bgw.ensure_partitions(p_tier text, ts timestamptz)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    t        record;
    width    interval := nadia_bgw.partition_width(p_tier);
    w_s      double precision := extract(epoch FROM nadia_bgw.partition_width(p_tier));
    lo       timestamptz;
    hi       timestamptz;
    prev_hi  timestamptz;
    next_lo  timestamptz;
    child    text;
    made     integer := 0;
BEGIN
    FOR t IN SELECT h.parent FROM nadia_bgw.history_tables h
              WHERE h.tier = p_tier
                AND NOT EXISTS (SELECT 1 FROM nadia_bgw.history_partitions p
                                 WHERE p.parent = h.parent AND p.lo <= ts AND ts < p.hi)
    LOOP
        -- epoch arithmetic: interval arithmetic in a DST zone would make
        -- 23- or 25-hour days and misaligned partitions
        lo := to_timestamp(floor(extract(epoch FROM ts) / w_s) * w_s);
        hi := to_timestamp(floor(extract(epoch FROM ts) / w_s) * w_s + w_s);
        SELECT max(p.hi) INTO prev_hi FROM nadia_bgw.history_partitions p
         WHERE p.parent = t.parent AND p.hi <= ts;
        SELECT min(p.lo) INTO next_lo FROM nadia_bgw.history_partitions p
         WHERE p.parent = t.parent AND p.lo > ts;
        IF prev_hi IS NOT NULL AND prev_hi > lo THEN lo := prev_hi; END IF;
        IF next_lo IS NOT NULL AND next_lo < hi THEN hi := next_lo; END IF;
        IF lo >= hi THEN
            RAISE EXCEPTION 'no room for a partition of % at %', t.parent, ts;
        END IF;
        child := format('%s_%s', (SELECT c.relname FROM pg_class c WHERE c.oid = t.parent),
                        to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD_HH24MI'));
        EXECUTE format('CREATE TABLE nadia_bgw.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                       child, t.parent, lo, hi);
        EXECUTE format('REVOKE ALL ON nadia_bgw.%I FROM PUBLIC', child);
        INSERT INTO nadia_bgw.history_partitions (parent, child, lo, hi)
        VALUES (t.parent, format('nadia_bgw.%I', child)::regclass, lo, hi);
        made := made + 1;
    END LOOP;
    RETURN made;
END
$$;

-- Drop the partitions of a tier whose whole range is older than "cutoff".
-- A partition a reader holds a lock on is skipped (lock_timeout) and
-- dropped by a later call.
CREATE FUNCTION nadia_bgw.drop_old_partitions(p_tier text, cutoff timestamptz)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p       record;
    dropped integer := 0;
BEGIN
    FOR p IN SELECT hp.child FROM nadia_bgw.history_partitions hp
               JOIN nadia_bgw.history_tables ht USING (parent)
              WHERE ht.tier = p_tier AND hp.hi <= cutoff
              ORDER BY hp.hi
    LOOP
        BEGIN
            SET LOCAL lock_timeout = '1s';
            EXECUTE format('DROP TABLE %s', p.child);
            DELETE FROM nadia_bgw.history_partitions WHERE child = p.child;
            dropped := dropped + 1;
        EXCEPTION WHEN lock_not_available THEN
            RAISE NOTICE 'partition % is in use, dropped later', p.child;
        END;
    END LOOP;
    RETURN dropped;
END
$$;

REVOKE ALL ON FUNCTION nadia_bgw.partition_width(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION nadia_bgw.ensure_partitions(text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION nadia_bgw.drop_old_partitions(text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION nadia_bgw.retention(text) FROM PUBLIC;

------------------------------------------------------------------------
-- Functions that act (superuser only)
------------------------------------------------------------------------

CREATE FUNCTION nadia_bgw.take_sample()
RETURNS bigint
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'nadia_bgw_take_sample';
REVOKE ALL ON FUNCTION nadia_bgw.take_sample() FROM PUBLIC;

-- Downsample finished hours/days and drop expired partitions now (the
-- sample task does this every cycle).  "now_ts" lets a benchmark or test
-- replay a simulated clock.
CREATE FUNCTION nadia_bgw.maintain_history(now_ts timestamptz DEFAULT pg_catalog.now())
RETURNS jsonb
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'nadia_bgw_maintain_history';
REVOKE ALL ON FUNCTION nadia_bgw.maintain_history(timestamptz) FROM PUBLIC;

REVOKE ALL ON ALL TABLES IN SCHEMA nadia_bgw FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA nadia_bgw FROM PUBLIC;
