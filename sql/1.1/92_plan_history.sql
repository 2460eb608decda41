
-- nadia_bgw 1.0 -> 1.1 -- plan history as the sampler keeps it
-- (worker/history/plan_store.c, tracked_plans.c; docs/history.md, "Plan
-- history").  The tables are in 90_plans.sql.

-- The capture's own counters as of the last sample (one row): executions
-- of plans that found the store full and plans whose text did not fit,
-- cumulative since the store was set up (created_at).  Their growth is a
-- 'not_tracked' stats event of source 'plans'.  Logged: a sample rolled
-- back reports its growth again.
CREATE TABLE nadia_bgw.plan_store_state (
    id            boolean PRIMARY KEY DEFAULT true CHECK (id),
    created_at    timestamptz NOT NULL,
    not_tracked   bigint NOT NULL,
    texts_dropped bigint NOT NULL
);

-- Plan history over the three tiers, one row per plan and sample (raw),
-- hour or day: read one tier at a time (tier = 'raw' | 'hourly' |
-- 'daily'), the same interval is in each tier that holds it.
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
       p.summary, d.query
  FROM (SELECT 'raw'::text AS tier, r.sampled_at, 1 AS samples, r.plan_ref, r.calls, r.total_exec_time,
               r.min_exec_time, r.max_exec_time, r.rows, r.shared_blks_hit, r.shared_blks_read,
               r.sampled_calls
          FROM nadia_bgw.plan_samples r
        UNION ALL
        SELECT 'hourly', o.sampled_at, o.samples, o.plan_ref, o.calls, o.total_exec_time,
               o.min_exec_time, o.max_exec_time, o.rows, o.shared_blks_hit, o.shared_blks_read,
               o.sampled_calls
          FROM nadia_bgw.plan_hourly o
        UNION ALL
        SELECT 'daily', y.sampled_at, y.samples, y.plan_ref, y.calls, y.total_exec_time,
               y.min_exec_time, y.max_exec_time, y.rows, y.shared_blks_hit, y.shared_blks_read,
               y.sampled_calls
          FROM nadia_bgw.plan_daily y) h
  JOIN nadia_bgw.plans p USING (plan_ref)
  LEFT JOIN nadia_bgw.statements d
    ON (d.queryid, d.dbid, d.userid) = (p.queryid, p.dbid, p.userid)
  LEFT JOIN nadia_bgw.samples s ON h.tier = 'raw' AND s.sampled_at = h.sampled_at;

REVOKE ALL ON nadia_bgw.plan_store_state, nadia_bgw.plan_history FROM PUBLIC;
GRANT SELECT ON nadia_bgw.plan_history TO nadia_bgw_reader;
