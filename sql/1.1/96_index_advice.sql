
-- nadia_bgw 1.0 -> 1.1 -- index advice with evidence (docs/plans.md,
-- "Index advice").
--
-- The worker's "advice" task (worker/advice/) reads the captured plans
-- (nadia_bgw.plans.plan_nodes) for conditions an index could serve, builds
-- one candidate per table and column list, and, when the hypopg extension
-- is installed in its database, plans the affected statements again with
-- the candidate as a hypothetical index -- as each statement's own role,
-- never as a superuser.  The SQL here finds the candidates and their
-- statements; the C code verifies and stores them.  MCP only reads the
-- result (missing_indexes).

-- The advice of the last run, replaced whole by each run.
CREATE TABLE nadia_bgw.index_advice (
    advice_id        integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    computed_at      timestamptz NOT NULL,
    dbid             oid NOT NULL,
    relid            oid NOT NULL,
    schemaname       name,
    relname          name,
    columns          text[] NOT NULL,          -- key columns, in index order
    create_statement text NOT NULL,            -- names quoted with quote_ident
    reasons          text[] NOT NULL,          -- 'filter', 'join', 'order'
    queryids         bigint[] NOT NULL,        -- the statements it would serve
    calls            bigint,                   -- their calls in the window
    -- their execution time in the window (calls x mean time), ms, and the
    -- same scaled by each statement's planner cost with / without the
    -- index (hypopg); est_gain_ms = before - after, gain_ratio = gain / before
    cost_before_ms   double precision,
    cost_after_ms    double precision,
    est_gain_ms      double precision,
    gain_ratio       double precision,
    index_bytes      bigint,                   -- hypopg_relation_size()
    writes_per_hour  double precision,         -- inserts+updates+deletes of the table
    verified         boolean NOT NULL,
    why_not          text,                     -- why not verified (NULL when verified)
    skipped_columns  jsonb,                    -- [{"column", "op", "why"}]
    -- one object per affected statement: queryid, role, outcome
    -- ('planned' | 'refused' | 'failed'), reason, planner costs
    checks           jsonb
);

GRANT SELECT ON nadia_bgw.index_advice TO nadia_bgw_reader;

-- The candidates: per statement and table, the columns of its conditions
-- a btree could serve -- equality columns first (by name: their order does
-- not matter to the statement), then one range column, or else the sort
-- keys of a sort under a LIMIT -- grouped by table and column list.
-- Only tables of at least min_rows live rows (the latest table sample),
-- only plans of this database seen since "since", and no candidate whose
-- columns an existing valid index already leads with.
CREATE FUNCTION nadia_bgw._advice_candidates(min_rows bigint, since timestamptz)
RETURNS TABLE (relid oid, schemaname name, relname name, attnums smallint[],
               columns text[], reasons text[], skipped_columns jsonb,
               queryids bigint[], userids oid[])
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
WITH node AS (
    SELECT p.plan_ref, p.queryid, p.userid, n.value AS n
      FROM nadia_bgw.plans p
     CROSS JOIN LATERAL jsonb_array_elements(
               CASE WHEN jsonb_typeof(p.plan_nodes) = 'array' THEN p.plan_nodes
                    ELSE '[]'::jsonb END) n
     WHERE p.dbid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
       AND p.last_seen >= since
),
cond AS (
    SELECT x.plan_ref, x.queryid, x.userid, (c.value->>'relid')::oid AS relid,
           (c.value->>'attnum')::smallint AS attnum, c.value->>'column' AS col,
           c.value->>'kind' AS kind, coalesce(c.value->>'class', 'other') AS class,
           coalesce((c.value->>'btree')::boolean, false) AS btree,
           coalesce(c.value->>'op', '?') AS op,
           coalesce((x.n->>'under_limit')::boolean, false) AS under_limit,
           (x.n->>'id')::int AS node_id, c.ordinality AS ord
      FROM node x
     CROSS JOIN LATERAL jsonb_array_elements(
               CASE WHEN jsonb_typeof(x.n->'conds') = 'array' THEN x.n->'conds'
                    ELSE '[]'::jsonb END) WITH ORDINALITY c
     WHERE c.value->>'relid' IS NOT NULL AND c.value->>'attnum' IS NOT NULL
       AND (c.value->>'attnum')::int > 0
       AND c.value->>'kind' IN ('filter', 'hash_cond', 'merge_cond', 'join_filter', 'sort_key')
),
big AS (
    SELECT l.relid, l.schemaname, l.relname
      FROM nadia_bgw.table_stats_latest l
     WHERE l.n_live_tup >= min_rows
),
usable AS (   -- what a btree can serve
    SELECT c.* FROM cond c JOIN big b USING (relid)
     WHERE c.btree AND c.class IN ('eq', 'range') AND c.kind <> 'sort_key'
),
per_stmt AS (
    SELECT u.queryid, u.userid, u.relid,
           array_agg(DISTINCT u.col ORDER BY u.col) FILTER (WHERE u.class = 'eq') AS eq_cols,
           (array_agg(u.col ORDER BY u.ord) FILTER (WHERE u.class = 'range'
                AND NOT u.col = ANY (coalesce((SELECT array_agg(e.col) FROM usable e
                    WHERE e.queryid = u.queryid AND e.userid = u.userid
                      AND e.relid = u.relid AND e.class = 'eq'), '{}'))))[1] AS range_col,
           array_agg(DISTINCT CASE WHEN u.kind = 'filter' THEN 'filter' ELSE 'join' END) AS reasons
      FROM usable u
     GROUP BY u.queryid, u.userid, u.relid
),
sorts AS (    -- sort keys of a sort under a LIMIT, all on one big table
    SELECT DISTINCT c.queryid, c.userid, min(c.relid) AS relid,
           -- a key listed twice (ORDER BY a, a) counts once
           (SELECT array_agg(k ORDER BY i) FROM (
                SELECT k, min(i) AS i FROM unnest(array_agg(c.col ORDER BY c.ord))
                       WITH ORDINALITY u(k, i) GROUP BY k) d) AS sort_cols
      FROM cond c JOIN big b USING (relid)
     WHERE c.kind = 'sort_key' AND c.under_limit AND c.btree
     GROUP BY c.plan_ref, c.queryid, c.userid, c.node_id
    HAVING count(DISTINCT c.relid) = 1
),
cand AS (
    SELECT coalesce(s.queryid, o.queryid) AS queryid, coalesce(s.userid, o.userid) AS userid,
           coalesce(s.relid, o.relid) AS relid,
           coalesce(s.eq_cols, '{}') ||
             CASE WHEN s.range_col IS NOT NULL THEN ARRAY[s.range_col]
                  ELSE coalesce((SELECT array_agg(k ORDER BY i) FROM unnest(o.sort_cols) WITH ORDINALITY a(k, i)
                                  WHERE NOT k = ANY (coalesce(s.eq_cols, '{}'))), '{}') END AS cols,
           coalesce(s.reasons, '{}') ||
             CASE WHEN s.range_col IS NULL AND o.sort_cols IS NOT NULL THEN ARRAY['order'] ELSE '{}' END
             AS reasons
      FROM per_stmt s
      FULL JOIN sorts o ON o.queryid = s.queryid AND o.userid = s.userid AND o.relid = s.relid
),
skipped AS (   -- conditions no btree serves, or that come after the range column
    SELECT c.relid, jsonb_agg(DISTINCT jsonb_build_object('column', c.col, 'op', c.op, 'why',
             CASE WHEN c.class = 'other' THEN 'a btree cannot serve operator ' || c.op
                  ELSE 'the column''s type has no default btree operator class with operator ' || c.op
             END)) AS skipped
      FROM cond c JOIN big b USING (relid)
     WHERE c.kind <> 'sort_key' AND NOT (c.btree AND c.class IN ('eq', 'range'))
     GROUP BY c.relid
),
grouped AS (
    SELECT c.relid, c.cols, array_agg(DISTINCT r) AS reasons,
           array_agg(c.queryid ORDER BY c.queryid, c.userid) AS queryids,
           array_agg(c.userid ORDER BY c.queryid, c.userid) AS userids
      FROM (SELECT DISTINCT * FROM cand) c CROSS JOIN LATERAL unnest(c.reasons) r
     WHERE cardinality(c.cols) > 0
     GROUP BY c.relid, c.cols
)
SELECT g.relid, b.schemaname, b.relname,
       (SELECT array_agg(a.attnum ORDER BY i) FROM unnest(g.cols) WITH ORDINALITY u(col, i)
          JOIN pg_attribute a ON a.attrelid = g.relid AND a.attname = u.col) AS attnums,
       g.cols, g.reasons, coalesce(k.skipped, '[]'),
       -- a statement appears once per reason in grouped: keep each once
       (SELECT array_agg(q ORDER BY q) FROM (SELECT DISTINCT unnest(g.queryids) q) d),
       (SELECT array_agg(DISTINCT u) FROM unnest(g.userids) u)
  FROM grouped g
  JOIN big b USING (relid)
  LEFT JOIN skipped k USING (relid)
 WHERE NOT EXISTS (   -- an existing valid index leads with these columns
        SELECT 1 FROM pg_index i
         WHERE i.indrelid = g.relid AND i.indisvalid AND i.indpred IS NULL
           AND i.indnkeyatts >= cardinality(g.cols)
           AND (SELECT array_agg(a.attname::text ORDER BY a.attname)
                  FROM pg_attribute a
                 WHERE a.attrelid = g.relid
                   AND a.attnum = ANY ((i.indkey::smallint[])[0:cardinality(g.cols) - 1]))
               = (SELECT array_agg(c ORDER BY c) FROM unnest(g.cols) c))
 ORDER BY g.relid, g.cols
$$;

-- The statements of a candidate: their text, their role and its nature,
-- and their calls and execution time in the window (statement history).
CREATE FUNCTION nadia_bgw._advice_statements(queryids bigint[], since timestamptz)
RETURNS TABLE (queryid bigint, userid oid, rolname name, rolsuper boolean,
               query text, cut boolean, redacted boolean,
               calls bigint, total_exec_time_ms double precision)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.queryid, s.userid, r.rolname, r.rolsuper, s.query,
           coalesce(s.query_len > length(s.query), false), s.redacted,
           coalesce(t.calls, 0), coalesce(t.total_exec_time_ms, 0)
      FROM nadia_bgw.statements s
      LEFT JOIN pg_authid r ON r.oid = s.userid
      LEFT JOIN nadia_bgw.mcp_statement_totals(since) t ON t.stmt_id = s.stmt_id
     WHERE s.queryid = ANY (queryids)
       AND s.dbid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
       AND NOT s.excluded
     ORDER BY coalesce(t.total_exec_time_ms, 0) DESC, s.queryid, s.userid
$$;

-- The table's writes per hour over the window (table history).
CREATE FUNCTION nadia_bgw._advice_write_rate(rel oid, since timestamptz)
RETURNS double precision
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.writes / greatest(extract(epoch FROM pg_catalog.now()
               - greatest(since, (SELECT min(s.sampled_at) FROM nadia_bgw.samples s))) / 3600.0,
               1.0 / 60)
      FROM nadia_bgw.mcp_table_totals(since) t
     WHERE t.relid = rel
$$;

REVOKE ALL ON FUNCTION nadia_bgw._advice_candidates(bigint, timestamptz),
    nadia_bgw._advice_statements(bigint[], timestamptz),
    nadia_bgw._advice_write_rate(oid, timestamptz) FROM PUBLIC;
