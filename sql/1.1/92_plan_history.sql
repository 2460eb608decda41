
-- nadia_bgw 1.0 -> 1.1 -- plan history as the sampler keeps it
-- (worker/history/plan_source.c, tracked_plans.c; docs/history.md, "Plan
-- history").  The tables are in 90_plans.sql.

-- The capture's own counters as of the last sample (one row): executions
-- of plans that found the store full and plans whose text did not fit,
-- cumulative since the store was set up (created_at).  Their growth is a
-- 'not_tracked' stats event of source 'plans'.  Logged: a sample rolled
-- back reports its growth again.
CREATE TABLE nadia_bgw.plan_store_state (
    id            boolean PRIMARY KEY DEFAULT true CHECK (id),
    created_at    timestamptz,      -- NULL: the library was not preloaded
    not_tracked   bigint NOT NULL,
    texts_dropped bigint NOT NULL
);

-- Per-plan rows of one tier (tier = 'raw' | 'hourly' | 'daily') with
-- sampled_at in [since, until), limited to the plans in refs when refs is
-- not NULL: the one place that knows how per-plan figures are stored
-- (docs/plans.md, "Reading plans").  The sampler writes plan rows only for
-- statements that have two plans or more (worker/history); a statement's
-- figures while it had one plan are its statement history, so they are
-- returned here as *implied* rows of its first plan:
--   - a statement is (queryid, dbid, userid), its first plan the plans row
--     with the smallest (first_seen, plan_ref), multi_since the first_seen
--     of its second plan in that order (NULL while it has one);
--   - each top-level statement-history row of the tier at t (the capture
--     sees top-level executions only) whose interval ends after the first
--     plan was seen (raw: t >= first_seen; hourly, daily: t + width >
--     first_seen) and with t before multi_since gives the first plan an
--     implied row: the statement's calls, time, rows and
--     blocks minus those of the explicit rows of its plans in the same
--     bucket (only a bucket straddling multi_since has any: they are the
--     part after it), each at least 0, dropped when no call is left; the
--     statement row's min/max time and samples, sampled_calls 0.
-- The subtraction also keeps a bucket from counting twice where explicit
-- rows were written for a single-plan statement (history from before the
-- rule).  Readers pass their range so that partitions are pruned: the
-- query is run by EXECUTE, planned with the values of since and until.
-- The table names are the only text formatted in (%I of constants).
CREATE FUNCTION nadia_bgw._plan_rows(tier text, since timestamptz, until timestamptz,
                                     refs integer[] DEFAULT NULL)
RETURNS TABLE (plan_ref integer, sampled_at timestamptz, samples integer, calls bigint,
               total_exec_time double precision, min_exec_time double precision,
               max_exec_time double precision, rows bigint, shared_blks_hit bigint,
               shared_blks_read bigint, sampled_calls bigint, implied boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    plan_table text;
    stmt_table text;
    width interval;
BEGIN
    CASE tier
        WHEN 'raw' THEN
            plan_table := 'plan_samples'; stmt_table := 'statement_samples'; width := '0';
        WHEN 'hourly' THEN
            plan_table := 'plan_hourly'; stmt_table := 'statement_hourly'; width := '1 hour';
        WHEN 'daily' THEN
            plan_table := 'plan_daily'; stmt_table := 'statement_daily'; width := '1 day';
        ELSE
            RAISE EXCEPTION 'unknown history tier "%"', tier
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'The tiers are raw, hourly and daily.';
    END CASE;
    RETURN QUERY EXECUTE format($q$
        WITH pl AS (
            SELECT p.plan_ref, p.queryid, p.dbid, p.userid, p.first_seen,
                   row_number() OVER w AS n, lead(p.first_seen) OVER w AS multi_since
              FROM nadia_bgw.plans p
            WINDOW w AS (PARTITION BY p.queryid, p.dbid, p.userid
                         ORDER BY p.first_seen, p.plan_ref)),
        -- the first plans whose implied rows are asked for
        f AS (
            SELECT pl.*, t.stmt_id
              FROM pl JOIN nadia_bgw.statements t
                ON t.queryid = pl.queryid AND t.dbid = pl.dbid AND t.userid = pl.userid
             WHERE pl.n = 1 AND ($3 IS NULL OR pl.plan_ref = ANY ($3))),
        -- what the explicit rows hold per statement and bucket (from the
        -- rows, few, to the statements: not the other way round)
        x AS (
            SELECT p.queryid, p.dbid, p.userid, e.sampled_at, sum(e.calls) AS calls,
                   sum(e.total_exec_time) AS total_exec_time, sum(e.rows) AS rows,
                   sum(e.shared_blks_hit) AS shared_blks_hit,
                   sum(e.shared_blks_read) AS shared_blks_read
              FROM nadia_bgw.%1$I e
              JOIN nadia_bgw.plans p ON p.plan_ref = e.plan_ref
             WHERE e.sampled_at >= $1 AND e.sampled_at < $2
             GROUP BY p.queryid, p.dbid, p.userid, e.sampled_at)
        SELECT e.plan_ref, e.sampled_at, %3$s, e.calls, e.total_exec_time,
               e.min_exec_time, e.max_exec_time, e.rows, e.shared_blks_hit,
               e.shared_blks_read, e.sampled_calls, false
          FROM nadia_bgw.%1$I e
         WHERE e.sampled_at >= $1 AND e.sampled_at < $2
           AND ($3 IS NULL OR e.plan_ref = ANY ($3))
        UNION ALL
        SELECT i.* FROM (
            SELECT f.plan_ref, s.sampled_at, %4$s,
                   greatest(coalesce(s.calls, 0) - coalesce(x.calls, 0), 0)::bigint AS calls,
                   greatest(coalesce(s.total_exec_time, 0) - coalesce(x.total_exec_time, 0), 0),
                   s.min_exec_time, s.max_exec_time,
                   greatest(coalesce(s.rows, 0) - coalesce(x.rows, 0), 0)::bigint,
                   greatest(coalesce(s.shared_blks_hit, 0) - coalesce(x.shared_blks_hit, 0), 0)::bigint,
                   greatest(coalesce(s.shared_blks_read, 0) - coalesce(x.shared_blks_read, 0), 0)::bigint,
                   0::bigint, true
              FROM f
              JOIN nadia_bgw.%2$I s ON s.stmt_id = f.stmt_id AND s.toplevel
              LEFT JOIN x ON x.queryid = f.queryid AND x.dbid = f.dbid AND x.userid = f.userid
                         AND x.sampled_at = s.sampled_at
             WHERE s.sampled_at >= $1 AND s.sampled_at < $2
               AND (s.sampled_at >= f.first_seen OR s.sampled_at + $4 > f.first_seen)
               AND (f.multi_since IS NULL OR s.sampled_at < f.multi_since)) i
         WHERE i.calls > 0
        $q$, plan_table, stmt_table,
        CASE tier WHEN 'raw' THEN '1' ELSE 'e.samples' END,
        CASE tier WHEN 'raw' THEN '1' ELSE 's.samples' END)
    USING since, until, refs, width;
END
$$;

-- Plan history over the three tiers, one row per plan and sample (raw),
-- hour or day, explicit and implied (_plan_rows() above: implied = true
-- for a row derived from statement history): read one tier at a time
-- (tier = 'raw' | 'hourly' | 'daily'), the same interval is in each tier
-- that holds it.  A condition on tier keeps the other tiers from being
-- read; one on sampled_at does not prune (each tier is read whole):
-- nadia_bgw.plan_stats() (94_plan_reader.sql) reads a time range across
-- the tiers without counting anything twice.
CREATE VIEW nadia_bgw.plan_history AS
SELECT h.tier, s.sample_id, h.sampled_at, h.samples, h.plan_ref,
       p.queryid, p.dbid, d.datname, p.userid, d.username, p.planid,
       coalesce(h.calls, 0)                                AS calls,
       coalesce(h.total_exec_time, 0)                      AS total_exec_time_ms,
       coalesce(h.total_exec_time, 0) / nullif(h.calls, 0) AS mean_exec_time_ms,
       h.min_exec_time                                     AS min_exec_time_ms,
       h.max_exec_time                                     AS max_exec_time_ms,
       coalesce(h.rows, 0)                                 AS rows,
       coalesce(h.shared_blks_hit, 0)                      AS shared_blks_hit,
       coalesce(h.shared_blks_read, 0)                     AS shared_blks_read,
       coalesce(h.sampled_calls, 0)                        AS sampled_calls,
       p.summary, d.query, h.implied
  FROM (SELECT 'raw'::text AS tier, r.*
          FROM nadia_bgw._plan_rows('raw', '-infinity', 'infinity') r
        UNION ALL
        SELECT 'hourly', o.*
          FROM nadia_bgw._plan_rows('hourly', '-infinity', 'infinity') o
        UNION ALL
        SELECT 'daily', y.*
          FROM nadia_bgw._plan_rows('daily', '-infinity', 'infinity') y) h
  JOIN nadia_bgw.plans p USING (plan_ref)
  LEFT JOIN nadia_bgw.statements d
    ON (d.queryid, d.dbid, d.userid) = (p.queryid, p.dbid, p.userid)
  LEFT JOIN nadia_bgw.samples s ON h.tier = 'raw' AND s.sampled_at = h.sampled_at;

REVOKE ALL ON nadia_bgw.plan_store_state, nadia_bgw.plan_history FROM PUBLIC;
REVOKE ALL ON FUNCTION nadia_bgw._plan_rows(text, timestamptz, timestamptz, integer[]) FROM PUBLIC;
-- the view and the readers of 94_plan_reader.sql call _plan_rows() with
-- the reader's privileges (SECURITY INVOKER): it reads plans, statements
-- and both histories, all granted to nadia_bgw_reader
GRANT SELECT ON nadia_bgw.plan_history TO nadia_bgw_reader;
GRANT EXECUTE ON FUNCTION nadia_bgw._plan_rows(text, timestamptz, timestamptz, integer[])
    TO nadia_bgw_reader;
