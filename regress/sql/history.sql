-- history: the sampler against a controlled workload.  Samples are taken
-- with nadia_bgw.take_sample() in this session; the cluster's worker serves
-- another database.  Statistics are flushed with pg_stat_force_next_flush()
-- before each sample (a backend otherwise reports them at most once a
-- second).  A database of its own, so that its sources start from scratch
-- whatever other tests did.
CREATE DATABASE regress_history;
\c regress_history
SET client_min_messages = warning;
CREATE EXTENSION nadia_bgw;
CREATE EXTENSION pg_stat_statements;

CREATE TABLE regress_hist (id integer PRIMARY KEY, v integer);
CREATE INDEX regress_hist_v ON regress_hist (v);
CREATE INDEX regress_hist_v_dup ON regress_hist (v);
INSERT INTO regress_hist SELECT g, g FROM generate_series(1, 10) g;
SELECT pg_stat_force_next_flush();

-- the first sample only takes the baseline
SELECT nadia_bgw.take_sample() AS s1 \gset
SELECT taken_by, failed_sources, rows_written->'statements' AS stmt_rows,
       rows_written->'tables' AS table_rows
  FROM nadia_bgw.samples WHERE sample_id = :s1;

-- exactly 7 calls of one statement, 3 rows inserted
SELECT v FROM regress_hist WHERE id = 1;
SELECT v FROM regress_hist WHERE id = 2;
SELECT v FROM regress_hist WHERE id = 3;
SELECT v FROM regress_hist WHERE id = 4;
SELECT v FROM regress_hist WHERE id = 5;
SELECT v FROM regress_hist WHERE id = 6;
SELECT v FROM regress_hist WHERE id = 7;
INSERT INTO regress_hist VALUES (11, 11), (12, 12), (13, 13);
SELECT pg_stat_force_next_flush();
SELECT nadia_bgw.take_sample() AS s2 \gset
SELECT calls, rows, query FROM nadia_bgw.statement_history
 WHERE sample_id = :s2 AND query LIKE 'SELECT v FROM regress_hist WHERE id%';
SELECT relname, n_tup_ins, idx_scan, n_live_tup FROM nadia_bgw.table_history
 WHERE sample_id = :s2 AND relname = 'regress_hist';
-- the statement ran 7 times through the primary key index
SELECT indexrelname, idx_scan FROM nadia_bgw.index_history
 WHERE sample_id = :s2 AND relname = 'regress_hist' ORDER BY 1;

-- 3 more calls: the next delta is 3, and unchanged objects write nothing
SELECT v FROM regress_hist WHERE id = 1;
SELECT v FROM regress_hist WHERE id = 2;
SELECT v FROM regress_hist WHERE id = 3;
SELECT pg_stat_force_next_flush();
SELECT nadia_bgw.take_sample() AS s3 \gset
SELECT calls FROM nadia_bgw.statement_history
 WHERE sample_id = :s3 AND query LIKE 'SELECT v FROM regress_hist WHERE id%';
SELECT n_tup_ins, idx_scan FROM nadia_bgw.table_history
 WHERE sample_id = :s3 AND relname = 'regress_hist';
SELECT count(*) AS unchanged_index_rows FROM nadia_bgw.index_history
 WHERE sample_id = :s3 AND indexrelname = 'regress_hist_v';

-- latest-state view: one row per user table
SELECT relname, n_live_tup, n_tup_ins, idx_scan, heap_bytes > 0 AS has_size,
       sample_id = :s3 AS from_latest
  FROM nadia_bgw.table_stats_latest WHERE relname = 'regress_hist';

-- sampling its own calls never shows up
SELECT count(*) AS own_statements FROM nadia_bgw.statement_history
 WHERE query ILIKE '%take_sample%' OR query ILIKE '%nadia_bgw.%_state%';

-- pg_stat_statements_reset() between two samples: no negative or inflated
-- delta, and the reset is recorded
SELECT pg_stat_statements_reset() IS NOT NULL AS reset_done;
SELECT v FROM regress_hist WHERE id = 1;
SELECT v FROM regress_hist WHERE id = 2;
SELECT pg_stat_force_next_flush();
SELECT nadia_bgw.take_sample() AS s4 \gset
SELECT calls FROM nadia_bgw.statement_history
 WHERE sample_id = :s4 AND query LIKE 'SELECT v FROM regress_hist WHERE id%';
SELECT source, kind FROM nadia_bgw.stats_events WHERE sample_id = :s4 ORDER BY 1, 2;
SELECT count(*) AS negative_deltas FROM nadia_bgw.statement_samples
 WHERE calls < 0 OR rows < 0 OR total_exec_time < 0 OR shared_blks_hit < 0;

-- a table's counters reset: the delta is what happened since the reset
SELECT pg_stat_reset_single_table_counters('regress_hist'::regclass);
INSERT INTO regress_hist VALUES (14, 14);
SELECT pg_stat_force_next_flush();
SELECT nadia_bgw.take_sample() AS s5 \gset
SELECT n_tup_ins FROM nadia_bgw.table_history WHERE sample_id = :s5 AND relname = 'regress_hist';
SELECT count(*) AS negative_deltas FROM nadia_bgw.table_samples
 WHERE n_tup_ins < 0 OR seq_scan < 0 OR idx_scan < 0 OR heap_blks_hit < 0;
SELECT source, kind, count FROM nadia_bgw.stats_events WHERE sample_id = :s5 ORDER BY 1, 2;

-- secrets in utility statements never reach history
CREATE ROLE regress_hist_secret PASSWORD 'sekret-one';
ALTER ROLE regress_hist_secret PASSWORD 'sekret-two';
ALTER ROLE regress_hist_secret WITH ENCRYPTED PASSWORD 'sekret-three';
SELECT pg_stat_force_next_flush();
SELECT nadia_bgw.take_sample() AS s6 \gset
SELECT query, redacted FROM nadia_bgw.statements
 WHERE redacted AND datname = current_database() AND query ~ 'ROLE' ORDER BY query;
DO $$
DECLARE
    c record;
    n bigint;
    total bigint := 0;
BEGIN
    FOR c IN SELECT a.attrelid::regclass AS rel, a.attname
               FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid
              WHERE r.relnamespace = 'nadia_bgw'::regnamespace AND r.relkind IN ('r', 'p')
                AND a.attnum > 0 AND NOT a.attisdropped
                AND a.atttypid IN ('text'::regtype, 'jsonb'::regtype, 'name'::regtype, 'text[]'::regtype)
    LOOP
        EXECUTE format('SELECT count(*) FROM %s WHERE %I::text LIKE %L', c.rel, c.attname, '%sekret%')
           INTO n;
        total := total + n;
    END LOOP;
    RAISE WARNING 'rows holding the secret in nadia_bgw: %', total;
END
$$;

-- a failing source is recorded and the others still land
SET nadia_bgw.debug_fail_source = 'tables';
INSERT INTO regress_hist VALUES (15, 15);
SELECT v FROM regress_hist WHERE id = 9;
SELECT pg_stat_force_next_flush();
SELECT nadia_bgw.take_sample() AS s7 \gset
RESET nadia_bgw.debug_fail_source;
SELECT failed_sources, outcome->>'tables' AS tables, outcome->>'statements' AS statements,
       outcome->>'indexes' AS indexes
  FROM nadia_bgw.samples WHERE sample_id = :s7;
SELECT count(*) AS table_rows FROM nadia_bgw.table_samples s
  JOIN nadia_bgw.samples USING (sampled_at) WHERE sample_id = :s7;
SELECT calls FROM nadia_bgw.statement_history
 WHERE sample_id = :s7 AND query LIKE 'SELECT v FROM regress_hist WHERE id%';
-- the next sample carries what the failed one missed
INSERT INTO regress_hist VALUES (16, 16);
SELECT pg_stat_force_next_flush();
SELECT nadia_bgw.take_sample() AS s8 \gset
SELECT n_tup_ins FROM nadia_bgw.table_history WHERE sample_id = :s8 AND relname = 'regress_hist';

-- reader surface
-- an index scanned once, then idle for a sample: used, not "unused"
SET enable_seqscan = off;
SELECT id FROM regress_hist WHERE v = 3;
RESET enable_seqscan;
SELECT pg_stat_force_next_flush();
SELECT nadia_bgw.take_sample() > 0 AS sampled;
SELECT nadia_bgw.take_sample() > 0 AS sampled_idle;
SELECT sum(idx_scan_total) AS v_scans, count(*) FILTER (WHERE unused) AS v_unused
  FROM nadia_bgw.index_usage WHERE indexrelname IN ('regress_hist_v', 'regress_hist_v_dup');
SELECT duplicate_index, same_as FROM nadia_bgw.duplicate_indexes WHERE relname = 'regress_hist';
SELECT indexrelname, backs_constraint FROM nadia_bgw.index_usage
 WHERE relname = 'regress_hist' ORDER BY 1;
SELECT calls, query FROM nadia_bgw.statement_stats_by_pattern('select v from regress_hist where id%');
SELECT calls >= 3 AS in_slow_queries FROM nadia_bgw.slow_queries WHERE query LIKE 'SELECT v FROM regress_hist WHERE id%';
SELECT relname, n_live_tup, dead_tuple_ratio IS NOT NULL AS has_ratio FROM nadia_bgw.table_stats
 WHERE relname = 'regress_hist';
SELECT relname, vacuum_due IS NOT NULL AS has_due FROM nadia_bgw.vacuum_stats WHERE relname = 'regress_hist';
SELECT count(*) > 0 AS has_db FROM nadia_bgw.cache_hit_ratios WHERE scope = 'database';
SELECT max_connections > 0 AS has_connections FROM nadia_bgw.connections;
SELECT count(*) > 0 AS has_wraparound FROM nadia_bgw.wraparound WHERE name = 'public.regress_hist';

-- the reader role reads every history view and nothing else
CREATE TABLE interactions (id integer);
CREATE ROLE regress_hist_mcp LOGIN IN ROLE nadia_bgw_reader;
SELECT r.rolname, pg_has_role('nadia_bgw_reader', r.oid, 'MEMBER') AS member
  FROM pg_roles r WHERE r.rolname IN ('pg_read_all_stats', 'pg_monitor', 'pg_read_all_data') ORDER BY 1;
SELECT c.relname AS reader_cannot_select
  FROM pg_class c
 WHERE c.relnamespace = 'nadia_bgw'::regnamespace AND c.relkind IN ('v')
   AND NOT has_table_privilege('nadia_bgw_reader', c.oid, 'SELECT')
 ORDER BY 1;
SET ROLE regress_hist_mcp;
DO $$
DECLARE
    v record;
    n bigint;
BEGIN
    FOR v IN SELECT c.oid::regclass AS rel FROM pg_class c
              WHERE c.relnamespace = 'nadia_bgw'::regnamespace AND c.relkind = 'v' LOOP
        EXECUTE format('SELECT count(*) FROM %s', v.rel) INTO n;
    END LOOP;
    RAISE WARNING 'reader read every view';
END
$$;
SELECT count(*) FROM interactions;
SELECT count(*) FROM regress_hist;
SELECT nadia_bgw.take_sample();
SELECT nadia_bgw.maintain_history();
INSERT INTO nadia_bgw.samples (sampled_at, duration_ms, taken_by, outcome) VALUES (now(), 0, 'x', '{}');
DELETE FROM nadia_bgw.statement_samples;
UPDATE nadia_bgw.table_catalog SET relname = NULL;
TRUNCATE nadia_bgw.samples;
RESET ROLE;

-- a dropped index leaves the latest views, keeps its name for history
DROP INDEX regress_hist_v_dup;
SELECT nadia_bgw.take_sample() AS s10 \gset
SELECT indexrelname, dropped_at IS NOT NULL AS dropped FROM nadia_bgw.index_state
 WHERE relname = 'regress_hist' ORDER BY 1;
SELECT count(*) AS latest_rows FROM nadia_bgw.index_stats_latest WHERE relname = 'regress_hist';
SELECT count(*) AS duplicates FROM nadia_bgw.duplicate_indexes WHERE relname = 'regress_hist';

-- retention: downsampled into the tiers, then whole raw partitions dropped
SELECT count(*) > 0 AS raw_partitions FROM nadia_bgw.history_partitions p
  JOIN nadia_bgw.history_tables t USING (parent) WHERE t.tier = 'raw';
SELECT (nadia_bgw.maintain_history(now() + interval '3 days')->>'dropped_partitions')::int > 0 AS dropped;
SELECT count(*) AS raw_partitions_left FROM nadia_bgw.history_partitions p
  JOIN nadia_bgw.history_tables t USING (parent)
 WHERE t.tier = 'raw' AND p.hi <= now() + interval '2 days';
SELECT count(*) AS raw_rows_left FROM nadia_bgw.statement_samples WHERE sampled_at < now() + interval '2 days';
SELECT count(*) AS samples_left FROM nadia_bgw.samples;
SELECT sum(calls) >= 12 AS hourly_kept_the_calls FROM nadia_bgw.statement_hourly h
  JOIN nadia_bgw.statements t USING (stmt_id) WHERE t.query LIKE 'SELECT v FROM regress_hist WHERE id%';
SELECT sum(calls) >= 12 AS daily_kept_the_calls FROM nadia_bgw.statement_daily h
  JOIN nadia_bgw.statements t USING (stmt_id) WHERE t.query LIKE 'SELECT v FROM regress_hist WHERE id%';
-- the time-range function reads the tiers once the raw rows are gone
SELECT calls >= 12 AS from_tiers FROM nadia_bgw.statement_stats(now() - interval '1 day', now() + interval '3 days')
 WHERE query LIKE 'SELECT v FROM regress_hist WHERE id%';
-- once every tier's retention plus one partition width has passed,
-- everything is gone, partitions and all: a partition is dropped when its
-- whole range is older than the retention, so the newest one (holding now)
-- goes at the latest retention + width after now, on any day of the year;
-- the rule relies on no partition reaching past now + width
SELECT count(*) AS beyond_width FROM nadia_bgw.history_partitions p
  JOIN nadia_bgw.history_tables t USING (parent)
 WHERE p.hi > now() + nadia_bgw.partition_width(t.tier);
SELECT max(nadia_bgw.retention(t) + nadia_bgw.partition_width(t)) AS long_enough
  FROM unnest(ARRAY['raw', 'hourly', 'daily']) t \gset
SELECT (nadia_bgw.maintain_history(now() + :'long_enough'::interval)->>'dropped_partitions')::int > 0 AS dropped;
SELECT count(*) AS partitions_left FROM nadia_bgw.history_partitions;
SELECT count(*) AS children_left FROM pg_inherits i
  JOIN pg_class p ON p.oid = i.inhparent WHERE p.relnamespace = 'nadia_bgw'::regnamespace;

-- without pg_stat_statements in this database: one warning, the rest sampled
DROP EXTENSION pg_stat_statements;
SELECT nadia_bgw.take_sample() AS s9 \gset
SELECT outcome->>'statements' AS statements, failed_sources
  FROM nadia_bgw.samples WHERE sample_id = :s9;

DROP TABLE regress_hist, interactions;
\c contrib_regression
DROP DATABASE regress_history;
DROP ROLE regress_hist_secret, regress_hist_mcp;
