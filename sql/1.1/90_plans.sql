
-- nadia_bgw 1.0 -> 1.1 -- plan history (docs/plans.md).
--
-- The preloaded library gives each executed plan a plan id (a hash of the
-- plan tree: node types, relations, indexes, join and scan kinds; never
-- costs, rows or constants) and counts calls, time, rows and blocks per
-- (database, user, queryid, plan id) in bounded shared memory
-- (nadia_bgw._plan_store(), sql/1.1/91_plan_capture.sql).  The sample task
-- drains it like any other delta source: one nadia_bgw.plans row per new
-- plan, per-sample deltas in plan_samples, downsampled into plan_hourly
-- and plan_daily with the retention of statement history.

-- One row per plan seen: its statement, its masked text and its nodes.
CREATE TABLE nadia_bgw.plans (
    plan_ref      integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queryid       bigint NOT NULL,
    dbid          oid NOT NULL,
    userid        oid NOT NULL,
    planid        bigint NOT NULL,
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    -- EXPLAIN (costs on, text format) of the first execution seen, every
    -- constant masked; NULL when the capture's text area was full
    plan_text     text,
    -- the plan tree as facts, one object per node (docs/plans.md, "Plan
    -- nodes"): node type, relation, index, join type, estimated rows,
    -- the columns its conditions test and how
    plan_nodes    jsonb,
    -- one line naming the plan's scans and joins, for alerts and lists
    summary       text,
    -- the latest instrumented execution: per node estimated and actual
    -- rows, loops, rows removed by filter (NULL until one was sampled)
    sampled_nodes jsonb,
    sampled_at    timestamptz,
    UNIQUE (queryid, dbid, userid, planid)
);

CREATE TABLE nadia_bgw.plan_samples (
    sampled_at timestamptz NOT NULL,
    plan_ref integer NOT NULL,
    calls bigint, total_exec_time double precision,
    min_exec_time double precision, max_exec_time double precision,
    rows bigint, shared_blks_hit bigint, shared_blks_read bigint,
    sampled_calls bigint
) PARTITION BY RANGE (sampled_at);
CREATE TABLE nadia_bgw.plan_hourly (LIKE nadia_bgw.plan_samples) PARTITION BY RANGE (sampled_at);
ALTER TABLE nadia_bgw.plan_hourly ADD COLUMN samples integer;
CREATE TABLE nadia_bgw.plan_daily (LIKE nadia_bgw.plan_hourly) PARTITION BY RANGE (sampled_at);

INSERT INTO nadia_bgw.history_tables VALUES
    ('nadia_bgw.plan_samples', 'raw'), ('nadia_bgw.plan_hourly', 'hourly'),
    ('nadia_bgw.plan_daily', 'daily');

GRANT SELECT ON nadia_bgw.plans, nadia_bgw.plan_samples, nadia_bgw.plan_hourly,
    nadia_bgw.plan_daily TO nadia_bgw_reader;
