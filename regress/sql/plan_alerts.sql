-- plan_alerts: the plan_change alert from plan ids (docs/alerts.md).  Plan
-- history is written by hand (nadia_bgw.plans, plan_samples) at sample
-- times that are an input of the test, one minute apart from a fixed
-- instant, and each "cycle" is one detection run in this session, as the
-- worker does after each sample.  Statement 42 changes plan to a slower
-- one, then back; statement 43 changes to an equally fast plan; statement
-- 44 has no plan history (capture off) and is judged by the blocks-per-call
-- fallback; statement 45 runs one plan, so the sampler writes no plan rows
-- for it (docs/plans.md, "Reading plans"): its plan's figures are implied
-- by its statement history until a second plan comes, slower.  A database
-- of its own.
CREATE DATABASE regress_plan_alerts;
\c regress_plan_alerts
SET client_min_messages = warning;
SET TimeZone = 'UTC';
CREATE EXTENSION nadia_bgw;

-- the summary of what changed, from the two plans' nodes
SELECT nadia_bgw._plan_change_summary(
  '[{"id": 0, "node": "Index Scan", "label": "Index Scan using idx_x on public.interactions",
     "relid": 16390, "relation": "public.interactions", "indexid": 16400, "index": "idx_x"}]',
  '[{"id": 0, "node": "Seq Scan", "label": "Seq Scan on public.interactions",
     "relid": 16390, "relation": "public.interactions", "indexid": null, "index": null}]') AS change;
-- the same nodes in another order; a second scan of one table; many nodes
SELECT nadia_bgw._plan_change_summary(
  '[{"node": "Hash Join"}, {"node": "Seq Scan", "relid": 1, "relation": "public.a"},
    {"node": "Hash"}, {"node": "Seq Scan", "relid": 2, "relation": "public.b"}]',
  '[{"node": "Hash Join"}, {"node": "Seq Scan", "relid": 2, "relation": "public.b"},
    {"node": "Hash"}, {"node": "Seq Scan", "relid": 1, "relation": "public.a"}]') AS reordered;
SELECT nadia_bgw._plan_change_summary(
  '[{"node": "Nested Loop"}, {"node": "Seq Scan", "relid": 1, "relation": "public.a"}]',
  '[{"node": "Nested Loop"}, {"node": "Seq Scan", "relid": 1, "relation": "public.a"},
    {"node": "Seq Scan", "relid": 1, "relation": "public.a"}]') AS one_more_scan;
SELECT nadia_bgw._plan_change_summary('[]',
  (SELECT jsonb_agg(jsonb_build_object('node', 'Seq Scan', 'relid', g, 'relation', 'public.t' || g))
     FROM generate_series(1, 8) g)) AS many;
-- a bitmap index scan is named by its index
SELECT nadia_bgw._plan_change_summary(
  '[{"node": "Seq Scan", "relid": 1, "relation": "public.a"}]',
  '[{"node": "Bitmap Heap Scan", "relid": 1, "relation": "public.a"},
    {"node": "Bitmap Index Scan", "label": "Bitmap Index Scan on a_k", "relid": 1,
     "relation": "public.a", "indexid": 5, "index": "public.a_k"}]')
  AS bitmap;
-- never a label, an alias or a node name that is not one: what a session
-- typed ("Subquery Scan on hunter2") does not reach the line
SELECT nadia_bgw._plan_change_summary(
  '[{"node": "Seq Scan", "relid": 1, "relation": "public.a"}]',
  '[{"node": "Subquery Scan", "label": "Subquery Scan on hunter2", "relation": null},
    {"node": "CTE Scan", "label": "CTE Scan on hunter2", "relation": "hunter2"},
    {"node": "hunter2''s node; --", "relid": 1, "relation": "public.a"},
    {"node": "Seq Scan", "label": "hunter2; Seq Scan on public.a", "relid": 1, "relation": "public.a"}]') AS no_alias;
-- the kind of a node in EXPLAIN's words (parallel, join type, strategy)
SELECT nadia_bgw._plan_change_summary(
  '[{"node": "Hash Join", "label": "Hash Join"},
    {"node": "Aggregate", "label": "HashAggregate"},
    {"node": "Seq Scan", "label": "Seq Scan on public.a", "relid": 1, "relation": "public.a"}]',
  '[{"node": "Hash Join", "label": "Hash Left Join"},
    {"node": "Aggregate", "label": "GroupAggregate"},
    {"node": "Seq Scan", "label": "Parallel Seq Scan on public.a", "relid": 1, "relation": "public.a"}]')
  AS kinds;
-- a relation the capture could not name: no name, not the alias
SELECT nadia_bgw._plan_change_summary(
  '[{"node": "Seq Scan", "label": "Seq Scan on public.a", "relid": 1, "relation": "public.a"}]',
  '[{"node": "Seq Scan", "label": "Seq Scan on hunter2", "relid": 1, "relation": null},
    {"node": "Function Scan", "label": "Function Scan on hunter", "relid": null}]')
  AS unnamed;
-- nothing to compare when a plan's nodes were not stored
SELECT nadia_bgw._plan_change_summary(NULL, '[]') IS NULL AS no_nodes;

-- history by hand: samples one minute apart from a fixed instant
SELECT bool_and(nadia_bgw.ensure_partitions('raw', ts) >= 0) AS ok
  FROM generate_series(timestamptz '2001-02-03 00:00 UTC',
                       timestamptz '2001-02-03 01:00 UTC', interval '1 hour') ts;
INSERT INTO nadia_bgw.statements (queryid, dbid, userid, datname, username, query, first_seen)
SELECT q, d.oid, 10, d.datname, 'app', format('SELECT %s /* text stays in the row */', q),
       '2001-02-03 00:00 UTC'
  FROM pg_database d, (VALUES (42), (43), (44), (45)) v(q)
 WHERE d.datname = current_database();
INSERT INTO nadia_bgw.plans (queryid, dbid, userid, planid, first_seen, last_seen,
                             plan_text, plan_nodes, summary)
SELECT v.q, d.oid, 10, v.planid, '2001-02-03 00:00 UTC', '2001-02-03 00:00 UTC',
       'Index Scan ... secret_literal_in_text', v.nodes::jsonb, 'summary hunter2'
  FROM pg_database d, (VALUES
    (42, 111, '[{"id": 0, "parent": null, "node": "Index Scan",
                 "label": "Index Scan using idx_x on public.interactions",
                 "relid": 16390, "relation": "public.interactions", "indexid": 16400, "index": "idx_x"}]'),
    (42, 222, '[{"id": 0, "parent": null, "node": "Seq Scan",
                 "label": "Seq Scan on public.interactions hunter2",
                 "relid": 16390, "relation": "public.interactions", "indexid": null, "index": null}]'),
    (43, 333, '[{"id": 0, "node": "Index Scan", "relid": 1, "relation": "public.a", "indexid": 2, "index": "a_pkey"}]'),
    (43, 444, '[{"id": 0, "node": "Index Only Scan", "relid": 1, "relation": "public.a", "indexid": 2, "index": "a_pkey"}]'),
    (45, 555, '[{"id": 0, "node": "Index Scan", "relid": 1, "relation": "public.b", "indexid": 3, "index": "b_pkey"}]'))
    v(q, planid, nodes)
 WHERE d.datname = current_database();
-- 45's second plan, first seen between the samples of minutes 22 and 23
INSERT INTO nadia_bgw.plans (queryid, dbid, userid, planid, first_seen, last_seen, plan_nodes)
SELECT 45, d.oid, 10, 666, '2001-02-03 00:22:30 UTC', '2001-02-03 00:23 UTC',
       '[{"id": 0, "node": "Seq Scan", "relid": 1, "relation": "public.b"}]'
  FROM pg_database d WHERE d.datname = current_database();

-- sample(minute, plans): a sample at that minute with, per plan id, its
-- calls and mean time; (queryid 44, blocks per call) goes to statement history
CREATE FUNCTION sample(minute int, plans int[], calls int[], ms float8[],
                       blocks_44 bigint DEFAULT 10)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    at timestamptz := timestamptz '2001-02-03 00:00 UTC' + make_interval(mins => minute);
BEGIN
    INSERT INTO nadia_bgw.samples (sampled_at, duration_ms, taken_by, outcome)
    VALUES (at, 1, 'worker', '{}');
    INSERT INTO nadia_bgw.plan_samples (sampled_at, plan_ref, calls, total_exec_time)
    SELECT at, p.plan_ref, u.calls, u.calls * u.ms
      FROM unnest(plans, calls, ms) u(planid, calls, ms)
      JOIN nadia_bgw.plans p ON p.planid = u.planid;
    -- statement history of all four (1 ms a call); 42, 43 and 45 with the
    -- blocks of 44
    INSERT INTO nadia_bgw.statement_samples (sampled_at, stmt_id, toplevel, calls,
                                             total_exec_time, rows, shared_blks_hit, shared_blks_read)
    SELECT at, s.stmt_id, true, 100, 100, 100, 100 * blocks_44, 0
      FROM nadia_bgw.statements s;
END
$$;
CREATE FUNCTION detect() RETURNS TABLE (event text, object text, metric text,
                                        baseline float8, observed float8)
LANGUAGE sql AS $$
    SELECT event, object, metric, round(baseline::numeric, 3)::float8,
           round(observed::numeric, 3)::float8
      FROM nadia_bgw.detect_regressions() WHERE kind = 'plan_change'
     ORDER BY object
$$;
-- cycle(minute, ...): that sample, then one detection run
CREATE FUNCTION cycle(minute int, plans int[], calls int[], ms float8[],
                      blocks_44 bigint DEFAULT 10)
RETURNS TABLE (event text, object text, metric text, baseline float8, observed float8)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sample(minute, plans, calls, ms, blocks_44);
    RETURN QUERY SELECT * FROM detect();
END
$$;
CREATE VIEW plan_alerts AS
SELECT alert_id, state, severity, object, metric, resolved_by,
       details->>'old_planid' AS old_plan, details->>'new_planid' AS new_plan,
       details->'old_mean_exec_time_ms' AS old_ms, details->'new_mean_exec_time_ms' AS new_ms,
       details->>'change_summary' AS change_summary
  FROM nadia_bgw.alerts WHERE kind = 'plan_change' ORDER BY alert_id;

-- warm-up: one run per sample, as the worker does; nothing fires
SELECT m, (SELECT count(*) FROM cycle(m, '{111, 333}', '{100, 100}', '{1.00004, 1}')) AS events
  FROM generate_series(1, 6) m;

-- 42: a new dominant plan, 5 times slower per call (a few calls still on
-- the old one); 43: a new plan as fast (1.2 < 1.5): only 42 fires, once,
-- and its blocks jumping as well does not make a second alert
SELECT * FROM cycle(7, '{111, 222, 333, 444}', '{10, 90, 10, 90}', '{1, 5, 1, 1.2}', 10000);
SELECT * FROM plan_alerts;
-- the payload names both plans, their mean times and what changed; no
-- statement or plan text, no label, no alias
SELECT p->'details'->'old_planid' AS old_planid, p->'details'->'new_planid' AS new_planid,
       p->'details'->'old_mean_exec_time_ms' AS old_ms,
       p->'details'->'new_mean_exec_time_ms' AS new_ms,
       p->'details'->'change_summary' AS change_summary,
       p->>'metric' AS metric, round((p->>'ratio')::numeric, 3) AS ratio,
       p::text LIKE '%hunter2%' OR p::text LIKE '%secret%' OR p::text LIKE '%text stays%' AS leaks
  FROM (SELECT nadia_bgw.alert_payload(alert_id, 'opened')::jsonb AS p
          FROM nadia_bgw.alerts WHERE kind = 'plan_change') s;

-- still on the slow plan: the same alert is updated, the old plan stays
-- the reference (the window before now holds the new plan too)
SELECT * FROM cycle(8, '{222, 444}', '{100, 100}', '{6, 1.2}');
SELECT alert_id, state, old_plan, new_plan, old_ms, new_ms FROM plan_alerts;

-- the old plan's mean stays exact while frozen (the details round it)
SELECT baseline, details->'old_mean_exec_time_ms' AS shown
  FROM nadia_bgw.alerts WHERE kind = 'plan_change' AND state = 'open' AND details ? 'old_planid';

-- the old plan dominant again: three normal runs resolve it
SELECT * FROM cycle(9, '{111, 222, 444}', '{80, 20, 100}', '{1, 6, 1.2}');
SELECT * FROM cycle(10, '{111, 222, 444}', '{80, 20, 100}', '{1, 6, 1.2}');
SELECT * FROM cycle(11, '{111, 222, 444}', '{80, 20, 100}', '{1, 6, 1.2}');
SELECT * FROM cycle(12, '{111, 222, 444}', '{80, 20, 100}', '{1, 6, 1.2}');
SELECT alert_id, state, resolved_by FROM plan_alerts;

-- the slow plan back: a new alert; the new plan no longer slower (the
-- data shrank): three normal runs resolve it
SELECT * FROM cycle(13, '{222, 444}', '{100, 100}', '{6, 1.2}');
SELECT * FROM cycle(14, '{222, 444}', '{100, 100}', '{1.4, 1.2}');
SELECT * FROM cycle(15, '{222, 444}', '{100, 100}', '{1.4, 1.2}');
SELECT * FROM cycle(16, '{222, 444}', '{100, 100}', '{1.4, 1.2}');

-- slow again: a new alert (the old plan still dominates the samples
-- before); resolved by hand, the new plan is accepted and does not fire
-- again while it stays the dominant one
SELECT * FROM cycle(17, '{222, 444}', '{100, 100}', '{6, 1.2}');
SELECT nadia_bgw.resolve_alert(max(alert_id)) FROM nadia_bgw.alerts WHERE kind = 'plan_change';
SELECT * FROM cycle(18, '{222, 444}', '{100, 100}', '{6, 1.2}');
SELECT alert_id, state, resolved_by, old_plan, new_plan, new_ms FROM plan_alerts;

-- 44 has no plan history: the blocks-per-call fallback judges it again
SELECT * FROM cycle(19, '{222, 444}', '{100, 100}', '{6, 1.2}', 100000);
SELECT state, object, metric, old_plan FROM plan_alerts WHERE object LIKE 'query 44 %';

-- 45: one plan (555) and no plan rows until minute 23, then a second plan
-- (666), 5 times slower, with plan rows for both: it fires, its reference
-- being the statement history of the samples before (implied rows: the
-- old plan at 1 ms a call, 100 calls in each of 22 samples); until then
-- its one plan was never a change, nor was it judged by the blocks
-- fallback (it has plan history, implied)
SELECT m, (SELECT count(*) FROM cycle(m, '{222, 444}', '{100, 100}', '{6, 1.2}', 100000)
            WHERE object LIKE 'query 45 %') AS events_45
  FROM generate_series(20, 22) m;
SELECT * FROM cycle(23, '{222, 444, 555, 666}', '{100, 100, 10, 90}', '{6, 1.2, 1, 5}', 100000)
 WHERE object LIKE 'query 45 %';
SELECT p.state, p.metric, p.old_plan, p.new_plan, p.old_ms, p.new_ms, p.change_summary,
       a.details->'old_calls' AS old_calls, a.details->'reference_samples' AS reference_samples
  FROM plan_alerts p JOIN nadia_bgw.alerts a USING (alert_id) WHERE p.object LIKE 'query 45 %';
SELECT count(*) AS other_alerts_45 FROM nadia_bgw.alerts WHERE object LIKE 'query 45 %' AND kind <> 'plan_change';

-- the GUC
SHOW nadia_bgw.plan_change_slowdown;
SET nadia_bgw.plan_change_slowdown = 1;
SET nadia_bgw.plan_change_slowdown = 4;
RESET nadia_bgw.plan_change_slowdown;

\c contrib_regression
DROP DATABASE regress_plan_alerts;
