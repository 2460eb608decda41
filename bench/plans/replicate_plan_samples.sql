-- bench/plans/replicate_plan_samples.sql -- plan history the bench did not
-- have the time to sample, made like statement history's: run in the same
-- session right after bench/lib/replicate_samples.sql, whose temp table
-- minute_map (sim_at, real_at) maps each simulated minute to the real
-- sample whose rows it gets; the raw partitions exist already (history
-- tables share their partitioning).  Copying the real samples' rows
-- follows the drain's storage rule as it is: a sample writes plan rows
-- only for statements with two plans or more in nadia_bgw.plans (nothing
-- for the single-plan ones), and the bench stores every plan before its
-- baseline, so every real sample the day is made of has the rule's rows.
DO $$
DECLARE cols text;
BEGIN
  SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_attribute WHERE attrelid = 'nadia_bgw.plan_samples'::regclass AND attnum > 0
     AND NOT attisdropped AND attname <> 'sampled_at';
  EXECUTE format('INSERT INTO nadia_bgw.plan_samples (sampled_at, %s) SELECT m.sim_at, %s
                    FROM minute_map m JOIN nadia_bgw.plan_samples h ON h.sampled_at = m.real_at',
                 cols, cols);
END $$;
