
-- nadia_bgw 1.0 -> 1.1 -- column distributions (docs/quality.md,
-- "Distribution").
--
-- The worker's "distribution" task calls _quality_distribution(now) every
-- cycle.  It reads the planner statistics (pg_statistic) of the tables
-- ANALYZEd since its previous call and records, per column and per
-- ANALYZE, a few numbers that describe the column's shape: null fraction,
-- number of distinct values, frequency of the most common value,
-- correlation with the physical order, average width.  NUMBERS ONLY: the
-- values themselves (pg_statistic.stavalues: most common values,
-- histogram bounds, element values) are never read, so no value of the
-- application's data can reach a nadia_bgw table.  data_distribution()
-- gives the reader each column's latest figures, the previous ones, and
-- the skew and drift flags.

-- Per table, what pg_stat_user_tables said at the previous call
-- (internal): a table whose ANALYZE count or time moved is read again,
-- the others are not.
CREATE TABLE nadia_bgw.distribution_state (
    relid       oid PRIMARY KEY,
    analyzes    bigint NOT NULL,    -- analyze_count + autoanalyze_count
    analyzed_at timestamptz,        -- greatest(last_analyze, last_autoanalyze)
    seen_at     timestamptz NOT NULL
);

-- One row per (table, column, ANALYZE seen).  Partitioned by the instant
-- of the call and kept like the daily tier (nadia_bgw.daily_retention):
-- a table gets rows only when it is analyzed, so drift between two
-- ANALYZEs weeks apart stays visible.
CREATE TABLE nadia_bgw.distribution_samples (
    sampled_at     timestamptz NOT NULL,  -- the call that recorded it
    analyzed_at    timestamptz,           -- the ANALYZE, as pg_stat_user_tables says
    relid          oid NOT NULL,
    attnum         smallint NOT NULL,
    schemaname     name NOT NULL,
    relname        name NOT NULL,
    attname        name NOT NULL,
    reltuples      double precision,      -- pg_class.reltuples at the call
    null_frac      real,                  -- pg_stats.null_frac
    n_distinct     real,                  -- pg_stats.n_distinct (< 0: minus a fraction of rows)
    n_distinct_abs double precision,      -- the same as a number of values
    top_freq       real,                  -- pg_stats.most_common_freqs[1], NULL without MCV list
    correlation    real,                  -- pg_stats.correlation
    avg_width      integer                -- pg_stats.avg_width, bytes
) PARTITION BY RANGE (sampled_at);
CREATE INDEX ON nadia_bgw.distribution_samples (relid, attnum, sampled_at);

INSERT INTO nadia_bgw.history_tables VALUES ('nadia_bgw.distribution_samples', 'daily');

GRANT SELECT ON nadia_bgw.distribution_samples TO nadia_bgw_reader;

-- Record the columns of every table analyzed since the previous call (the
-- first call records every analyzed table).  Returns the rows written.
-- Cost: one pass over pg_stat_user_tables and the state (an index join),
-- then pg_statistic only for the tables that changed; with nothing
-- analyzed nothing is written.  Reads catalogs only and runs nothing of
-- the application's.
CREATE FUNCTION nadia_bgw._quality_distribution(p_now timestamptz)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    changed oid[];
    written bigint := 0;
BEGIN
    -- tables gone since: their state would only grow
    DELETE FROM nadia_bgw.distribution_state d
     WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = d.relid);

    -- the tables analyzed since the previous call, their state moved on
    WITH analyzed AS (
        SELECT s.relid, s.analyze_count + s.autoanalyze_count AS analyzes,
               greatest(s.last_analyze, s.last_autoanalyze) AS analyzed_at
          FROM pg_stat_user_tables s
          LEFT JOIN nadia_bgw.distribution_state d ON d.relid = s.relid
         WHERE s.schemaname NOT IN ('nadia_bgw', 'pg_catalog', 'information_schema', 'pg_toast')
           AND s.schemaname !~ '^pg_temp_'     -- sessions' temporary tables come and go
           AND (s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL)
           AND (d.relid IS NULL
                OR d.analyzes IS DISTINCT FROM s.analyze_count + s.autoanalyze_count
                OR d.analyzed_at IS DISTINCT FROM greatest(s.last_analyze, s.last_autoanalyze))
    ), moved AS (
        INSERT INTO nadia_bgw.distribution_state AS d (relid, analyzes, analyzed_at, seen_at)
        SELECT a.relid, a.analyzes, a.analyzed_at, p_now FROM analyzed a
        ON CONFLICT (relid) DO UPDATE
           SET analyzes = excluded.analyzes, analyzed_at = excluded.analyzed_at,
               seen_at = excluded.seen_at
        RETURNING d.relid
    )
    SELECT array_agg(m.relid) INTO changed FROM moved m;

    IF changed IS NULL THEN
        RETURN 0;
    END IF;

    -- a partition only when there is something to write
    IF NOT EXISTS (SELECT 1 FROM nadia_bgw.history_partitions p
                    WHERE p.parent = 'nadia_bgw.distribution_samples'::regclass
                      AND p.lo <= p_now AND p_now < p.hi) THEN
        PERFORM nadia_bgw.ensure_partitions('daily', p_now);
    END IF;

    -- pg_statistic rather than pg_stats: the same numbers without the
    -- per-column privilege checks, and stavalues is never selected.  A
    -- partitioned table has only the statistics of its whole tree
    -- (stainherit); another table's own rows are stainherit = false.
    INSERT INTO nadia_bgw.distribution_samples
    SELECT p_now, d.analyzed_at, d.relid, a.attnum, n.nspname, cl.relname, a.attname,
           cl.reltuples, st.stanullfrac, st.stadistinct,
           CASE WHEN st.stadistinct >= 0 THEN st.stadistinct
                ELSE -st.stadistinct * greatest(cl.reltuples, 0) END,
           CASE 1 WHEN st.stakind1 THEN st.stanumbers1[1] WHEN st.stakind2 THEN st.stanumbers2[1]
                  WHEN st.stakind3 THEN st.stanumbers3[1] WHEN st.stakind4 THEN st.stanumbers4[1]
                  WHEN st.stakind5 THEN st.stanumbers5[1] END,
           CASE 3 WHEN st.stakind1 THEN st.stanumbers1[1] WHEN st.stakind2 THEN st.stanumbers2[1]
                  WHEN st.stakind3 THEN st.stanumbers3[1] WHEN st.stakind4 THEN st.stanumbers4[1]
                  WHEN st.stakind5 THEN st.stanumbers5[1] END,
           st.stawidth
      FROM nadia_bgw.distribution_state d
      JOIN pg_class cl ON cl.oid = d.relid
      JOIN pg_namespace n ON n.oid = cl.relnamespace
      JOIN pg_statistic st ON st.starelid = d.relid AND st.stainherit = (cl.relkind = 'p')
      JOIN pg_attribute a ON a.attrelid = st.starelid AND a.attnum = st.staattnum
                         AND NOT a.attisdropped
     WHERE d.relid = ANY (changed);
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END
$$;

REVOKE ALL ON FUNCTION nadia_bgw._quality_distribution(timestamptz) FROM PUBLIC;

-- Per column recorded in [since, until): its latest figures, the ones of
-- the ANALYZE recorded before (at any time still in history), and flags:
--   skew             top_freq > nadia_bgw.distribution_skew_share
--   null_frac_drift  |null_frac - prev_null_frac| > nadia_bgw.distribution_null_drift
--   n_distinct_drift the larger of n_distinct_abs and prev_n_distinct_abs
--                    exceeds distribution_distinct_factor times the smaller
-- (the drift flags are NULL without a previous record), and plan_queryids:
-- the statements whose plans captured in the range (nadia_bgw.plans)
-- filter, join or look up an index on the column (an empty array when
-- none).
CREATE FUNCTION nadia_bgw.data_distribution(
    since timestamptz DEFAULT now() - interval '7 days',
    until timestamptz DEFAULT now())
RETURNS TABLE (schemaname name, relname name, attname name, relid oid, attnum smallint,
               sampled_at timestamptz, analyzed_at timestamptz, reltuples double precision,
               null_frac real, n_distinct real, n_distinct_abs double precision,
               top_freq real, correlation real, avg_width integer,
               prev_sampled_at timestamptz, prev_analyzed_at timestamptz,
               prev_reltuples double precision, prev_null_frac real, prev_n_distinct real,
               prev_n_distinct_abs double precision, prev_top_freq real,
               prev_correlation real, prev_avg_width integer,
               skew boolean, null_frac_drift boolean, n_distinct_drift boolean,
               plan_queryids bigint[])
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
WITH latest AS (
    SELECT DISTINCT ON (h.relid, h.attnum) h.*
      FROM nadia_bgw.distribution_samples h
     WHERE h.sampled_at >= since AND h.sampled_at < until
     ORDER BY h.relid, h.attnum, h.sampled_at DESC
), uses AS (
    -- the conditions of the plans seen in the range, as (column, statement)
    SELECT DISTINCT (c ->> 'relid')::oid AS relid, (c ->> 'attnum')::smallint AS attnum, p.queryid
      FROM nadia_bgw.plans p
     CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(p.plan_nodes) = 'array'
                                                  THEN p.plan_nodes ELSE '[]' END) n
     CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(n -> 'conds') = 'array'
                                                  THEN n -> 'conds' ELSE '[]' END) c
     WHERE p.dbid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
       AND p.last_seen >= since AND p.first_seen < until
       AND c ->> 'kind' IS DISTINCT FROM 'sort_key'
       AND (c ->> 'relid')::oid IN (SELECT l.relid FROM latest l)
)
-- (the settings have defaults here too: without the library preloaded
-- they are not defined)
SELECT l.schemaname, l.relname, l.attname, l.relid, l.attnum,
       l.sampled_at, l.analyzed_at, l.reltuples, l.null_frac, l.n_distinct, l.n_distinct_abs,
       l.top_freq, l.correlation, l.avg_width,
       p.sampled_at, p.analyzed_at, p.reltuples, p.null_frac, p.n_distinct,
       p.n_distinct_abs, p.top_freq, p.correlation, p.avg_width,
       coalesce(l.top_freq > coalesce(nullif(current_setting('nadia_bgw.distribution_skew_share', true), '')::float8, 0.5), false),
       abs(l.null_frac - p.null_frac) > coalesce(nullif(current_setting('nadia_bgw.distribution_null_drift', true), '')::float8, 0.2),
       -- greatest() and least() skip a NULL: no previous record, no flag
       CASE WHEN p.sampled_at IS NOT NULL THEN
       greatest(l.n_distinct_abs, p.n_distinct_abs) >
           coalesce(nullif(current_setting('nadia_bgw.distribution_distinct_factor', true), '')::float8, 2)
           * least(l.n_distinct_abs, p.n_distinct_abs) END,
       coalesce((SELECT array_agg(u.queryid ORDER BY u.queryid) FROM uses u
                  WHERE u.relid = l.relid AND u.attnum = l.attnum), '{}')
  FROM latest l
  LEFT JOIN LATERAL (SELECT h.* FROM nadia_bgw.distribution_samples h
                      WHERE h.relid = l.relid AND h.attnum = l.attnum
                        AND h.sampled_at < l.sampled_at
                      ORDER BY h.sampled_at DESC LIMIT 1) p ON true
 ORDER BY l.schemaname, l.relname, l.attnum
$$;

REVOKE ALL ON FUNCTION nadia_bgw.data_distribution(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nadia_bgw.data_distribution(timestamptz, timestamptz) TO nadia_bgw_reader;
