
-- nadia_bgw 1.0 -> 1.1 -- plan-change alerts from plan ids (docs/alerts.md).
--
-- The "plan change" detector (worker/alerts/detectors.c) compares a
-- statement's dominant plan in the recent window with the one before it
-- (nadia_bgw.plans and the raw tier of plan history as _plan_rows() returns
-- it, explicit and implied rows, 92_plan_history.sql).  When it fires,
-- this function says in one line what changed between the two plans, from
-- their plan_nodes.

-- One line naming the nodes of the old plan that the new one lacks, an
-- arrow (U+2192; "->" where the database's encoding has none), and the
-- nodes of the new plan the old one lacked, each side in pre-order, at
-- most five names a side ("+ 3 more" for the rest), e.g.
--   Index Scan using idx_x on public.interactions -> Seq Scan on public.interactions
-- "same nodes, other shape" when only the tree's shape (join order,
-- nesting) differs; NULL when a plan's nodes were not stored.
--
-- The line goes into the NOTIFY payload, which every role may LISTEN to,
-- so a node's name holds nothing a session typed: EXPLAIN's wording of a
-- subquery, CTE or function scan ends in the alias the query gave it
-- ("Subquery Scan on my_alias"), and so may a scan of a relation whose
-- name could not be looked up.  The name is rebuilt: the part of the
-- node's "label" before its first " using " or " on " (the node's kind in
-- EXPLAIN's words, "Parallel Seq Scan", "Hash Left Join",
-- "Finalize HashAggregate": letters and spaces, else the "node" type, else
-- "?"), then the index named by "indexid" and the relation named by
-- "relid", names the capture took from the catalogs.
CREATE FUNCTION nadia_bgw._plan_change_summary(old_nodes jsonb, new_nodes jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH nodes AS (
        SELECT s.side, e.ord,
               CASE WHEN split_part(split_part(e.node->>'label', ' on ', 1), ' using ', 1)
                         ~ '^[A-Za-z][A-Za-z ]{0,62}$'
                    THEN split_part(split_part(e.node->>'label', ' on ', 1), ' using ', 1)
                    WHEN e.node->>'node' ~ '^[A-Za-z][A-Za-z ]{0,62}$'
                    THEN e.node->>'node' ELSE '?' END
               || CASE WHEN e.node->>'node' = 'Bitmap Index Scan' AND x.has_index
                       THEN ' on ' || (e.node->>'index')
                       WHEN x.has_relation
                       THEN CASE WHEN x.has_index THEN ' using ' || (e.node->>'index') ELSE '' END
                            || ' on ' || (e.node->>'relation')
                       WHEN x.has_index THEN ' on ' || (e.node->>'index')
                       ELSE '' END AS name
          FROM (VALUES ('old', old_nodes), ('new', new_nodes)) s(side, arr)
         CROSS JOIN LATERAL jsonb_array_elements(
               CASE WHEN jsonb_typeof(s.arr) = 'array' THEN s.arr ELSE '[]' END)
               WITH ORDINALITY e(node, ord)
         CROSS JOIN LATERAL (SELECT
               jsonb_typeof(e.node->'relid') = 'number'
               AND jsonb_typeof(e.node->'relation') = 'string' AS has_relation,
               jsonb_typeof(e.node->'indexid') = 'number'
               AND jsonb_typeof(e.node->'index') = 'string' AS has_index) x),
    -- the k-th node of a name on one side matches the k-th on the other:
    -- a multiset difference, so two scans of a table becoming one shows
    numbered AS (
        SELECT n.*, row_number() OVER (PARTITION BY n.side, n.name ORDER BY n.ord) AS k
          FROM nodes n),
    only_in AS (
        SELECT a.side, a.name, a.ord,
               row_number() OVER (PARTITION BY a.side ORDER BY a.ord) AS pos,
               count(*) OVER (PARTITION BY a.side) AS total
          FROM numbered a
         WHERE NOT EXISTS (SELECT 1 FROM numbered b
                            WHERE b.side <> a.side AND b.name = a.name AND b.k = a.k)),
    lists AS (
        SELECT o.side,
               string_agg(o.name, ' + ' ORDER BY o.ord) FILTER (WHERE o.pos <= 5)
               || CASE WHEN max(o.total) > 5
                       THEN format(' + %s more', max(o.total) - 5) ELSE '' END AS list
          FROM only_in o GROUP BY o.side)
    SELECT CASE
        WHEN jsonb_typeof(old_nodes) IS DISTINCT FROM 'array'
             OR jsonb_typeof(new_nodes) IS DISTINCT FROM 'array' THEN NULL
        WHEN NOT EXISTS (SELECT 1 FROM lists) THEN 'same nodes, other shape'
        ELSE coalesce((SELECT l.list FROM lists l WHERE l.side = 'old'), 'nothing')
             -- U+2192 where the database can hold it; this script stays
             -- ASCII, as it is read in the database's encoding
             || CASE WHEN getdatabaseencoding() = 'UTF8' THEN ' ' || chr(8594) || ' '
                     ELSE ' -> ' END
             || coalesce((SELECT l.list FROM lists l WHERE l.side = 'new'), 'nothing')
    END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._plan_change_summary(jsonb, jsonb) FROM PUBLIC;
