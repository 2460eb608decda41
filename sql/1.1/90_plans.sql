
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
) WITH (fillfactor = 80);
-- fillfactor: every sample in which a plan ran moves its last_seen; room
-- on the page keeps those updates HOT (in place, no index entry), where a
-- full page sent each new row version elsewhere and grew the table and
-- both indexes (docs/benchmarks.md, "Storage")

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

-- The wide columns of plans (masked text, node facts) are written
-- compressed by the sample (worker/history/plan_compress.c): a plans row
-- is under the ~2 kB from which PostgreSQL compresses values itself.
CREATE FUNCTION nadia_bgw._compressed(jsonb) RETURNS jsonb
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'nadia_bgw_compressed';
CREATE FUNCTION nadia_bgw._compressed(text) RETURNS text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'nadia_bgw_compressed';

-- The node facts as plans stores them: the capture's, without the keys
-- whose value is null (every reader reads a key with ->> or tests its
-- jsonb_typeof, so an absent key reads as a null one) and with each
-- node's total_cost to two decimals (as EXPLAIN prints it; nothing reads
-- more): a fifth smaller before compression.
CREATE FUNCTION nadia_bgw._plan_nodes_stored(nodes jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE WHEN jsonb_typeof(nodes) IS DISTINCT FROM 'array' THEN nodes
       ELSE coalesce((
           SELECT jsonb_agg(CASE WHEN jsonb_typeof(e) = 'object'
                                 THEN jsonb_strip_nulls(e) ||
                                      CASE WHEN jsonb_typeof(e -> 'total_cost') = 'number'
                                           THEN jsonb_build_object('total_cost',
                                                    round((e ->> 'total_cost')::numeric, 2))
                                           ELSE '{}'::jsonb END
                                 ELSE e END ORDER BY o)
             FROM jsonb_array_elements(nodes) WITH ORDINALITY x(e, o)), '[]'::jsonb) END
$$;

-- only the sample (nadia_bgw's owner, like _plan_store()) writes plans
REVOKE ALL ON FUNCTION nadia_bgw._compressed(jsonb), nadia_bgw._compressed(text),
    nadia_bgw._plan_nodes_stored(jsonb) FROM PUBLIC;
