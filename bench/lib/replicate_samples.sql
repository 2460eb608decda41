-- bench/lib/replicate_samples.sql -- history the benches did not have the
-- time to sample: simulated one-minute raw samples made of the rows the
-- real samples wrote.
--
-- Simulated minute m, for m from :first to :last, stands at
-- :'origin' + :step * m minutes (:step 1 runs forward from the origin, -1
-- backward) and gets the rows of the real sample number m modulo the
-- number of real samples, cycling through them in the order they were
-- taken.  Real samples are those with sample_id > :skip (1 leaves out a
-- baseline sample, which only recorded where the counters stood).  The raw
-- partitions of the simulated stretch are created first.  Leaves the temp
-- tables real_samples (k, sampled_at) and minute_map (sim_at, real_at) for
-- what the caller does next in the same session; nadia_bgw.samples itself
-- is not touched.
--
--   psql -v origin='2026-01-01 00:00+00' -v step=1 -v first=0 -v last=1439 \
--        -v skip=1 -f bench/lib/replicate_samples.sql

CREATE TEMP TABLE real_samples AS
  SELECT row_number() OVER (ORDER BY sampled_at) - 1 AS k, sampled_at
    FROM nadia_bgw.samples WHERE sample_id > :skip;
CREATE TEMP TABLE minute_map AS
  SELECT :'origin'::timestamptz + :step * m * interval '1 minute' AS sim_at,
         (SELECT sampled_at FROM real_samples r WHERE r.k = m % (SELECT count(*) FROM real_samples)) AS real_at
    FROM generate_series(:first, :last) m;
SELECT count(nadia_bgw.ensure_partitions('raw', g))
  FROM generate_series((SELECT min(sim_at) FROM minute_map), (SELECT max(sim_at) FROM minute_map), '1 hour') g;
DO $$
DECLARE t text; cols text;
BEGIN
  FOREACH t IN ARRAY ARRAY['statement_samples', 'table_samples', 'index_samples',
                           'database_samples', 'cluster_samples', 'activity_samples'] LOOP
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
      FROM pg_attribute WHERE attrelid = ('nadia_bgw.' || t)::regclass AND attnum > 0
       AND NOT attisdropped AND attname <> 'sampled_at';
    EXECUTE format('INSERT INTO nadia_bgw.%I (sampled_at, %s) SELECT m.sim_at, %s
                      FROM minute_map m JOIN nadia_bgw.%I h ON h.sampled_at = m.real_at',
                   t, cols, cols, t);
  END LOOP;
END $$;
