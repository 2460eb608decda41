
-- nadia_bgw 1.0 -> 1.1 -- reading plan history (docs/plans.md, "Reading
-- plans"): plan_stats() for SQL, mcp_explain_query() and
-- mcp_statement_plans() for nadia-mcp's explain_query and query_stats.
--
-- Plan history (sql/1.1/90_plans.sql; explicit rows and the rows implied
-- by statement history, _plan_rows() in 92_plan_history.sql) is read like
-- statement history: the three tiers cut by the one rule of
-- _history_cuts() (sql/1.1/45_history_ranges.sql), summed per plan by
-- _plan_totals(), so that a plan's calls over a range add up to its
-- statement's as statement_stats() counts them when every execution was
-- captured, and always while the statement had one plan.  A
-- plan's shares are taken within its statement, that is within the plans
-- of the same (queryid, database, user) in the range.
--
-- Nothing here accepts SQL or runs what it is given: explain_query finds a
-- statement by queryid or by comparing a text with the normalized texts in
-- nadia_bgw.statements, and every text it returns was masked when it was
-- captured (query texts by pg_stat_statements and the sampler, plan texts
-- and node labels by the capture, docs/plans.md "Masking").

-- Per plan sums over [since, until), from the tiers as _history_cuts()
-- cuts them, explicit and implied rows alike (_plan_rows(),
-- 92_plan_history.sql: a single-plan statement's figures are its
-- statement's); refs, when not NULL, limits the answer to those plans
-- (the MCP functions read a few statements' plans, not all of them).  The
-- raw tier is read as one or two intervals: [since, until) less the hours
-- the hourly tier answers for, [raw_until, raw_from), when that is not
-- empty.  _plan_rows() plans each read with its bounds, so partitions are
-- pruned at plan time as in _statement_totals().
CREATE FUNCTION nadia_bgw._plan_totals(since timestamptz, until timestamptz,
                                       refs integer[] DEFAULT NULL)
RETURNS TABLE (plan_ref integer, calls bigint, total_exec_time double precision,
               min_exec_time double precision, max_exec_time double precision,
               rows bigint, shared_blks_hit bigint, shared_blks_read bigint,
               sampled_calls bigint, first_call timestamptz, last_call timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    raw_hole boolean;
BEGIN
    SELECT * INTO c FROM nadia_bgw._history_cuts(since, until);
    raw_hole := c.raw_until < c.raw_from;
    RETURN QUERY
    SELECT h.plan_ref, sum(h.calls)::bigint, sum(h.total_exec_time),
           min(h.min_exec_time), max(h.max_exec_time), sum(h.rows)::bigint,
           sum(h.shared_blks_hit)::bigint, sum(h.shared_blks_read)::bigint,
           sum(h.sampled_calls)::bigint,
           min(h.sampled_at) FILTER (WHERE h.calls > 0), max(h.sampled_at) FILTER (WHERE h.calls > 0)
      FROM (SELECT * FROM nadia_bgw._plan_rows('raw', since,
                                               CASE WHEN raw_hole THEN least(until, c.raw_until)
                                                    ELSE until END, refs)
            UNION ALL
            SELECT * FROM nadia_bgw._plan_rows('raw', greatest(since, c.raw_from), until, refs)
             WHERE raw_hole
            UNION ALL
            SELECT * FROM nadia_bgw._plan_rows('hourly', c.hourly_from, c.hourly_until, refs)
            UNION ALL
            SELECT * FROM nadia_bgw._plan_rows('daily', c.daily_from, c.daily_until, refs)) h
     GROUP BY h.plan_ref;
END
$$;

-- The sampled nodes worth a look, at most three, worst first.  A node's
-- score is the larger of two factors: how far its row estimate was off
-- (|misestimate|, docs/plans.md) and how many rows its filters removed per
-- row it kept (removed_by_filter + removed_by_join_filter over
-- actual_rows x loops) -- a misestimate explains a bad join or scan
-- choice, a filter that throws most rows away is a missing index.  Only
-- nodes scoring 2 or more are listed (an estimate off by half or less, a
-- filter keeping at least every other row, is noise), so a plan sampled
-- with nothing wrong has [] and one never sampled has NULL.  Only the
-- known keys are copied: the label (relation and index names, masked by
-- the capture) and numbers, whatever else the stored object might hold.
CREATE FUNCTION nadia_bgw._plan_worst_nodes(sampled_nodes jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN jsonb_typeof(sampled_nodes) = 'array' THEN
      (SELECT coalesce(jsonb_agg(w.node ORDER BY w.score DESC, w.id), '[]')
         FROM (SELECT s.id, s.score,
                      jsonb_strip_nulls(jsonb_build_object('id', s.id, 'label', s.e -> 'label',
                                         'est_rows', s.e -> 'est_rows', 'actual_rows', s.e -> 'actual_rows',
                                         'loops', s.e -> 'loops',
                                         'removed_by_filter', s.e -> 'removed_by_filter',
                                         'removed_by_join_filter', s.e -> 'removed_by_join_filter',
                                         'misestimate', s.e -> 'misestimate')) AS node
                 FROM (SELECT (e ->> 'id')::integer AS id, e,
                              greatest(abs(coalesce((e ->> 'misestimate')::float8, 1)),
                                       (coalesce((e ->> 'removed_by_filter')::float8, 0)
                                        + coalesce((e ->> 'removed_by_join_filter')::float8, 0))
                                       / greatest(coalesce((e ->> 'actual_rows')::float8, 0)
                                                  * greatest(coalesce((e ->> 'loops')::float8, 1), 1), 1))
                                AS score
                         FROM jsonb_array_elements(sampled_nodes) e
                        WHERE jsonb_typeof(e) = 'object') s
                WHERE s.score >= 2
                ORDER BY s.score DESC, s.id
                LIMIT 3) w)
    END
$$;

-- Does a statement's stored (normalized) text match the text a client
-- gave?  Both are compared with runs of white space made one space, and
-- white space and semicolons at the ends dropped; then they must be equal.
-- A given text ending in an ellipsis ("..." or U+2026, as nadia-mcp cuts
-- texts over 4 kB) matches the stored texts that start with what precedes
-- it.  Case and everything else count: the text is compared, never parsed.
CREATE FUNCTION nadia_bgw._statement_text_matches(stored text, given text)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH n AS (
        SELECT regexp_replace(regexp_replace(stored, '\s+', ' ', 'g'), '^[ ;]+|[ ;]+$', '', 'g') AS s,
               regexp_replace(regexp_replace(given, '\s+', ' ', 'g'), '^[ ;]+|[ ;]+$', '', 'g') AS g,
               -- U+2026 written as bytes: this script stays ASCII, and
               -- convert_from() runs only where it cannot fail: in a UTF-8
               -- database, and in SQL_ASCII (bytes as they are)
               CASE WHEN getdatabaseencoding() IN ('UTF8', 'SQL_ASCII')
                    THEN convert_from('\xe280a6'::bytea, 'UTF8') ELSE '...' END AS ellipsis),
    e AS (
        SELECT n.s, n.g,
               CASE WHEN right(n.g, 3) = '...' THEN left(n.g, -3)
                    WHEN right(n.g, length(n.ellipsis)) = n.ellipsis
                    THEN left(n.g, -length(n.ellipsis)) END AS prefix
          FROM n)
    SELECT CASE WHEN e.prefix IS NOT NULL THEN starts_with(e.s, rtrim(e.prefix, ' '))
                ELSE e.s = e.g END
      FROM e
$$;

-- plan_stats() and the MCP functions, with the plans read limited to refs
-- (NULL: all).  A row per plan with any history row in the range.
CREATE FUNCTION nadia_bgw._plan_stats(since timestamptz, until timestamptz, refs integer[])
RETURNS TABLE (plan_ref integer, stmt_id integer, queryid bigint, dbid oid, datname name,
               userid oid, username name, planid bigint,
               calls bigint, total_exec_time_ms double precision, mean_exec_time_ms double precision,
               min_exec_time_ms double precision, max_exec_time_ms double precision, rows bigint,
               shared_blks_hit bigint, shared_blks_read bigint, sampled_calls bigint,
               share_of_calls double precision, share_of_time double precision,
               first_seen timestamptz, last_seen timestamptz,
               summary text, plan_text text, worst_nodes jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.plan_ref, t.stmt_id, p.queryid, p.dbid,
           coalesce(t.datname, (SELECT d.datname FROM pg_database d WHERE d.oid = p.dbid)),
           p.userid,
           coalesce(t.username, (SELECT r.rolname FROM pg_roles r WHERE r.oid = p.userid)),
           p.planid,
           coalesce(g.calls, 0), coalesce(g.total_exec_time, 0),
           g.total_exec_time / nullif(g.calls, 0),
           g.min_exec_time, g.max_exec_time, coalesce(g.rows, 0),
           coalesce(g.shared_blks_hit, 0), coalesce(g.shared_blks_read, 0),
           coalesce(g.sampled_calls, 0),
           coalesce(g.calls, 0)::float8
             / nullif(sum(coalesce(g.calls, 0)) OVER w, 0),
           coalesce(g.total_exec_time, 0)
             / nullif(sum(coalesce(g.total_exec_time, 0)) OVER w, 0),
           g.first_call, g.last_call,
           p.summary, p.plan_text, nadia_bgw._plan_worst_nodes(p.sampled_nodes)
      FROM nadia_bgw._plan_totals(since, until, refs) g
      JOIN nadia_bgw.plans p ON p.plan_ref = g.plan_ref
      LEFT JOIN nadia_bgw.statements t
             ON t.queryid = p.queryid AND t.dbid = p.dbid AND t.userid = p.userid
     -- nadia_bgw's own statements, as statement_stats() leaves them out
     WHERE NOT coalesce(t.excluded, false)
    WINDOW w AS (PARTITION BY p.queryid, p.dbid, p.userid)
$$;

-- The plans each statement ran in [since, until) (default: the last 24
-- hours): calls, time and rows per plan, the plan's share of its
-- statement's calls and execution time (0..1), the first and last sample
-- or bucket of the range in which it ran, its summary and masked text, and
-- worst_nodes (see _plan_worst_nodes: NULL when never sampled).
CREATE FUNCTION nadia_bgw.plan_stats(
    since timestamptz DEFAULT pg_catalog.now() - interval '1 day',
    until timestamptz DEFAULT pg_catalog.now())
RETURNS TABLE (queryid bigint, dbid oid, datname name, userid oid, username name,
               planid bigint, calls bigint, total_exec_time_ms double precision,
               mean_exec_time_ms double precision, min_exec_time_ms double precision,
               max_exec_time_ms double precision, rows bigint,
               share_of_calls double precision, share_of_time double precision,
               first_seen timestamptz, last_seen timestamptz,
               summary text, plan_text text, worst_nodes jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.queryid, s.dbid, s.datname, s.userid, s.username, s.planid, s.calls,
           s.total_exec_time_ms, s.mean_exec_time_ms, s.min_exec_time_ms, s.max_exec_time_ms,
           s.rows, s.share_of_calls, s.share_of_time, s.first_seen, s.last_seen,
           s.summary, s.plan_text, s.worst_nodes
      FROM nadia_bgw._plan_stats(since, until, NULL) s
$$;

-- explain_query: the plans of the statements given by queryid, by text
-- (_statement_text_matches), by both (both must match) or, with neither,
-- of every statement, over [since, until) (until NULL: now()).  One row
-- per plan, with its statement's figures for the ordering: the statements
-- with the most execution time in the range first, within one its plans
-- by calls.  plan_first_seen is when history first saw the plan at all,
-- sampled_at its latest instrumented execution.
CREATE FUNCTION nadia_bgw.mcp_explain_query(for_queryid bigint, for_query text,
                                            since timestamptz, until timestamptz)
RETURNS TABLE (queryid bigint, datname name, username name, planid bigint,
               calls bigint, total_exec_time_ms double precision,
               mean_exec_time_ms double precision, min_exec_time_ms double precision,
               max_exec_time_ms double precision, rows bigint,
               shared_blks_hit bigint, shared_blks_read bigint,
               share_of_calls double precision, share_of_time double precision,
               first_seen timestamptz, last_seen timestamptz,
               plan_first_seen timestamptz, sampled_at timestamptz, sampled_calls bigint,
               summary text, plan_text text, worst_nodes jsonb,
               statement_exec_time_ms double precision, query text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH m AS (
        SELECT p.plan_ref, t.query
          FROM nadia_bgw.statements t
          JOIN nadia_bgw.plans p
            ON p.queryid = t.queryid AND p.dbid = t.dbid AND p.userid = t.userid
         WHERE NOT t.excluded
           AND ($1 IS NULL OR t.queryid = $1)
           AND ($2 IS NULL OR nadia_bgw._statement_text_matches(t.query, $2))),
    s AS (
        SELECT s.*, sum(s.total_exec_time_ms) OVER (PARTITION BY s.stmt_id) AS stmt_time
          FROM nadia_bgw._plan_stats($3, coalesce($4, pg_catalog.now()),
                                     -- none matched: no plan (NULL would read all)
                                     (SELECT coalesce(array_agg(m.plan_ref), '{}') FROM m)) s)
    SELECT s.queryid, s.datname, s.username, s.planid, s.calls, s.total_exec_time_ms,
           s.mean_exec_time_ms, s.min_exec_time_ms, s.max_exec_time_ms, s.rows,
           s.shared_blks_hit, s.shared_blks_read, s.share_of_calls, s.share_of_time,
           s.first_seen, s.last_seen, p.first_seen, p.sampled_at, s.sampled_calls,
           s.summary, s.plan_text, s.worst_nodes, s.stmt_time, m.query
      FROM s
      JOIN m ON m.plan_ref = s.plan_ref
      JOIN nadia_bgw.plans p ON p.plan_ref = s.plan_ref
     ORDER BY s.stmt_time DESC, s.queryid, s.datname, s.username, s.calls DESC, s.planid
$$;

-- query_stats: the plans of the given statements (stmt_ids, as
-- mcp_statement_totals() returns them) over [since, now()), one JSON array
-- per statement, plans by calls: planid (a string: 64-bit), calls, shares,
-- mean time, first and last seen in the range (RFC 3339 UTC, as nadia-mcp
-- writes every time), summary.
CREATE FUNCTION nadia_bgw.mcp_statement_plans(since timestamptz, stmt_ids integer[])
RETURNS TABLE (stmt_id integer, plans jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.stmt_id,
           jsonb_agg(jsonb_build_object(
               'planid', s.planid::text, 'calls', s.calls,
               'share_of_calls', round(s.share_of_calls::numeric, 4),
               'share_of_time', round(s.share_of_time::numeric, 4),
               'mean_exec_time_ms', round(s.mean_exec_time_ms::numeric, 3),
               'first_seen', to_char(s.first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               'last_seen', to_char(s.last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               'summary', s.summary)
             ORDER BY s.calls DESC, s.planid)
      FROM nadia_bgw._plan_stats(since, pg_catalog.now(),
                                 (SELECT coalesce(array_agg(p.plan_ref), '{}')
                                    FROM nadia_bgw.statements t
                                    JOIN nadia_bgw.plans p
                                      ON p.queryid = t.queryid AND p.dbid = t.dbid
                                     AND p.userid = t.userid
                                   WHERE t.stmt_id = ANY (stmt_ids))) s
     WHERE s.stmt_id = ANY (stmt_ids)
     GROUP BY s.stmt_id
$$;

REVOKE ALL ON FUNCTION nadia_bgw._plan_totals(timestamptz, timestamptz, integer[]),
    nadia_bgw._plan_worst_nodes(jsonb),
    nadia_bgw._statement_text_matches(text, text),
    nadia_bgw._plan_stats(timestamptz, timestamptz, integer[]),
    nadia_bgw.plan_stats(timestamptz, timestamptz),
    nadia_bgw.mcp_explain_query(bigint, text, timestamptz, timestamptz),
    nadia_bgw.mcp_statement_plans(timestamptz, integer[])
FROM PUBLIC;
-- the reader calls the helpers through the functions above, which run
-- with its privileges
GRANT EXECUTE ON FUNCTION nadia_bgw._plan_totals(timestamptz, timestamptz, integer[]),
    nadia_bgw._plan_worst_nodes(jsonb),
    nadia_bgw._statement_text_matches(text, text),
    nadia_bgw._plan_stats(timestamptz, timestamptz, integer[]),
    nadia_bgw.plan_stats(timestamptz, timestamptz),
    nadia_bgw.mcp_explain_query(bigint, text, timestamptz, timestamptz),
    nadia_bgw.mcp_statement_plans(timestamptz, integer[])
TO nadia_bgw_reader;
