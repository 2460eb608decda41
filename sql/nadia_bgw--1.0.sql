-- nadia_bgw 1.0 -- core: worker status, wake, heartbeat, reader role.
--
-- The extension script is assembled from sql/1.0/*.sql in name order; this
-- fragment comes first and owns what every other module relies on.

\echo Use "CREATE EXTENSION nadia_bgw" to load this file. \quit

-- Nothing in the schema is for PUBLIC; readers get access through
-- nadia_bgw_reader, operators through explicit grants.
REVOKE ALL ON SCHEMA nadia_bgw FROM PUBLIC;

-- The reader role is cluster-wide, so it may already exist (another
-- database, an earlier install).  Roles cannot belong to an extension: it
-- outlives DROP EXTENSION on purpose.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                    WHERE rolname = 'nadia_bgw_reader') THEN
        CREATE ROLE nadia_bgw_reader NOLOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA nadia_bgw TO nadia_bgw_reader;

CREATE FUNCTION nadia_bgw.worker_preloaded()
RETURNS boolean
LANGUAGE C STRICT STABLE
AS 'MODULE_PATHNAME', 'nadia_bgw_worker_preloaded';
REVOKE ALL ON FUNCTION nadia_bgw.worker_preloaded() FROM PUBLIC;

CREATE FUNCTION nadia_bgw.worker_status(
    OUT task text,
    OUT outcome text,
    OUT last_start timestamptz,
    OUT last_end timestamptz,
    OUT last_duration_ms double precision,
    OUT last_success timestamptz,
    OUT runs bigint,
    OUT failures bigint,
    OUT last_error text,
    OUT worker_pid integer,
    OUT worker_state text,
    OUT worker_started_at timestamptz,
    OUT cycles bigint,
    OUT last_cycle_start timestamptz,
    OUT last_cycle_end timestamptz,
    OUT next_cycle_at timestamptz)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'nadia_bgw_worker_status';
REVOKE ALL ON FUNCTION nadia_bgw.worker_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nadia_bgw.worker_status() TO nadia_bgw_reader;

CREATE VIEW nadia_bgw.status AS
    SELECT * FROM nadia_bgw.worker_status();
REVOKE ALL ON nadia_bgw.status FROM PUBLIC;
GRANT SELECT ON nadia_bgw.status TO nadia_bgw_reader;

CREATE FUNCTION nadia_bgw.wake(wait boolean DEFAULT false,
                               timeout_ms integer DEFAULT 30000)
RETURNS boolean
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'nadia_bgw_wake';
REVOKE ALL ON FUNCTION nadia_bgw.wake(boolean, integer) FROM PUBLIC;

-- One row, moved by the heartbeat task each cycle.
CREATE TABLE nadia_bgw.heartbeat (
    id      integer PRIMARY KEY CHECK (id = 1),
    beat_at timestamptz,
    beats   bigint NOT NULL DEFAULT 0
);
INSERT INTO nadia_bgw.heartbeat (id) VALUES (1);
REVOKE ALL ON nadia_bgw.heartbeat FROM PUBLIC;
GRANT SELECT ON nadia_bgw.heartbeat TO nadia_bgw_reader;

-- Say at once when no worker will serve this database.
DO $$
BEGIN
    IF NOT nadia_bgw.worker_preloaded() THEN
        RAISE WARNING 'nadia_bgw is not in shared_preload_libraries: no background worker is running'
            USING HINT = 'Add nadia_bgw to shared_preload_libraries in postgresql.conf and restart the server.';
    ELSIF pg_catalog.current_setting('nadia_bgw.database') <> pg_catalog.current_database() THEN
        RAISE NOTICE 'the nadia_bgw worker serves database "%", not this one',
                     pg_catalog.current_setting('nadia_bgw.database')
            USING HINT = 'Set nadia_bgw.database and restart the server to move it here.';
    END IF;
END
$$;

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
       i.idx_scan_total,
       coalesce(s.idx_scan, 0) AS idx_scan_30d,
       coalesce(w.writes_30d, 0) AS table_writes_30d,
       (coalesce(i.idx_scan_total, 0) = 0 AND i.constraint_name IS NULL) AS unused,
       (coalesce(i.idx_scan_total, 0) > 0 AND coalesce(s.idx_scan, 0) < 50
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
-- nadia_bgw 1.0 -- incremental rollups (worker/rollup*.c, docs/rollups.md).
--
-- A rollup is an ordinary table (one row per time bucket and group) kept
-- equal to
--     SELECT bucket(time), group_by..., aggregates...
--       FROM source WHERE time >= <horizon cutoff> AND (filter)
--      GROUP BY bucket, group_by...
-- by recomputing whole buckets: those that a capture trigger logged below
-- the moving threshold (nadia_bgw.rollup_invalidation), plus the hot
-- buckets at or above the threshold when a transaction wrote there.

-- One row per rollup.
CREATE TABLE nadia_bgw.rollup (
    id                  serial PRIMARY KEY,
    uid                 bigint NOT NULL,            -- tells re-created rollups apart in shared memory
    name                text NOT NULL UNIQUE,       -- schema-qualified target table
    target              regclass NOT NULL,
    source              regclass NOT NULL,
    time_column         name NOT NULL,
    bucket              interval NOT NULL,
    local_days          boolean NOT NULL,           -- whole days in "timezone" (else fixed width)
    origin              timestamptz NOT NULL,       -- bucket origin of fixed-width buckets
    timezone            text NOT NULL,
    bucket_column       name NOT NULL,
    bucket_type         regtype NOT NULL,           -- date or timestamptz
    horizon             interval,
    group_by            text[] NOT NULL DEFAULT '{}',
    aggregates          text[] NOT NULL,
    filter              text,
    query               text NOT NULL,              -- SELECT ... WHERE time >= $1 AND time < $2 ... GROUP BY
    search_path         text NOT NULL,              -- the creator's, under which query is run
    threshold           timestamptz,                -- persisted invalidation threshold (NULL: none yet)
    last_cutoff         timestamptz,
    owner               name NOT NULL DEFAULT current_user,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_refresh_at     timestamptz,
    last_refresh_ms     double precision,
    last_buckets        integer,
    refreshes           bigint NOT NULL DEFAULT 0,
    buckets_recomputed  bigint NOT NULL DEFAULT 0,
    failures            bigint NOT NULL DEFAULT 0,
    last_error          text
);
REVOKE ALL ON nadia_bgw.rollup FROM PUBLIC;

-- Changes below a rollup's threshold, written by the capture trigger in the
-- writer's transaction.  No index on purpose: the trigger inserts with
-- heap_insert() (no privileges needed, no executor), and the refresh reads
-- and deletes all of a rollup's rows at once.
CREATE TABLE nadia_bgw.rollup_invalidation (
    rollup_id   integer NOT NULL,
    lo          timestamptz NOT NULL,
    hi          timestamptz NOT NULL,
    logged_at   timestamptz NOT NULL
);
REVOKE ALL ON nadia_bgw.rollup_invalidation FROM PUBLIC;

CREATE FUNCTION nadia_bgw.rollup_capture()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_capture';
REVOKE ALL ON FUNCTION nadia_bgw.rollup_capture() FROM PUBLIC;

CREATE FUNCTION nadia_bgw._rollup_hot_begin(rollup_id integer, uid bigint,
                                            new_threshold timestamptz,
                                            persisted timestamptz,
                                            OUT hot_from timestamptz,
                                            OUT keep_threshold timestamptz)
RETURNS record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_hot_begin';
REVOKE ALL ON FUNCTION nadia_bgw._rollup_hot_begin(integer, bigint, timestamptz, timestamptz) FROM PUBLIC;

CREATE FUNCTION nadia_bgw._rollup_hot_state(rollup_id integer, uid bigint,
                                            OUT threshold timestamptz,
                                            OUT hot_pending boolean,
                                            OUT oldest_hot_change timestamptz,
                                            OUT hot_registrations bigint)
RETURNS record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_hot_state';
REVOKE ALL ON FUNCTION nadia_bgw._rollup_hot_state(integer, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nadia_bgw._rollup_hot_state(integer, bigint) TO nadia_bgw_reader;

CREATE FUNCTION nadia_bgw._rollup_forget(rollup_id integer, uid bigint)
RETURNS boolean
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_forget';
REVOKE ALL ON FUNCTION nadia_bgw._rollup_forget(integer, bigint) FROM PUBLIC;

-- Start of the bucket that contains ts.
CREATE FUNCTION nadia_bgw._rollup_bucket_start(r nadia_bgw.rollup, ts timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN NOT isfinite(ts) THEN ts
        WHEN r.local_days
        THEN date_bin(r.bucket, ts AT TIME ZONE r.timezone,
                      '2000-01-03 00:00'::timestamp) AT TIME ZONE r.timezone
        ELSE date_bin(r.bucket, ts, r.origin)
    END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_bucket_start(nadia_bgw.rollup, timestamptz) FROM PUBLIC;

-- Start of the bucket after the one starting at s.
CREATE FUNCTION nadia_bgw._rollup_next(r nadia_bgw.rollup, s timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN NOT isfinite(s) THEN s
        WHEN r.local_days THEN ((s AT TIME ZONE r.timezone) + r.bucket) AT TIME ZONE r.timezone
        ELSE s + r.bucket
    END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_next(nadia_bgw.rollup, timestamptz) FROM PUBLIC;

-- The bucket column's value (as text) of the bucket starting at s.
CREATE FUNCTION nadia_bgw._rollup_value(r nadia_bgw.rollup, s timestamptz)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN r.local_days THEN ((s AT TIME ZONE r.timezone)::date)::text
        ELSE s::text
    END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_value(nadia_bgw.rollup, timestamptz) FROM PUBLIC;

-- Starts of the buckets overlapping [lo, hi] (stepping in local time for
-- whole-day buckets, so that DST days stay one bucket each).
CREATE FUNCTION nadia_bgw._rollup_buckets(r nadia_bgw.rollup, lo timestamptz, hi timestamptz)
RETURNS SETOF timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT g AT TIME ZONE z.zone
      FROM (SELECT CASE WHEN r.local_days THEN r.timezone ELSE 'UTC' END AS zone) z,
           generate_series(nadia_bgw._rollup_bucket_start(r, lo) AT TIME ZONE z.zone,
                            nadia_bgw._rollup_bucket_start(r, hi) AT TIME ZONE z.zone,
                            r.bucket) AS g
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_buckets(nadia_bgw.rollup, timestamptz, timestamptz) FROM PUBLIC;

-- Oldest bucket start kept, or -infinity without a horizon.
CREATE FUNCTION nadia_bgw._rollup_cutoff(r nadia_bgw.rollup, now_start timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN r.horizon IS NULL THEN '-infinity'::timestamptz
        WHEN r.local_days
        THEN nadia_bgw._rollup_bucket_start(r,
                 ((now_start AT TIME ZONE r.timezone) - r.horizon) AT TIME ZONE r.timezone)
        ELSE nadia_bgw._rollup_bucket_start(r, now_start - r.horizon)
    END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_cutoff(nadia_bgw.rollup, timestamptz) FROM PUBLIC;

-- Recompute the buckets in [s, e): delete them, insert them from the source.
CREATE FUNCTION nadia_bgw._rollup_recompute(r nadia_bgw.rollup, s timestamptz, e timestamptz)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    EXECUTE format('DELETE FROM %s WHERE %I >= $1::%s AND %I < $2::%s',
                   r.target, r.bucket_column, r.bucket_type,
                   r.bucket_column, r.bucket_type)
      USING nadia_bgw._rollup_value(r, s), nadia_bgw._rollup_value(r, e);
    EXECUTE format('INSERT INTO %s %s', r.target, r.query) USING s, e;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_recompute(nadia_bgw.rollup, timestamptz, timestamptz) FROM PUBLIC;

-- The refresh of one rollup: what refresh_rollup() and the worker run.
-- Returns the number of buckets recomputed, or NULL when skip_locked and
-- another session is refreshing it.  as_of (tests only) stands in for
-- now() when placing the threshold and the horizon, to simulate midnight.
CREATE FUNCTION nadia_bgw._rollup_refresh(rid integer, skip_locked boolean,
                                          as_of timestamptz DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r           nadia_bgw.rollup;
    t0          timestamptz := clock_timestamp();
    now_start   timestamptz;
    cutoff      timestamptz;
    hot         record;
    hot_start   timestamptz;
    full_range  boolean;
    buckets     timestamptz[];
    b           timestamptz;
    run_start   timestamptz;
    run_end     timestamptz;
    n           integer := 0;
    nhot        integer;
    horizon_moved boolean;
    saved_path  text := current_setting('search_path');
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'a rollup refresh must run at READ COMMITTED isolation'
            USING ERRCODE = 'active_sql_transaction',
                  HINT = 'Each recompute must see what committed before it started; run refresh_rollup() outside REPEATABLE READ or SERIALIZABLE transactions.';
    END IF;

    IF skip_locked THEN
        SELECT * INTO r FROM nadia_bgw.rollup WHERE id = rid FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
    ELSE
        SELECT * INTO r FROM nadia_bgw.rollup WHERE id = rid FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'rollup % does not exist', rid USING ERRCODE = 'undefined_object';
        END IF;
    END IF;

    now_start := nadia_bgw._rollup_bucket_start(r, coalesce(as_of, now()));
    cutoff := nadia_bgw._rollup_cutoff(r, now_start);

    -- hot buckets: did a transaction write at or above the threshold?
    SELECT * INTO hot FROM nadia_bgw._rollup_hot_begin(r.id, r.uid, now_start, r.threshold);

    -- cold buckets: what the capture trigger logged (and committed)
    WITH d AS (
        DELETE FROM nadia_bgw.rollup_invalidation WHERE rollup_id = r.id
        RETURNING lo, hi
    )
    SELECT coalesce(bool_or(NOT isfinite(lo) OR NOT isfinite(hi)), false),
           array_agg(DISTINCT s ORDER BY s)
             FILTER (WHERE s IS NOT NULL)
      INTO full_range, buckets
      FROM d
      LEFT JOIN LATERAL nadia_bgw._rollup_buckets(
                 r,
                 CASE WHEN isfinite(d.lo) AND isfinite(d.hi) AND d.hi >= cutoff
                      THEN greatest(d.lo, cutoff) END,
                 CASE WHEN isfinite(d.lo) AND isfinite(d.hi) AND d.hi >= cutoff
                      THEN d.hi END) AS s ON true;

    hot_start := CASE WHEN hot.hot_from IS NULL THEN NULL
                      ELSE greatest(nadia_bgw._rollup_bucket_start(r, hot.hot_from), cutoff) END;
    IF full_range THEN
        hot_start := cutoff;            -- TRUNCATE: everything
    END IF;
    horizon_moved := r.horizon IS NOT NULL AND cutoff IS DISTINCT FROM r.last_cutoff;

    IF hot_start IS NULL AND buckets IS NULL AND NOT horizon_moved
       AND hot.keep_threshold IS NOT DISTINCT FROM r.threshold THEN
        RETURN 0;                       -- nothing changed: no write at all
    END IF;

    -- the user's expressions run under the creator's search_path
    PERFORM set_config('search_path', r.search_path, true);

    FOREACH b IN ARRAY coalesce(buckets, '{}') LOOP
        CONTINUE WHEN hot_start IS NOT NULL AND b >= hot_start;
        IF run_start IS NULL THEN
            run_start := b;
        ELSIF b <> run_end THEN
            PERFORM nadia_bgw._rollup_recompute(r, run_start, run_end);
            run_start := b;
        END IF;
        run_end := nadia_bgw._rollup_next(r, b);
        n := n + 1;
    END LOOP;
    IF run_start IS NOT NULL THEN
        PERFORM nadia_bgw._rollup_recompute(r, run_start, run_end);
    END IF;

    IF hot_start IS NOT NULL THEN
        PERFORM nadia_bgw._rollup_recompute(r, hot_start, 'infinity');
        EXECUTE format('SELECT count(DISTINCT %I)::integer FROM %s WHERE %I >= $1::%s',
                       r.bucket_column, r.target, r.bucket_column, r.bucket_type)
          INTO nhot USING nadia_bgw._rollup_value(r, hot_start);
        -- an emptied bucket was recomputed too
        n := n + greatest(nhot, 1);
    END IF;

    IF horizon_moved AND isfinite(cutoff) THEN
        EXECUTE format('DELETE FROM %s WHERE %I < $1::%s',
                       r.target, r.bucket_column, r.bucket_type)
          USING nadia_bgw._rollup_value(r, cutoff);
    END IF;

    PERFORM set_config('search_path', saved_path, true);

    UPDATE nadia_bgw.rollup
       SET threshold = hot.keep_threshold,
           last_cutoff = cutoff,
           last_refresh_at = CASE WHEN n > 0 OR horizon_moved THEN now() ELSE last_refresh_at END,
           last_refresh_ms = CASE WHEN n > 0 OR horizon_moved
                                  THEN 1000 * extract(epoch FROM clock_timestamp() - t0)
                                  ELSE last_refresh_ms END,
           last_buckets = CASE WHEN n > 0 OR horizon_moved THEN n ELSE last_buckets END,
           refreshes = refreshes + CASE WHEN n > 0 OR horizon_moved THEN 1 ELSE 0 END,
           buckets_recomputed = buckets_recomputed + n,
           last_error = NULL
     WHERE id = r.id;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_refresh(integer, boolean, timestamptz) FROM PUBLIC;

-- The worker's task: every rollup of this database, each in a
-- subtransaction so that one failure does not stop the others.
CREATE FUNCTION nadia_bgw._rollup_task()
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rid     integer;
    rname   text;
    total   integer := 0;
BEGIN
    FOR rid, rname IN SELECT id, name FROM nadia_bgw.rollup ORDER BY id LOOP
        BEGIN
            total := total + coalesce(nadia_bgw._rollup_refresh(rid, true), 0);
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'nadia_bgw: refresh of rollup "%" failed: %', rname, SQLERRM;
            UPDATE nadia_bgw.rollup
               SET last_error = SQLSTATE || ': ' || SQLERRM, failures = failures + 1
             WHERE id IN (SELECT id FROM nadia_bgw.rollup WHERE id = rid
                          FOR UPDATE SKIP LOCKED);
        END;
    END LOOP;
    RETURN total;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_task() FROM PUBLIC;

-- The catalog row of a rollup named like its table (qualified or not).
CREATE FUNCTION nadia_bgw._rollup_lookup(rollup_name text)
RETURNS integer
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    rid integer;
BEGIN
    SELECT id INTO rid FROM nadia_bgw.rollup
     WHERE rollup.target = pg_catalog.to_regclass(rollup_name) OR rollup.name = rollup_name
     ORDER BY rollup.target = pg_catalog.to_regclass(rollup_name) DESC
     LIMIT 1;
    IF rid IS NULL THEN
        RAISE EXCEPTION 'rollup "%" does not exist', rollup_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT name FROM nadia_bgw.rollups lists the rollups of this database.';
    END IF;
    RETURN rid;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_lookup(text) FROM PUBLIC;

CREATE FUNCTION nadia_bgw.refresh_rollup(name text)
RETURNS integer
LANGUAGE plpgsql
AS $$
BEGIN
    RETURN nadia_bgw._rollup_refresh(nadia_bgw._rollup_lookup($1), false);
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw.refresh_rollup(text) FROM PUBLIC;

-- Validation helper: the top plan node of "SELECT expr FROM source",
-- re-raising parse errors with the offending item named.
CREATE FUNCTION nadia_bgw._rollup_check_expr(source regclass, item text, what text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    plan json;
BEGIN
    IF item IS NULL OR btrim(item) = '' OR position(';' IN item) > 0 THEN
        RAISE EXCEPTION 'invalid % "%"', what, item
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give one SQL expression per array element, optionally followed by AS name.';
    END IF;
    BEGIN
        EXECUTE format('EXPLAIN (FORMAT JSON, COSTS OFF) SELECT %s FROM %s', item, source)
           INTO plan;
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'invalid % "%": %', what, item, SQLERRM
            USING ERRCODE = SQLSTATE;
    END;
    RETURN plan -> 0 -> 'Plan' ->> 'Node Type';
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_check_expr(regclass, text, text) FROM PUBLIC;

CREATE FUNCTION nadia_bgw.create_rollup(
    name            text,
    source          regclass,
    time_column     name,
    bucket          interval,
    aggregates      text[],
    group_by        text[] DEFAULT '{}',
    filter          text DEFAULT NULL,
    horizon         interval DEFAULT NULL,
    timezone        text DEFAULT NULL,
    bucket_column   name DEFAULT 'bucket',
    replace_matview boolean DEFAULT false)
RETURNS regclass
LANGUAGE plpgsql
AS $$
DECLARE
    tz          text := coalesce(create_rollup.timezone, current_setting('TimeZone'));
    existing    regclass := to_regclass(create_rollup.name);
    parts       text[];
    tschema     text;
    trel        text;
    target      regclass;
    src_kind    "char";
    src_owner   oid;
    time_type   regtype;
    months      integer;
    days        integer;
    usecs       bigint;
    local_days  boolean;
    origin      timestamptz;
    origin_us   bigint;
    btype       regtype;
    bexpr       text;
    item        text;
    node        text;
    select_list text;
    where_list  text;
    ngroups     integer := coalesce(cardinality(create_rollup.group_by), 0);
    query       text;
    keycols     text;
    rid         integer;
    ruid        bigint;
    mv_owner    oid;
    mv_acl      aclitem[];
    g           record;
    cols        text;
    r           nadia_bgw.rollup;
BEGIN
    -- who may: the owner of the source (or a superuser)
    SELECT c.relkind, c.relowner INTO src_kind, src_owner
      FROM pg_catalog.pg_class c WHERE c.oid = create_rollup.source;
    IF src_kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'source "%" is not a table', create_rollup.source
            USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT pg_catalog.pg_has_role(current_user, src_owner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table % to create a rollup on it', create_rollup.source
            USING ERRCODE = 'insufficient_privilege';
    END IF;

    -- the time column
    SELECT a.atttypid::regtype INTO time_type
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = create_rollup.source AND a.attname = create_rollup.time_column
       AND a.attnum > 0 AND NOT a.attisdropped;
    IF time_type IS NULL THEN
        RAISE EXCEPTION 'column "%" of "%" does not exist', create_rollup.time_column, create_rollup.source
            USING ERRCODE = 'undefined_column';
    END IF;
    IF time_type <> 'timestamptz'::regtype THEN
        RAISE EXCEPTION 'time column "%" is of type %, not timestamp with time zone',
                        create_rollup.time_column, time_type
            USING ERRCODE = 'datatype_mismatch';
    END IF;

    -- the time zone
    BEGIN
        PERFORM now() AT TIME ZONE tz;
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'unknown time zone "%"', tz
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use a name from pg_timezone_names, such as UTC or Europe/Madrid.';
    END;

    -- the bucket: whole days (in the time zone) or a fixed width below a day
    months := extract(year FROM bucket)::integer * 12 + extract(month FROM bucket)::integer;
    days := extract(day FROM bucket)::integer;
    usecs := ((extract(epoch FROM bucket) - days * 86400.0) * 1000000)::bigint;
    IF bucket IS NULL OR months <> 0 OR days < 0 OR usecs < 0
       OR (days > 0 AND usecs <> 0) OR (days = 0 AND usecs < 1000000) THEN
        RAISE EXCEPTION 'invalid bucket "%"', bucket
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use a whole number of days (''1 day'', ''7 days'') or a fixed width of at least one second below that (''15 minutes'', ''1 hour'').';
    END IF;
    local_days := days > 0;
    IF horizon IS NOT NULL AND horizon <= interval '0' THEN
        RAISE EXCEPTION 'invalid horizon "%"', horizon
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use a positive interval or NULL (keep everything).';
    END IF;
    origin := '2000-01-03 00:00'::timestamp AT TIME ZONE tz;
    IF local_days THEN
        btype := 'date';
        origin_us := 172800000000;      -- 2000-01-03 00:00 local, from 2000-01-01
        IF days = 1 THEN
            bexpr := format('(%I AT TIME ZONE %L)::date', time_column, tz);
        ELSE
            bexpr := format('date_bin(%L::interval, %I AT TIME ZONE %L, ''2000-01-03 00:00''::timestamp)::date',
                            bucket, time_column, tz);
        END IF;
        usecs := days::bigint * 86400000000;
    ELSE
        btype := 'timestamptz';
        origin_us := (extract(epoch FROM origin - '2000-01-01 00:00+00'::timestamptz) * 1000000)::bigint;
        bexpr := format('date_bin(%L::interval, %I, %L::timestamptz)', bucket, time_column,
                        to_char(origin AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00');
    END IF;

    -- the definition, checked item by item for clear errors
    IF aggregates IS NULL OR cardinality(aggregates) = 0 THEN
        RAISE EXCEPTION 'a rollup needs at least one aggregate'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    select_list := bexpr || ' AS ' || quote_ident(bucket_column);
    FOREACH item IN ARRAY coalesce(group_by, '{}') LOOP
        node := nadia_bgw._rollup_check_expr(source, item, 'group_by expression');
        IF node NOT IN ('Seq Scan', 'Result', 'Index Only Scan', 'Index Scan', 'Bitmap Heap Scan', 'Append', 'Gather') THEN
            RAISE EXCEPTION 'group_by expression "%" must not contain aggregates or window functions', item
                USING ERRCODE = 'grouping_error';
        END IF;
        select_list := select_list || ', ' || item;
    END LOOP;
    FOREACH item IN ARRAY aggregates LOOP
        node := nadia_bgw._rollup_check_expr(source, item, 'aggregate');
        IF node IS DISTINCT FROM 'Aggregate' THEN
            RAISE EXCEPTION 'aggregate "%" is not an aggregate expression', item
                USING ERRCODE = 'grouping_error',
                      HINT = 'Each aggregates element must aggregate over the rows of a bucket, e.g. count(*) or avg(x); put plain columns in group_by.';
        END IF;
        select_list := select_list || ', ' || item;
    END LOOP;
    where_list := format('%I >= $1 AND %I < $2', time_column, time_column);
    IF filter IS NOT NULL THEN
        IF position(';' IN filter) > 0 THEN
            RAISE EXCEPTION 'invalid filter "%"', filter USING ERRCODE = 'invalid_parameter_value';
        END IF;
        BEGIN
            EXECUTE format('EXPLAIN (COSTS OFF) SELECT 1 FROM %s WHERE (%s)', source, filter);
        EXCEPTION WHEN OTHERS THEN
            RAISE EXCEPTION 'invalid filter "%": %', filter, SQLERRM USING ERRCODE = SQLSTATE;
        END;
        where_list := where_list || format(' AND (%s)', filter);
    END IF;
    query := format('SELECT %s FROM %s WHERE %s GROUP BY %s',
                    select_list, source, where_list,
                    (SELECT string_agg(i::text, ', ') FROM generate_series(1, 1 + ngroups) i));

    -- the target: a fresh table, or one replacing a materialized view
    parts := parse_ident(create_rollup.name);
    IF existing IS NOT NULL THEN
        IF replace_matview AND (SELECT relkind FROM pg_catalog.pg_class WHERE oid = existing) = 'm' THEN
            SELECT c.relowner, c.relacl, n.nspname, c.relname INTO mv_owner, mv_acl, tschema, trel
              FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE c.oid = existing;
            EXECUTE format('DROP MATERIALIZED VIEW %s', existing);
        ELSE
            RAISE EXCEPTION 'relation "%" already exists', create_rollup.name
                USING ERRCODE = 'duplicate_table',
                      HINT = CASE WHEN (SELECT relkind FROM pg_catalog.pg_class WHERE oid = existing) = 'm'
                                  THEN 'Pass replace_matview => true to replace the materialized view.'
                                  ELSE 'Choose another name.' END;
        END IF;
    ELSE
        tschema := CASE WHEN cardinality(parts) > 1 THEN parts[cardinality(parts) - 1] ELSE current_schema() END;
        trel := parts[cardinality(parts)];
    END IF;
    IF cardinality(parts) > 2 THEN
        RAISE EXCEPTION 'invalid rollup name "%"', create_rollup.name USING ERRCODE = 'invalid_name';
    END IF;

    EXECUTE format('CREATE TABLE %I.%I AS %s WITH NO DATA', tschema, trel,
                   replace(replace(query, '$1', '''-infinity''::timestamptz'), '$2', '''infinity''::timestamptz'));
    target := format('%I.%I', tschema, trel)::regclass;
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO keycols
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = target AND a.attnum BETWEEN 1 AND 1 + ngroups;
    EXECUTE format('CREATE UNIQUE INDEX %I ON %s (%s)%s', trel || '_key', target, keycols,
                   CASE WHEN current_setting('server_version_num')::integer >= 150000
                        THEN ' NULLS NOT DISTINCT' ELSE '' END);
    IF mv_owner IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s OWNER TO %I', target, mv_owner::regrole::text);
        FOR g IN SELECT a.grantee, a.privilege_type FROM aclexplode(mv_acl) a
                  WHERE a.grantee <> mv_owner LOOP
            EXECUTE format('GRANT %s ON %s TO %s', g.privilege_type, target,
                           CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(g.grantee::regrole::text) END);
        END LOOP;
    END IF;

    ruid := (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
    INSERT INTO nadia_bgw.rollup (uid, name, target, source, time_column, bucket, local_days,
                                  origin, timezone, bucket_column, bucket_type, horizon,
                                  group_by, aggregates, filter, query, search_path)
    VALUES (ruid, format('%I.%I', tschema, trel), target, source, time_column, bucket,
            local_days, origin, tz, bucket_column, btype, horizon,
            coalesce(group_by, '{}'), aggregates, filter, query, current_setting('search_path'))
    RETURNING id INTO rid;

    -- which columns the rollup reads: UPDATEs of other columns need no capture
    EXECUTE format('CREATE TEMP VIEW nadia_bgw_rollup_cols_%s AS %s', rid,
                   replace(replace(query, '$1', '''-infinity''::timestamptz'), '$2', '''infinity''::timestamptz'));
    SELECT string_agg(DISTINCT quote_ident(a.attname), ', ') INTO cols
      FROM pg_catalog.pg_depend d
      JOIN pg_catalog.pg_rewrite w ON w.oid = d.objid AND d.classid = 'pg_catalog.pg_rewrite'::regclass
      JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
     WHERE w.ev_class = format('pg_temp.%I', 'nadia_bgw_rollup_cols_' || rid)::regclass
       AND d.refobjid = source AND d.refobjsubid > 0;
    EXECUTE format('DROP VIEW pg_temp.%I', 'nadia_bgw_rollup_cols_' || rid);

    -- change capture: a C row trigger firing after the application's own
    -- BEFORE triggers (names sort last), and TRUNCATE
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE OF %s OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION nadia_bgw.rollup_capture(%L, %L, %L, %L, %L, %L, %L)',
                   'zz_nadia_bgw_rollup_' || rid, cols, source,
                   rid, ruid, time_column, CASE WHEN local_days THEN 'local' ELSE 'abs' END,
                   usecs, origin_us, tz);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION nadia_bgw.rollup_capture(%L, %L, %L, %L, %L, %L, %L)',
                   'zz_nadia_bgw_rollup_' || rid || '_truncate', source,
                   rid, ruid, time_column, CASE WHEN local_days THEN 'local' ELSE 'abs' END,
                   usecs, origin_us, tz);

    -- fill it (the triggers' lock on the source waited for writers in flight)
    SELECT * INTO r FROM nadia_bgw.rollup WHERE id = rid;
    EXECUTE format('INSERT INTO %s %s', target, query)
      USING nadia_bgw._rollup_cutoff(r, nadia_bgw._rollup_bucket_start(r, now())), 'infinity'::timestamptz;
    UPDATE nadia_bgw.rollup
       SET last_cutoff = nadia_bgw._rollup_cutoff(r, nadia_bgw._rollup_bucket_start(r, now())),
           last_refresh_at = now(),
           last_refresh_ms = 1000 * extract(epoch FROM clock_timestamp() - now())
     WHERE id = rid;
    RETURN target;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw.create_rollup(text, regclass, name, interval, text[], text[], text, interval, text, name, boolean) FROM PUBLIC;

CREATE FUNCTION nadia_bgw.drop_rollup(name text, keep_table boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    r nadia_bgw.rollup;
BEGIN
    SELECT * INTO r FROM nadia_bgw.rollup WHERE id = nadia_bgw._rollup_lookup($1) FOR UPDATE;
    IF NOT pg_catalog.pg_has_role(current_user,
                                  (SELECT relowner FROM pg_catalog.pg_class WHERE oid = r.source), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table % to drop its rollup', r.source
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'zz_nadia_bgw_rollup_' || r.id, r.source);
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'zz_nadia_bgw_rollup_' || r.id || '_truncate', r.source);
    IF NOT keep_table AND to_regclass(r.name) = r.target THEN
        EXECUTE format('DROP TABLE %s', r.target);
    END IF;
    DELETE FROM nadia_bgw.rollup_invalidation WHERE rollup_id = r.id;
    DELETE FROM nadia_bgw.rollup WHERE id = r.id;
    PERFORM nadia_bgw._rollup_forget(r.id, r.uid);
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw.drop_rollup(text, boolean) FROM PUBLIC;

CREATE VIEW nadia_bgw.rollups AS
SELECT r.name,
       r.source,
       r.time_column,
       r.bucket,
       r.timezone,
       r.horizon,
       r.bucket_column,
       r.group_by,
       coalesce(h.threshold, r.threshold) AS threshold,
       coalesce(i.pending, 0) AS pending_invalidations,
       coalesce(h.hot_pending, false) AS hot_changes_pending,
       least(i.oldest, h.oldest_hot_change) AS oldest_pending_change,
       now() - least(i.oldest, h.oldest_hot_change) AS lag,
       r.last_refresh_at,
       r.last_refresh_ms,
       r.last_buckets AS last_buckets_recomputed,
       r.refreshes,
       r.buckets_recomputed,
       r.failures,
       r.last_error,
       r.created_at
  FROM nadia_bgw.rollup r
  LEFT JOIN LATERAL (SELECT count(*) AS pending, min(v.logged_at) AS oldest
                       FROM nadia_bgw.rollup_invalidation v
                      WHERE v.rollup_id = r.id) i ON true
  LEFT JOIN LATERAL nadia_bgw._rollup_hot_state(r.id, r.uid) h ON true;
REVOKE ALL ON nadia_bgw.rollups FROM PUBLIC;
GRANT SELECT ON nadia_bgw.rollups TO nadia_bgw_reader;

-- Compare a rollup with its full query (EXCEPT both ways): rows missing
-- from the rollup and rows it has that the query does not.  Both zero
-- means it is exact.  Used by the tests; cheap enough for an operator's
-- spot check on moderate tables.
CREATE FUNCTION nadia_bgw.rollup_check(name text, OUT missing bigint, OUT extra bigint)
RETURNS record
LANGUAGE plpgsql
AS $$
DECLARE
    r       nadia_bgw.rollup;
    cutoff  timestamptz;
    q       text;
BEGIN
    SELECT * INTO r FROM nadia_bgw.rollup WHERE id = nadia_bgw._rollup_lookup($1);
    cutoff := nadia_bgw._rollup_cutoff(r, nadia_bgw._rollup_bucket_start(r, now()));
    PERFORM set_config('search_path', r.search_path, true);
    q := replace(replace(r.query, '$1', quote_literal(cutoff) || '::timestamptz'),
                 '$2', '''infinity''::timestamptz');
    EXECUTE format('SELECT count(*) FROM (%s EXCEPT ALL SELECT * FROM %s) x', q, r.target) INTO missing;
    EXECUTE format('SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL %s) x', r.target, q) INTO extra;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw.rollup_check(text) FROM PUBLIC;
-- nadia_bgw 1.0 -- maintenance: VACUUM / ANALYZE planned from the samples.
--
-- The "maintenance" task of the worker reads nadia_bgw.maintenance_plan
-- (built on the sampler's nadia_bgw.table_stats_latest), records the jobs
-- it starts in nadia_bgw.maintenance_history and hands each one to a
-- dynamic background worker that runs the statement at top level.
-- Per-table overrides live in nadia_bgw.maintenance_settings (API:
-- set_maintenance / reset_maintenance); other modules (rollups) ask for a
-- job through nadia_bgw.request_maintenance().

-- Per-table overrides.  A NULL column means "use the GUC default".
CREATE TABLE nadia_bgw.maintenance_settings (
    relid         oid PRIMARY KEY,
    schemaname    name NOT NULL,
    relname       name NOT NULL,
    excluded      boolean NOT NULL DEFAULT false,
    vacuum_ratio  double precision CHECK (vacuum_ratio BETWEEN 0 AND 100),
    vacuum_min    bigint CHECK (vacuum_min >= 0),
    analyze_ratio double precision CHECK (analyze_ratio BETWEEN 0 AND 100),
    analyze_min   bigint CHECK (analyze_min >= 0),
    freeze_age    bigint CHECK (freeze_age BETWEEN 1 AND 2000000000),
    cooldown      interval CHECK (cooldown >= interval '0'),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
REVOKE ALL ON nadia_bgw.maintenance_settings FROM PUBLIC;
GRANT SELECT ON nadia_bgw.maintenance_settings TO nadia_bgw_reader;

-- Jobs asked for by other modules or by an operator; consumed when the
-- job is started.
CREATE TABLE nadia_bgw.maintenance_requests (
    relid        oid PRIMARY KEY,
    action       text NOT NULL CHECK (action IN ('analyze', 'vacuum', 'vacuum analyze')),
    reason       text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
REVOKE ALL ON nadia_bgw.maintenance_requests FROM PUBLIC;
GRANT SELECT ON nadia_bgw.maintenance_requests TO nadia_bgw_reader;

-- One row per job: planned (queued), running, and how it ended.
CREATE TABLE nadia_bgw.maintenance_history (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    relid              oid NOT NULL,
    schemaname         name NOT NULL,
    relname            name NOT NULL,
    action             text NOT NULL CHECK (action IN ('vacuum', 'analyze', 'vacuum analyze',
                                                       'vacuum freeze', 'vacuum freeze analyze')),
    reason             text NOT NULL,
    figures            jsonb NOT NULL DEFAULT '{}',
    emergency          boolean NOT NULL DEFAULT false,
    planned_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    started_at         timestamptz,
    ended_at           timestamptz,
    duration           interval GENERATED ALWAYS AS (ended_at - started_at) STORED,
    dead_tuples_before bigint,
    dead_tuples_after  bigint,
    -- dead tuples before + those the application made during the job - after
    dead_tuples_removed bigint,
    outcome            text NOT NULL DEFAULT 'queued'
                       CHECK (outcome IN ('queued', 'running', 'done', 'skipped-locked',
                                          'skipped-dropped', 'failed', 'cancelled')),
    error              text,
    pid                integer,
    statement          text,
    -- vacuum_cost_limit the job ran with: at start, then the one it ended
    -- with (higher if the task raised it because the job fell behind)
    cost_limit         integer
);
CREATE INDEX maintenance_history_relid_idx
    ON nadia_bgw.maintenance_history (relid, planned_at DESC);
CREATE INDEX maintenance_history_open_idx
    ON nadia_bgw.maintenance_history (id) WHERE outcome IN ('queued', 'running');
CREATE INDEX maintenance_history_planned_idx
    ON nadia_bgw.maintenance_history (planned_at);
REVOKE ALL ON nadia_bgw.maintenance_history FROM PUBLIC;
GRANT SELECT ON nadia_bgw.maintenance_history TO nadia_bgw_reader;

-- Is "at" inside nadia_bgw.maintenance_window?  The window is a list of
-- local time ranges 'HH:MM-HH:MM' (a range may wrap past midnight) in
-- nadia_bgw.maintenance_timezone (empty: the server's TimeZone); an empty
-- window means any time.  The C check hook has validated the syntax.
CREATE FUNCTION nadia_bgw.maintenance_window_open(at timestamptz DEFAULT pg_catalog.now())
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH cfg AS (
        SELECT pg_catalog.btrim(pg_catalog.current_setting('nadia_bgw.maintenance_window')) AS win,
               COALESCE(NULLIF(pg_catalog.current_setting('nadia_bgw.maintenance_timezone'), ''),
                        pg_catalog.current_setting('TimeZone')) AS tz
    ), ranges AS (
        SELECT pg_catalog.split_part(pg_catalog.btrim(r), '-', 1)::time AS s,
               pg_catalog.split_part(pg_catalog.btrim(r), '-', 2)::time AS e
          FROM cfg, pg_catalog.regexp_split_to_table(cfg.win, ',') AS r
         WHERE pg_catalog.btrim(r) <> ''
    ), local AS (
        SELECT (at AT TIME ZONE cfg.tz)::time AS t FROM cfg
    )
    SELECT (SELECT win = '' FROM cfg)
        OR EXISTS (SELECT 1 FROM ranges, local
                    WHERE CASE WHEN ranges.s < ranges.e
                               THEN local.t >= ranges.s AND local.t < ranges.e
                               ELSE local.t >= ranges.s OR local.t < ranges.e
                          END)
$$;
REVOKE ALL ON FUNCTION nadia_bgw.maintenance_window_open(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nadia_bgw.maintenance_window_open(timestamptz) TO nadia_bgw_reader;

-- The plan: every table of the latest sample that needs a VACUUM, an
-- ANALYZE or a freeze (or has a request), with the figures and thresholds
-- that put it there, ranked worst first (freeze emergencies first, then by
-- how far past its threshold it is).  "state" says whether the worker
-- would start it now: ready, running, cooldown, outside window, excluded.
-- Each table's own sample time (sampled_at) tells whether a VACUUM or
-- ANALYZE happened after its figures were taken.
CREATE VIEW nadia_bgw.maintenance_plan AS
WITH cfg AS (
    SELECT pg_catalog.current_setting('nadia_bgw.maintenance_vacuum_ratio')::float8 AS vacuum_ratio,
           pg_catalog.current_setting('nadia_bgw.maintenance_vacuum_min')::bigint AS vacuum_min,
           pg_catalog.current_setting('nadia_bgw.maintenance_analyze_ratio')::float8 AS analyze_ratio,
           pg_catalog.current_setting('nadia_bgw.maintenance_analyze_min')::bigint AS analyze_min,
           pg_catalog.current_setting('nadia_bgw.maintenance_freeze_age')::bigint AS freeze_age,
           pg_catalog.make_interval(secs => (SELECT setting::float8 FROM pg_catalog.pg_settings
                                              WHERE name = 'nadia_bgw.maintenance_cooldown')) AS cooldown,
           pg_catalog.current_setting('nadia_bgw.maintenance_emergency_anytime')::boolean AS emergency_anytime,
           pg_catalog.make_interval(secs => (SELECT setting::float8 FROM pg_catalog.pg_settings
                                              WHERE name = 'nadia_bgw.maintenance_analyze_interval')) AS analyze_interval,
           pg_catalog.current_setting('nadia_bgw.maintenance_duty_cycle')::float8 AS duty_cycle,
           pg_catalog.current_setting('nadia_bgw.maintenance_cost_limit')::float8 AS base_cost_limit,
           nadia_bgw.maintenance_window_open() AS window_open
), tab AS (
    SELECT s.relid, s.schemaname, s.relname,
           GREATEST(s.n_live_tup, 0)::bigint AS n_live_tup,
           GREATEST(s.n_dead_tup, 0)::bigint AS n_dead_tup,
           GREATEST(s.n_mod_since_analyze, 0)::bigint AS n_mod_since_analyze,
           -- the live catalog value: a freeze done since the sample counts
           LEAST(s.frozenxid_age::bigint, pg_catalog.age(c.relfrozenxid)::bigint) AS frozenxid_age,
           COALESCE(o.excluded, false) AS excluded,
           COALESCE(o.vacuum_min, cfg.vacuum_min)
             + COALESCE(o.vacuum_ratio, cfg.vacuum_ratio) * GREATEST(s.n_live_tup, 0) AS vacuum_threshold,
           COALESCE(o.analyze_min, cfg.analyze_min)
             + COALESCE(o.analyze_ratio, cfg.analyze_ratio) * GREATEST(s.n_live_tup, 0) AS analyze_threshold,
           COALESCE(o.freeze_age, cfg.freeze_age) AS freeze_threshold,
           COALESCE(o.cooldown, cfg.cooldown) AS cooldown,
           GREATEST(s.last_vacuum, s.last_autovacuum,
                    pg_catalog.pg_stat_get_last_vacuum_time(s.relid),
                    pg_catalog.pg_stat_get_last_autovacuum_time(s.relid)) AS last_vacuumed,
           GREATEST(s.last_analyze, s.last_autoanalyze,
                    pg_catalog.pg_stat_get_last_analyze_time(s.relid),
                    pg_catalog.pg_stat_get_last_autoanalyze_time(s.relid)) AS last_analyzed,
           r.action AS requested_action, r.reason AS request_reason,
           s.sampled_at,
           cfg.emergency_anytime, cfg.window_open, cfg.analyze_interval, cfg.duty_cycle,
           cfg.base_cost_limit
      FROM nadia_bgw.table_stats_latest s
      JOIN pg_catalog.pg_class c ON c.oid = s.relid
      LEFT JOIN nadia_bgw.maintenance_settings o ON o.relid = s.relid
      LEFT JOIN nadia_bgw.maintenance_requests r ON r.relid = s.relid
     CROSS JOIN cfg
     WHERE c.relkind IN ('r', 'm')
       AND c.relpersistence <> 't'
), need AS (
    SELECT tab.*,
           n_dead_tup > vacuum_threshold
             OR COALESCE(requested_action IN ('vacuum', 'vacuum analyze'), false) AS need_vacuum,
           -- an ANALYZE at most every analyze_interval: under steady churn
           -- the changes pass the threshold within seconds, and statistics
           -- of a table whose rows are rewritten, not added, barely move
           (n_mod_since_analyze > analyze_threshold
            AND COALESCE(last_analyzed <= pg_catalog.now() - analyze_interval, true))
             OR COALESCE(requested_action IN ('analyze', 'vacuum analyze'), false) AS need_analyze,
           frozenxid_age > freeze_threshold AS need_freeze,
           GREATEST(n_dead_tup / NULLIF(vacuum_threshold, 0),
                    n_mod_since_analyze / NULLIF(analyze_threshold, 0),
                    frozenxid_age::float8 / NULLIF(freeze_threshold, 0)) AS score,
           last.planned_at AS last_ours,
           -- our last job achieved little (failed, cancelled, or a VACUUM that
           -- removed less than half of the dead tuples it found and left the
           -- table over threshold: a long transaction holds them): back off
           COALESCE(last.outcome IN ('failed', 'cancelled')
                    OR (last.outcome = 'done' AND last.action LIKE 'vacuum%'
                        AND last.dead_tuples_after > vacuum_threshold
                        AND last.dead_tuples_removed < last.dead_tuples_before / 2), false)
             AND COALESCE(last.ended_at, last.planned_at) > pg_catalog.now() - cooldown AS backoff,
           -- duty cycle: after a VACUUM of d seconds the next one waits
           -- d * (1 / duty_cycle - 1), so that under heavy churn jobs do not
           -- run back to back and take the application's CPU and I/O.  A
           -- job sped up to k times maintenance_cost_limit counts as k d:
           -- what is bounded is the work, not the wall-clock time, and the
           -- speed-up must not buy more of it.  A VACUUM by anyone else
           -- since (autovacuum, which keeps running beside us, or a manual
           -- one) restarts the wait: it was a pass over the same heap and
           -- indexes, taken to cost what ours did
           COALESCE(last.outcome = 'done' AND last.action LIKE 'vacuum%'
                    AND GREATEST(last.ended_at, last_vacuumed) > pg_catalog.now()
                          - (last.ended_at - last.started_at)
                            * GREATEST(COALESCE(last.cost_limit, 0) / base_cost_limit, 1)
                            * (1 / duty_cycle - 1), false) AS spacing,
           EXISTS (SELECT 1 FROM nadia_bgw.maintenance_history h
                    WHERE h.relid = tab.relid AND h.outcome IN ('queued', 'running')) AS job_open
      FROM tab
      LEFT JOIN LATERAL (
            SELECT h.planned_at, h.started_at, h.ended_at, h.outcome, h.action, h.dead_tuples_after,
                   h.dead_tuples_before, h.dead_tuples_removed, h.cost_limit
              FROM nadia_bgw.maintenance_history h
             WHERE h.relid = tab.relid
               AND h.outcome NOT IN ('skipped-locked', 'skipped-dropped')
             ORDER BY h.id DESC LIMIT 1) AS last ON true
)
SELECT pg_catalog.rank() OVER (ORDER BY need_freeze DESC, requested_action IS NOT NULL DESC,
                                        score DESC NULLS LAST, relid) AS rank,
       relid, schemaname, relname,
       CASE WHEN need_freeze AND need_analyze THEN 'vacuum freeze analyze'
            WHEN need_freeze THEN 'vacuum freeze'
            WHEN need_vacuum AND need_analyze THEN 'vacuum analyze'
            WHEN need_vacuum THEN 'vacuum'
            ELSE 'analyze'
       END AS action,
       pg_catalog.concat_ws('; ',
           CASE WHEN need_freeze THEN pg_catalog.format('frozenxid age %s > %s', frozenxid_age, freeze_threshold) END,
           CASE WHEN n_dead_tup > vacuum_threshold THEN pg_catalog.format('dead tuples %s > %s', n_dead_tup, round(vacuum_threshold)) END,
           CASE WHEN need_analyze AND n_mod_since_analyze > analyze_threshold THEN pg_catalog.format('changes since analyze %s > %s', n_mod_since_analyze, round(analyze_threshold)) END,
           CASE WHEN requested_action IS NOT NULL THEN pg_catalog.format('requested %s: %s', requested_action, request_reason) END
       ) AS reason,
       need_freeze AS emergency,
       state,
       pg_catalog.round(score::numeric, 2) AS score,
       n_live_tup, n_dead_tup, round(vacuum_threshold)::bigint AS vacuum_threshold,
       n_mod_since_analyze, round(analyze_threshold)::bigint AS analyze_threshold,
       frozenxid_age, freeze_threshold,
       last_vacuumed, last_analyzed, last_ours AS last_job,
       pg_catalog.jsonb_build_object(
           'n_live_tup', n_live_tup, 'n_dead_tup', n_dead_tup,
           'vacuum_threshold', round(vacuum_threshold),
           'n_mod_since_analyze', n_mod_since_analyze,
           'analyze_threshold', round(analyze_threshold),
           'frozenxid_age', frozenxid_age, 'freeze_threshold', freeze_threshold,
           'score', pg_catalog.round(score::numeric, 2)) AS figures
  FROM (SELECT need.*,
               CASE WHEN excluded THEN 'excluded'
                    WHEN job_open THEN 'running'
                    -- a request is served at once.  Otherwise skip a table
                    -- handled (by anyone) since the sample was taken, whose
                    -- figures are stale, and back off after a job of ours
                    -- that failed, was cancelled or left it over threshold
                    WHEN requested_action IS NULL
                         AND (GREATEST(last_ours,
                                       CASE WHEN need_vacuum OR need_freeze THEN last_vacuumed
                                            ELSE last_analyzed END) > sampled_at
                              OR backoff
                              OR (spacing AND NOT need_freeze)) THEN 'cooldown'
                    WHEN NOT window_open
                         AND NOT (need_freeze AND emergency_anytime)
                         AND NOT (requested_action IS NOT DISTINCT FROM 'analyze'
                                  AND NOT need_vacuum) THEN 'outside window'
                    ELSE 'ready'
               END AS state
          FROM need
         WHERE need_vacuum OR need_analyze OR need_freeze) AS p;
REVOKE ALL ON nadia_bgw.maintenance_plan FROM PUBLIC;
GRANT SELECT ON nadia_bgw.maintenance_plan TO nadia_bgw_reader;

-- Per-table overrides.  Parameters left NULL use the GUC default; calling
-- it again replaces the whole override.
CREATE FUNCTION nadia_bgw.set_maintenance(
    rel regclass,
    excluded boolean DEFAULT false,
    vacuum_ratio double precision DEFAULT NULL,
    vacuum_min bigint DEFAULT NULL,
    analyze_ratio double precision DEFAULT NULL,
    analyze_min bigint DEFAULT NULL,
    freeze_age bigint DEFAULT NULL,
    cooldown interval DEFAULT NULL)
RETURNS nadia_bgw.maintenance_settings
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c   pg_catalog.pg_class;
    row nadia_bgw.maintenance_settings;
BEGIN
    IF rel IS NULL THEN
        RAISE EXCEPTION 'rel must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO c FROM pg_catalog.pg_class WHERE oid = rel;
    IF c.relkind NOT IN ('r', 'm') OR c.relpersistence = 't' THEN
        RAISE EXCEPTION '"%" is not a permanent table or materialized view', rel
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Overrides apply to the tables maintenance runs on; for a partitioned table set them on its partitions.';
    END IF;
    INSERT INTO nadia_bgw.maintenance_settings AS s
           (relid, schemaname, relname, excluded, vacuum_ratio, vacuum_min,
            analyze_ratio, analyze_min, freeze_age, cooldown)
    VALUES (rel, c.relnamespace::regnamespace::name, c.relname, COALESCE(set_maintenance.excluded, false),
            set_maintenance.vacuum_ratio, set_maintenance.vacuum_min,
            set_maintenance.analyze_ratio, set_maintenance.analyze_min,
            set_maintenance.freeze_age, set_maintenance.cooldown)
    ON CONFLICT (relid) DO UPDATE
       SET schemaname = EXCLUDED.schemaname, relname = EXCLUDED.relname,
           excluded = EXCLUDED.excluded,
           vacuum_ratio = EXCLUDED.vacuum_ratio, vacuum_min = EXCLUDED.vacuum_min,
           analyze_ratio = EXCLUDED.analyze_ratio, analyze_min = EXCLUDED.analyze_min,
           freeze_age = EXCLUDED.freeze_age, cooldown = EXCLUDED.cooldown,
           updated_at = pg_catalog.now()
    RETURNING * INTO row;
    RETURN row;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw.set_maintenance(regclass, boolean, double precision, bigint,
                                                 double precision, bigint, bigint, interval) FROM PUBLIC;

CREATE FUNCTION nadia_bgw.reset_maintenance(rel regclass)
RETURNS boolean
LANGUAGE sql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    WITH d AS (DELETE FROM nadia_bgw.maintenance_settings WHERE relid = rel RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM d)
$$;
REVOKE ALL ON FUNCTION nadia_bgw.reset_maintenance(regclass) FROM PUBLIC;

-- Ask the scheduler for a job on a table at its next cycle, whatever the
-- thresholds and the cooldown say.  Rollup refreshes call it with
-- 'analyze' after a large refresh; an ANALYZE request runs outside the
-- maintenance window too (it is cheap), a VACUUM request waits for it.
CREATE FUNCTION nadia_bgw.request_maintenance(
    rel regclass,
    action text DEFAULT 'analyze',
    reason text DEFAULT 'requested')
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c pg_catalog.pg_class;
BEGIN
    IF rel IS NULL OR action IS NULL OR reason IS NULL THEN
        RAISE EXCEPTION 'arguments must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF action NOT IN ('analyze', 'vacuum', 'vacuum analyze') THEN
        RAISE EXCEPTION 'unknown maintenance action "%"', action
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''analyze'', ''vacuum'' or ''vacuum analyze''.';
    END IF;
    SELECT * INTO c FROM pg_catalog.pg_class WHERE oid = rel;
    IF c.relkind NOT IN ('r', 'm') OR c.relpersistence = 't' THEN
        RAISE EXCEPTION '"%" is not a permanent table or materialized view', rel
            USING ERRCODE = 'wrong_object_type';
    END IF;
    INSERT INTO nadia_bgw.maintenance_requests AS q (relid, action, reason)
    VALUES (rel, request_maintenance.action, request_maintenance.reason)
    ON CONFLICT (relid) DO UPDATE
       SET action = CASE WHEN q.action = EXCLUDED.action THEN q.action
                         ELSE 'vacuum analyze' END,
           reason = EXCLUDED.reason,
           requested_at = pg_catalog.now();
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw.request_maintenance(regclass, text, text) FROM PUBLIC;

-- Rollups: a new rollup, and a refresh that recomputed a large part of a
-- rollup (at least two buckets and a tenth of them, by the bucket column's
-- n_distinct from the target's last ANALYZE; or a target never analyzed),
-- ask for an ANALYZE of the target table, served at the next cycle.  The rollup
-- module records each refresh in nadia_bgw.rollup (sql/1.0/20_rollup.sql);
-- this trigger is the only coupling.  SECURITY DEFINER: whoever may refresh
-- a rollup need not be allowed to request maintenance.
CREATE FUNCTION nadia_bgw._maintenance_after_rollup_refresh()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    permanent boolean;
    analyzed  boolean;
    nbuckets  double precision;
BEGIN
    -- a new rollup is filled at creation: analyze it; later, large refreshes
    IF TG_OP = 'UPDATE'
       AND (NEW.refreshes = OLD.refreshes OR COALESCE(NEW.last_buckets, 0) = 0) THEN
        RETURN NULL;
    END IF;
    SELECT c.relkind = 'r' AND c.relpersistence = 'p',
           s.stadistinct IS NOT NULL,
           CASE WHEN s.stadistinct >= 0 THEN s.stadistinct
                ELSE -s.stadistinct * GREATEST(c.reltuples, 0) END
      INTO permanent, analyzed, nbuckets
      FROM pg_catalog.pg_class c
      LEFT JOIN pg_catalog.pg_attribute a
             ON a.attrelid = c.oid AND a.attname = NEW.bucket_column
      LEFT JOIN pg_catalog.pg_statistic s
             ON s.starelid = c.oid AND s.staattnum = a.attnum AND NOT s.stainherit
     WHERE c.oid = NEW.target;
    IF COALESCE(permanent, false)
       AND (TG_OP = 'INSERT' OR NOT analyzed
            OR (NEW.last_buckets >= 2 AND NEW.last_buckets >= 0.1 * nbuckets)) THEN
        PERFORM nadia_bgw.request_maintenance(NEW.target, 'analyze',
                    CASE WHEN TG_OP = 'INSERT'
                         THEN pg_catalog.format('rollup %s created', NEW.name)
                         ELSE pg_catalog.format('rollup refresh: %s buckets of %s recomputed',
                                                NEW.last_buckets, NEW.name) END);
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._maintenance_after_rollup_refresh() FROM PUBLIC;
CREATE TRIGGER maintenance_after_refresh
    AFTER INSERT OR UPDATE ON nadia_bgw.rollup
    FOR EACH ROW EXECUTE FUNCTION nadia_bgw._maintenance_after_rollup_refresh();
-- nadia_bgw 1.0 -- regression detection and alerts.
--
-- The detectors (worker/regression.c) compare the newest history samples
-- with baselines learned from earlier ones and hand what they find to the
-- alert life cycle (worker/alert.c), which keeps nadia_bgw.alerts and
-- sends NOTIFY.  See docs/alerts.md.

-- One row per alert.  An alert is opened once per (kind, object) and then
-- updated in place while the condition lasts; a partial unique index keeps
-- it to one open alert per key even if two detection runs race.
CREATE TABLE nadia_bgw.alerts (
    alert_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_key       text NOT NULL,
    kind            text NOT NULL,
    state           text NOT NULL DEFAULT 'open'
                    CHECK (state IN ('open', 'resolved')),
    severity        text NOT NULL
                    CHECK (severity IN ('info', 'warning', 'critical')),
    peak_severity   text NOT NULL
                    CHECK (peak_severity IN ('info', 'warning', 'critical')),
    object          text NOT NULL,
    object_type     text NOT NULL,
    dbid            oid,
    datname         name,
    relid           oid,
    relname         text,
    queryid         bigint,
    userid          oid,
    query           text,
    metric          text NOT NULL,
    baseline        double precision,
    observed        double precision,
    ratio           double precision,
    opened_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    escalated_at    timestamptz,
    resolved_at     timestamptz,
    resolved_by     text CHECK (resolved_by IN ('auto', 'stale', 'manual')),
    firing_cycles   integer NOT NULL DEFAULT 1,
    normal_cycles   integer NOT NULL DEFAULT 0,
    idle_cycles     integer NOT NULL DEFAULT 0,
    acknowledged_at timestamptz,
    acknowledged_by name,
    ack_note        text,
    muted           boolean NOT NULL DEFAULT false,
    notify_pending  text,
    notified_at     timestamptz,
    notify_error    text,
    details         jsonb NOT NULL DEFAULT '{}'
) WITH (fillfactor = 70);
CREATE UNIQUE INDEX alerts_one_open_per_key
    ON nadia_bgw.alerts (alert_key) WHERE state = 'open';
CREATE INDEX alerts_opened_at ON nadia_bgw.alerts (opened_at);
CREATE INDEX alerts_notify_pending ON nadia_bgw.alerts (alert_id)
    WHERE notify_pending IS NOT NULL;
REVOKE ALL ON nadia_bgw.alerts FROM PUBLIC;
GRANT SELECT ON nadia_bgw.alerts TO nadia_bgw_reader;

CREATE VIEW nadia_bgw.open_alerts AS
    SELECT alert_id, kind, severity, object, metric, baseline, observed,
           ratio, opened_at, updated_at, acknowledged_at, muted, details
      FROM nadia_bgw.alerts
     WHERE state = 'open'
     ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
              opened_at;
REVOKE ALL ON nadia_bgw.open_alerts FROM PUBLIC;
GRANT SELECT ON nadia_bgw.open_alerts TO nadia_bgw_reader;

-- Mutes: a candidate alert that matches a live mute (every non-null
-- column equal) opens silently with muted = true and sends no NOTIFY.
CREATE TABLE nadia_bgw.alert_mutes (
    mute_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text,
    queryid     bigint,
    object      text,
    until       timestamptz,
    reason      text,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by  name NOT NULL DEFAULT CURRENT_USER,
    CHECK (kind IS NOT NULL OR queryid IS NOT NULL OR object IS NOT NULL)
);
REVOKE ALL ON nadia_bgw.alert_mutes FROM PUBLIC;
GRANT SELECT ON nadia_bgw.alert_mutes TO nadia_bgw_reader;

-- Learned baselines: an exponentially weighted mean and variance per
-- (scope, object, metric), updated from each new sample only, so that the
-- cost of a detection run does not grow with the length of the history.
CREATE TABLE nadia_bgw.baselines (
    scope       text NOT NULL,      -- 'statement', 'table', 'database'
    dbid        oid NOT NULL,
    objid       bigint NOT NULL,    -- queryid, relid or 0
    userid      oid NOT NULL,
    metric      text NOT NULL,
    mean        double precision NOT NULL,
    var         double precision NOT NULL DEFAULT 0,
    n           bigint NOT NULL DEFAULT 1,
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (scope, dbid, objid, userid, metric)
) WITH (fillfactor = 70);
REVOKE ALL ON nadia_bgw.baselines FROM PUBLIC;
GRANT SELECT ON nadia_bgw.baselines TO nadia_bgw_reader;

-- Where detection stands: the last sample folded into the baselines and
-- the number of detection runs (a warm-up guard for "new statement").
CREATE TABLE nadia_bgw.detector_state (
    id              integer PRIMARY KEY CHECK (id = 1),
    last_sample_id  bigint,
    last_sampled_at timestamptz,
    runs            bigint NOT NULL DEFAULT 0,
    last_run_at     timestamptz
);
INSERT INTO nadia_bgw.detector_state (id) VALUES (1);
REVOKE ALL ON nadia_bgw.detector_state FROM PUBLIC;
GRANT SELECT ON nadia_bgw.detector_state TO nadia_bgw_reader;

CREATE FUNCTION nadia_bgw.detect_regressions(
    OUT alert_id bigint,
    OUT event text,
    OUT kind text,
    OUT severity text,
    OUT object text,
    OUT metric text,
    OUT baseline double precision,
    OUT observed double precision)
RETURNS SETOF record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'nadia_bgw_detect_regressions';
REVOKE ALL ON FUNCTION nadia_bgw.detect_regressions() FROM PUBLIC;

-- The NOTIFY payload of an alert, as it would be sent for "event".
CREATE FUNCTION nadia_bgw.alert_payload(alert_id bigint,
                                        event text DEFAULT 'opened')
RETURNS text
LANGUAGE C STRICT STABLE
AS 'MODULE_PATHNAME', 'nadia_bgw_alert_payload';
REVOKE ALL ON FUNCTION nadia_bgw.alert_payload(bigint, text) FROM PUBLIC;

CREATE FUNCTION nadia_bgw.acknowledge_alert(alert_id bigint, note text DEFAULT NULL)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE nadia_bgw.alerts a
       SET acknowledged_at = now(), acknowledged_by = session_user, ack_note = note
     WHERE a.alert_id = acknowledge_alert.alert_id AND a.state = 'open'
    RETURNING true;
$$;
REVOKE ALL ON FUNCTION nadia_bgw.acknowledge_alert(bigint, text) FROM PUBLIC;

-- Close an alert by hand (for example after accepting a new normal with
-- nadia_bgw.reset_baselines); no NOTIFY is sent for it.
CREATE FUNCTION nadia_bgw.resolve_alert(alert_id bigint)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE nadia_bgw.alerts a
       SET state = 'resolved', resolved_at = now(), resolved_by = 'manual',
           updated_at = now(), notify_pending = NULL
     WHERE a.alert_id = resolve_alert.alert_id AND a.state = 'open'
    RETURNING true;
$$;
REVOKE ALL ON FUNCTION nadia_bgw.resolve_alert(bigint) FROM PUBLIC;

CREATE FUNCTION nadia_bgw.mute_alerts(kind text DEFAULT NULL,
                                      queryid bigint DEFAULT NULL,
                                      object text DEFAULT NULL,
                                      for_interval interval DEFAULT NULL,
                                      reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id bigint;
BEGIN
    IF kind IS NULL AND queryid IS NULL AND object IS NULL THEN
        RAISE EXCEPTION 'a mute needs a kind, a queryid or an object'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'To silence every alert, set nadia_bgw.notify_channel to a channel nobody listens on.';
    END IF;
    INSERT INTO nadia_bgw.alert_mutes (kind, queryid, object, until, reason)
    VALUES (mute_alerts.kind, mute_alerts.queryid, mute_alerts.object,
            now() + for_interval, mute_alerts.reason)
    RETURNING mute_id INTO id;
    -- open alerts that match stop notifying at once
    UPDATE nadia_bgw.alerts a
       SET muted = true, notify_pending = NULL
     WHERE a.state = 'open'
       AND (mute_alerts.kind IS NULL OR a.kind = mute_alerts.kind)
       AND (mute_alerts.queryid IS NULL OR a.queryid = mute_alerts.queryid)
       AND (mute_alerts.object IS NULL OR a.object = mute_alerts.object);
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw.mute_alerts(text, bigint, text, interval, text) FROM PUBLIC;

CREATE FUNCTION nadia_bgw.unmute_alerts(mute_id bigint)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    DELETE FROM nadia_bgw.alert_mutes m
     WHERE m.mute_id = unmute_alerts.mute_id
    RETURNING true;
$$;
REVOKE ALL ON FUNCTION nadia_bgw.unmute_alerts(bigint) FROM PUBLIC;

-- Forget learned baselines (all, or those of one scope / object), for
-- example after a deliberate change that makes the old normal obsolete.
CREATE FUNCTION nadia_bgw.reset_baselines(scope text DEFAULT NULL,
                                          objid bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH d AS (
        DELETE FROM nadia_bgw.baselines b
         WHERE (reset_baselines.scope IS NULL OR b.scope = reset_baselines.scope)
           AND (reset_baselines.objid IS NULL OR b.objid = reset_baselines.objid)
        RETURNING 1)
    SELECT count(*) FROM d;
$$;
REVOKE ALL ON FUNCTION nadia_bgw.reset_baselines(text, bigint) FROM PUBLIC;

-- The detectors read the newest samples of the raw history tables by
-- sampled_at.  Without an index that is a scan of the whole current raw
-- partition (up to a quarter of nadia_bgw.raw_retention of samples); with
-- one it costs the rows of the window only.  Partitioned indexes: the
-- sampler's future partitions get them too.
CREATE INDEX statement_samples_sampled_at ON nadia_bgw.statement_samples (sampled_at);
CREATE INDEX table_samples_sampled_at ON nadia_bgw.table_samples (sampled_at);
CREATE INDEX database_samples_sampled_at ON nadia_bgw.database_samples (sampled_at);

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
