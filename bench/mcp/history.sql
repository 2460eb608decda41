-- bench/mcp/history.sql -- 7 days of nadia_bgw history at a 60 s interval,
-- written straight into the history tables (a real sampler would need a
-- week): the last day raw (one sample a minute), the six days before in
-- the hourly tier, as the sampler's downsampling leaves them.  Objects are
-- real (tables and indexes made here and sampled once for their state);
-- statements are synthetic rows of nadia_bgw.statements.
--
--   psql -v statements=500 -v active_pct=20 -v tables=50 -f history.sql
-- Deterministic (setseed).

\set ON_ERROR_STOP 1
SELECT setseed(0.42);

-- application tables with two indexes each (and a duplicate on the first)
SELECT format('CREATE TABLE IF NOT EXISTS public.bench_t%s (id int PRIMARY KEY, v int, t text);
               CREATE INDEX IF NOT EXISTS bench_t%s_v ON public.bench_t%s (v);
               INSERT INTO public.bench_t%s SELECT g, g %% 100, md5(g::text) FROM generate_series(1, 2000) g
               ON CONFLICT DO NOTHING;', i, i, i, i)
  FROM generate_series(1, :tables) i \gexec
CREATE INDEX IF NOT EXISTS bench_t1_v_dup ON public.bench_t1 (v);
ANALYZE;
-- the sampler's state: one real baseline sample and one with changes
SELECT nadia_bgw.take_sample();
UPDATE public.bench_t1 SET v = v + 1 WHERE id <= 100;
SELECT nadia_bgw.take_sample();

-- synthetic statements (normalized texts, as pg_stat_statements has them)
INSERT INTO nadia_bgw.statements (queryid, dbid, userid, datname, username, query, query_len, first_seen)
SELECT 1000000000000 + g * 7919, d.oid, r.oid, current_database(), current_user,
       CASE g % 4
         WHEN 0 THEN format('SELECT id, v, t FROM public.bench_t%s WHERE v = $1 ORDER BY id LIMIT $2', g % :tables + 1)
         WHEN 1 THEN format('UPDATE public.bench_t%s SET v = v + $1 WHERE id = $2', g % :tables + 1)
         WHEN 2 THEN format('SELECT count(*) FROM public.bench_t%s WHERE t LIKE $1', g % :tables + 1)
         ELSE format('INSERT INTO public.bench_t%s (id, v, t) VALUES ($1, $2, $3) /* %s */', g % :tables + 1, g)
       END, 80, now() - interval '8 days'
  FROM generate_series(1, :statements) g,
       pg_database d, pg_roles r
 WHERE d.datname = current_database() AND r.rolname = current_user;

CREATE TEMP TABLE raw_ts AS
SELECT date_trunc('minute', now()) - i * interval '1 minute' AS ts
  FROM generate_series(1, 1440) i;
CREATE TEMP TABLE hour_ts AS
SELECT date_trunc('hour', (SELECT min(ts) FROM raw_ts)) - i * interval '1 hour' AS ts
  FROM generate_series(1, 6 * 24) i;
SELECT nadia_bgw.ensure_partitions('raw', ts) FROM raw_ts WHERE extract(minute FROM ts) = 0 OR ts = (SELECT min(ts) FROM raw_ts);
SELECT nadia_bgw.ensure_partitions('hourly', ts) FROM hour_ts WHERE extract(hour FROM ts) = 0 OR ts = (SELECT min(ts) FROM hour_ts);

INSERT INTO nadia_bgw.samples (sampled_at, duration_ms, taken_by, outcome)
SELECT ts, 4 + random(), 'worker',
       '{"statements":"ok","tables":"ok","indexes":"ok","databases":"ok","cluster":"ok","activity":"ok","locks":"ok","replication":"ok"}'
  FROM raw_ts ORDER BY ts;

-- statements: each active in a sample with probability active_pct %
INSERT INTO nadia_bgw.statement_samples
      (sampled_at, stmt_id, toplevel, calls, total_exec_time, rows, shared_blks_hit, shared_blks_read,
       temp_blks_written, blk_read_time, wal_bytes, max_exec_time, min_exec_time)
SELECT r.ts, s.stmt_id, true, c.calls, c.calls * c.mean, c.calls * (s.stmt_id % 10 + 1),
       c.calls * 40, c.calls * (s.stmt_id % 3), NULL, c.calls * 0.01,
       CASE WHEN s.stmt_id % 4 = 1 THEN c.calls * 120 END,
       CASE WHEN random() < 0.05 THEN c.mean * 4 END, NULL
  FROM raw_ts r
 CROSS JOIN nadia_bgw.statements s
 CROSS JOIN LATERAL (SELECT 1 + (random() * 50)::int AS calls,
                            (s.stmt_id % 37 + 1) * 0.3 * (0.5 + random()) AS mean) c
 WHERE s.queryid >= 1000000000000 AND random() * 100 < :active_pct;
INSERT INTO nadia_bgw.statement_hourly
      (sampled_at, stmt_id, toplevel, calls, total_exec_time, rows, shared_blks_hit, shared_blks_read,
       blk_read_time, wal_bytes, max_exec_time, samples)
SELECT h.ts, s.stmt_id, true, c.calls, c.calls * c.mean, c.calls * (s.stmt_id % 10 + 1),
       c.calls * 40, c.calls * (s.stmt_id % 3), c.calls * 0.01,
       CASE WHEN s.stmt_id % 4 = 1 THEN c.calls * 120 END, c.mean * 4, 60
  FROM hour_ts h
 CROSS JOIN nadia_bgw.statements s
 CROSS JOIN LATERAL (SELECT (60 * :active_pct / 100.0 * 25 * (0.5 + random()))::int AS calls,
                            (s.stmt_id % 37 + 1) * 0.3 * (0.5 + random()) AS mean) c
 WHERE s.queryid >= 1000000000000;

-- tables and indexes: half of them change in a sample
INSERT INTO nadia_bgw.table_samples
      (sampled_at, relid, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_tup_ins, n_tup_upd,
       heap_blks_read, heap_blks_hit, idx_blks_read, idx_blks_hit, n_live_tup, n_dead_tup, total_bytes)
SELECT r.ts, t.relid, (random() * 3)::int, (random() * 6000)::int, (random() * 200)::int,
       (random() * 200)::int, (random() * 20)::int, (random() * 20)::int,
       (random() * 10)::int, (random() * 500)::int, (random() * 5)::int, (random() * 400)::int,
       t.n_live_tup, t.n_dead_tup, t.total_bytes
  FROM raw_ts r CROSS JOIN nadia_bgw.table_state t
 WHERE random() < 0.5;
INSERT INTO nadia_bgw.table_hourly
      (sampled_at, relid, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_tup_ins, n_tup_upd,
       heap_blks_read, heap_blks_hit, idx_blks_read, idx_blks_hit, n_live_tup, n_dead_tup, total_bytes, samples)
SELECT h.ts, t.relid, (random() * 90)::int, (random() * 180000)::int, (random() * 6000)::int,
       (random() * 6000)::int, (random() * 600)::int, (random() * 600)::int,
       (random() * 300)::int, (random() * 15000)::int, (random() * 150)::int, (random() * 12000)::int,
       t.n_live_tup, t.n_dead_tup, t.total_bytes, 30
  FROM hour_ts h CROSS JOIN nadia_bgw.table_state t;
INSERT INTO nadia_bgw.index_samples (sampled_at, indexrelid, idx_scan, idx_tup_read, idx_tup_fetch)
SELECT r.ts, i.indexrelid, (random() * 100)::int, (random() * 100)::int, (random() * 100)::int
  FROM raw_ts r CROSS JOIN nadia_bgw.index_state i
 WHERE random() < 0.5 AND i.indexrelname <> 'bench_t1_v_dup';
INSERT INTO nadia_bgw.index_hourly (sampled_at, indexrelid, idx_scan, idx_tup_read, idx_tup_fetch, samples)
SELECT h.ts, i.indexrelid, (random() * 3000)::int, (random() * 3000)::int, (random() * 3000)::int, 30
  FROM hour_ts h CROSS JOIN nadia_bgw.index_state i
 WHERE i.indexrelname <> 'bench_t1_v_dup';

-- databases, cluster, activity, lock waits, replication
INSERT INTO nadia_bgw.database_samples (sampled_at, datid, xact_commit, blks_read, blks_hit, temp_files, temp_bytes, numbackends)
SELECT r.ts, d.datid, (random() * 3000)::int, (random() * 100)::int, (random() * 50000)::int,
       (random() < 0.05)::int, CASE WHEN random() < 0.05 THEN 8192 * 100 END, 10
  FROM raw_ts r CROSS JOIN nadia_bgw.database_state d;
INSERT INTO nadia_bgw.database_hourly (sampled_at, datid, xact_commit, blks_read, blks_hit, temp_files, temp_bytes, numbackends, samples)
SELECT h.ts, d.datid, (random() * 180000)::int, (random() * 6000)::int, (random() * 3000000)::int,
       (random() * 3)::int, (random() * 3)::int * 819200, 10, 60
  FROM hour_ts h CROSS JOIN nadia_bgw.database_state d;
INSERT INTO nadia_bgw.cluster_samples (sampled_at, node, checkpoints_timed, buffers_checkpoint, buffers_clean, buffers_backend, wal_records, wal_bytes)
SELECT ts, 1, (extract(minute FROM ts)::int % 5 = 0)::int, (random() * 100)::int, (random() * 50)::int,
       (random() * 20)::int, (random() * 5000)::int, (random() * 500000)::int
  FROM raw_ts;
INSERT INTO nadia_bgw.cluster_hourly (sampled_at, node, checkpoints_timed, checkpoints_req, buffers_checkpoint, buffers_clean, buffers_backend, wal_records, wal_bytes, samples)
SELECT ts, 1, 12, 0, (random() * 6000)::int, (random() * 3000)::int, (random() * 1200)::int,
       (random() * 300000)::int, (random() * 30000000)::int, 60
  FROM hour_ts;
INSERT INTO nadia_bgw.activity_samples (sampled_at, max_connections, backends, active, idle, idle_in_transaction,
       idle_in_transaction_aborted, waiting, waiting_on_lock, longest_query_s, longest_xact_s,
       by_wait_event_type, by_database)
SELECT ts, 100, 20 + (random() * 10)::int, (random() * 5)::int, 15, (random() * 2)::int, 0,
       (random() * 2)::int, 0, random() * 3, random() * 5,
       '{"Lock": 0, "IO": 1}', jsonb_build_object(current_database(), 20)
  FROM raw_ts;
INSERT INTO nadia_bgw.lock_wait_samples (sampled_at, pid, datname, username, locktype, mode, relation, wait_s, queryid, blocking_pids, blocking_queryids)
SELECT r.ts, 4000 + k, current_database(), current_user, 'relation', 'RowExclusiveLock',
       'public.bench_t' || (k + 1), random() * 4, 1000000000000 + 7919 * (k + 1),
       ARRAY[5000 + k], ARRAY[1000000000000 + 7919 * (k + 5)]
  FROM raw_ts r CROSS JOIN generate_series(0, 1) k
 WHERE random() < 0.05;
INSERT INTO nadia_bgw.replication_samples (sampled_at, kind, name, state, active, retained_bytes)
SELECT ts, 'slot', 'standby_slot', 'reserved', true, (random() * 100000000)::bigint
  FROM raw_ts;

-- the sampler's downsampling, as the worker runs it every cycle: the raw
-- day's complete hours into the hourly tier (it continues from where the
-- hourly tier written above ends), complete days into the daily tier
UPDATE nadia_bgw.tier_state SET done_until = (SELECT min(ts) FROM hour_ts) WHERE tier = 'daily';
UPDATE nadia_bgw.tier_state SET done_until = date_trunc('hour', (SELECT min(ts) FROM raw_ts)) WHERE tier = 'hourly';
SELECT nadia_bgw.maintain_history();

ANALYZE nadia_bgw.samples, nadia_bgw.statements, nadia_bgw.statement_samples, nadia_bgw.statement_hourly,
        nadia_bgw.table_samples, nadia_bgw.table_hourly, nadia_bgw.index_samples, nadia_bgw.index_hourly,
        nadia_bgw.database_samples, nadia_bgw.database_hourly, nadia_bgw.cluster_samples,
        nadia_bgw.cluster_hourly, nadia_bgw.activity_samples, nadia_bgw.lock_wait_samples,
        nadia_bgw.replication_samples;

SELECT (SELECT count(*) FROM nadia_bgw.samples) AS samples,
       (SELECT count(*) FROM nadia_bgw.statement_samples) AS statement_rows_raw,
       (SELECT count(*) FROM nadia_bgw.statement_hourly) AS statement_rows_hourly,
       (SELECT count(*) FROM nadia_bgw.statement_daily) AS statement_rows_daily,
       (SELECT count(*) FROM nadia_bgw.table_samples) + (SELECT count(*) FROM nadia_bgw.table_hourly) AS table_rows,
       (SELECT count(*) FROM nadia_bgw.index_samples) + (SELECT count(*) FROM nadia_bgw.index_hourly) AS index_rows,
       pg_size_pretty((SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
                        WHERE c.relnamespace = 'nadia_bgw'::regnamespace AND c.relkind = 'r')) AS history_size;
