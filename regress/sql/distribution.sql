-- distribution: column statistics recorded per ANALYZE, numbers only
-- (docs/quality.md, "Distribution").  Every instant is given: the
-- recording instant is an argument, and the ANALYZE times (wall clock)
-- are only compared, never printed.  A database of its own, so that no
-- other test's table is analyzed in it.
CREATE DATABASE regress_distribution;
\c regress_distribution
SET client_min_messages = warning;
SET TimeZone = 'UTC';
CREATE EXTENSION nadia_bgw;

-- Small tables: ANALYZE reads every row, so the figures are exact.
-- Autovacuum is off for them so that only this test's ANALYZEs count.
CREATE TABLE public.dist_t (id int, label text, v int) WITH (autovacuum_enabled = false);
-- 900 rows of one secret value, 100 distinct others
INSERT INTO public.dist_t
SELECT i, CASE WHEN i > 100 THEN 'zq-secret-7781' ELSE 'other-' || i END, i % 10
  FROM generate_series(1, 1000) i;
CREATE TABLE public.dist_other (id int) WITH (autovacuum_enabled = false);
INSERT INTO public.dist_other SELECT generate_series(1, 100);
CREATE TABLE public.dist_never (id int) WITH (autovacuum_enabled = false);
INSERT INTO public.dist_never SELECT generate_series(1, 100);
ANALYZE public.dist_t;
ANALYZE public.dist_other;

-- the statistics do hold the secret: what must not be copied
SELECT 'zq-secret-7781' = ANY (most_common_vals::text::text[]) AS secret_in_pg_stats
  FROM pg_stats WHERE tablename = 'dist_t' AND attname = 'label';

-- first call: a baseline of every analyzed table
SELECT nadia_bgw._quality_distribution('2030-01-01 00:00+00') AS written;
SELECT relname, count(*) AS columns, bool_and(analyzed_at IS NOT NULL) AS analyzed_at_known
  FROM nadia_bgw.distribution_samples WHERE relname LIKE 'dist\_%'
 GROUP BY relname ORDER BY relname;

SELECT attname, null_frac, n_distinct, n_distinct_abs, round(top_freq::numeric, 3) AS top_freq,
       round(correlation::numeric, 2) AS correlation, avg_width, reltuples,
       skew, null_frac_drift, n_distinct_drift, prev_sampled_at, plan_queryids
  FROM nadia_bgw.data_distribution('2029-12-31 00:00+00', '2030-01-01 12:00+00')
 WHERE relname = 'dist_t' ORDER BY attnum;

-- nothing analyzed since: nothing of these tables is read again
SELECT nadia_bgw._quality_distribution('2030-01-01 01:00+00') AS written;
SELECT count(*) AS rows_at_second_call FROM nadia_bgw.distribution_samples
 WHERE relname LIKE 'dist\_%' AND sampled_at = '2030-01-01 01:00+00';

-- the data changes: 400 nulls, the secret falls to 60 %, v becomes unique
UPDATE public.dist_t SET label = NULL WHERE id <= 400;
UPDATE public.dist_t SET v = id;
ANALYZE public.dist_t;
SELECT nadia_bgw._quality_distribution('2030-01-02 00:00+00') AS written;
SELECT relname, count(*) AS columns FROM nadia_bgw.distribution_samples
 WHERE relname LIKE 'dist\_%' AND sampled_at = '2030-01-02 00:00+00'
 GROUP BY relname ORDER BY relname;

SELECT attname, null_frac, prev_null_frac, n_distinct, n_distinct_abs, prev_n_distinct_abs,
       round(top_freq::numeric, 3) AS top_freq, round(prev_top_freq::numeric, 3) AS prev_top_freq,
       skew, null_frac_drift, n_distinct_drift, prev_sampled_at,
       prev_analyzed_at < analyzed_at AS later_analyze
  FROM nadia_bgw.data_distribution('2030-01-01 12:00+00', '2030-01-03 00:00+00')
 WHERE relname LIKE 'dist\_%' ORDER BY relname, attnum;

-- the thresholds are read when the reader is called
SET nadia_bgw.distribution_skew_share = 0.7;
SET nadia_bgw.distribution_null_drift = 0.5;
SET nadia_bgw.distribution_distinct_factor = 2000;
SELECT attname, skew, null_frac_drift, n_distinct_drift
  FROM nadia_bgw.data_distribution('2030-01-01 12:00+00', '2030-01-03 00:00+00')
 WHERE relname = 'dist_t' ORDER BY attnum;
RESET nadia_bgw.distribution_skew_share;
RESET nadia_bgw.distribution_null_drift;
RESET nadia_bgw.distribution_distinct_factor;

-- effect on plans: a captured plan filtering on dist_t.v (stand-in row)
INSERT INTO nadia_bgw.plans (queryid, dbid, userid, planid, first_seen, last_seen, plan_nodes)
SELECT 4242, d.oid, 10, 1, '2030-01-01 00:00+00', '2030-01-02 00:00+00',
       jsonb_build_array(jsonb_build_object('id', 0, 'node', 'Seq Scan', 'relid', 'public.dist_t'::regclass::oid,
           'conds', jsonb_build_array(jsonb_build_object('kind', 'filter', 'relid', 'public.dist_t'::regclass::oid,
                                                         'attnum', 3, 'column', 'v', 'op', '=', 'class', 'eq'),
                                                         jsonb_build_object('kind', 'sort_key', 'relid', 'public.dist_t'::regclass::oid,
                                                         'attnum', 1, 'column', 'id', 'op', '<', 'class', 'range'))))
  FROM pg_database d WHERE d.datname = current_database();
SELECT attname, plan_queryids
  FROM nadia_bgw.data_distribution('2030-01-01 12:00+00', '2030-01-03 00:00+00')
 WHERE relname = 'dist_t' ORDER BY attnum;
-- a plan last seen at the start of the range counts, one seen before it not
SELECT attname, plan_queryids
  FROM nadia_bgw.data_distribution('2030-01-02 00:00+00', '2030-01-03 00:00+00')
 WHERE relname = 'dist_t' AND attname = 'v';
UPDATE nadia_bgw.plans SET last_seen = '2030-01-01 06:00+00' WHERE queryid = 4242;
SELECT attname, plan_queryids
  FROM nadia_bgw.data_distribution('2030-01-01 12:00+00', '2030-01-03 00:00+00')
 WHERE relname = 'dist_t' AND attname = 'v';

-- no value of the data in any table of nadia_bgw: every row as text
-- (a function rather than query_to_xml: not every build has libxml)
CREATE FUNCTION pg_temp.hits(t regclass, needle text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s x WHERE x::text LIKE %L', t, '%' || needle || '%') INTO n;
    RETURN n;
END $$;
SELECT count(*) > 40 AS all_tables_searched,
       bool_or(t::text LIKE 'nadia\_bgw.distribution\_samples%') AS history_searched,
       count(*) FILTER (WHERE hits > 0) AS tables_with_secret
  FROM (SELECT c.oid::regclass AS t, pg_temp.hits(c.oid::regclass, 'zq-secret-7781') AS hits
          FROM pg_class c
         WHERE c.relnamespace = 'nadia_bgw'::regnamespace AND c.relkind IN ('r', 'p')) s;
-- the same search does find it where it is
SELECT pg_temp.hits('public.dist_t', 'zq-secret-7781') AS hits_in_dist_t;

-- the reader role reads the results, not the state, and records nothing
SET ROLE nadia_bgw_reader;
SELECT count(*) > 0 AS reader_reads FROM nadia_bgw.data_distribution('2029-12-31 00:00+00', '2030-01-03 00:00+00');
SELECT count(*) > 0 AS reader_selects FROM nadia_bgw.distribution_samples;
SELECT * FROM nadia_bgw.distribution_state;
SELECT nadia_bgw._quality_distribution('2030-01-03 00:00+00');
RESET ROLE;

-- a dropped table's state goes at the next call
SELECT count(*) AS state_of_dist_other FROM nadia_bgw.distribution_state WHERE relid = 'public.dist_other'::regclass;
SELECT 'public.dist_other'::regclass::oid AS other_oid \gset
DROP TABLE public.dist_other;
SELECT nadia_bgw._quality_distribution('2030-01-03 00:00+00') AS written;
SELECT count(*) AS state_of_dist_other FROM nadia_bgw.distribution_state WHERE relid = :other_oid;

DROP TABLE public.dist_t, public.dist_never;
DROP EXTENSION nadia_bgw;
\c contrib_regression
DROP DATABASE regress_distribution;
