-- plan_describe: the plan describers of issue 15 (worker/plans/plan_*.c)
-- called on one statement, without the executor hooks, through a
-- test-build-only C function this test declares itself.
CREATE FUNCTION pd_describe(query text, run boolean,
    OUT planid bigint, OUT masked_text text, OUT summary text,
    OUT nodes jsonb, OUT sampled jsonb)
  RETURNS record AS '$libdir/nadia_bgw', 'nadia_debug_describe_plan'
  LANGUAGE C STRICT;

CREATE TABLE pd_items (
    id int PRIMARY KEY, grp int, name text, ts timestamptz, iv interval,
    j jsonb, by bytea, flag bool, price numeric, ratio float8, tags int[],
    "it's ""q""" text, "true" bool, "1e5" int, note text, a int, b int);
INSERT INTO pd_items
SELECT i, i % 50, 'n' || i, '2020-01-01 00:00:00+00'::timestamptz + i * interval '1 hour',
       interval '1 day', jsonb_build_object('k', i), 'x', i % 2 = 0, i, i,
       ARRAY[i], 'q', true, i, 'note', i % 100, i % 100
  FROM generate_series(1, 10000) i;
CREATE INDEX pd_items_name ON pd_items (name);
CREATE INDEX pd_items_ts ON pd_items (ts);
CREATE TABLE pd_orders (id int PRIMARY KEY, item_id int, qty int, note text);
INSERT INTO pd_orders SELECT i, (i * 7) % 10000 + 1, i % 10, 'o' FROM generate_series(1, 5000) i;
ANALYZE pd_items;
ANALYZE pd_orders;

-- what must never survive: one fragment per literal of the statements below
CREATE TABLE pd_secrets (s text);
INSERT INTO pd_secrets VALUES
 ('zqsecret1'), ('zqsecret2'), ('zqsecret3'), ('zqsecret4'), ('zqsecret5'),
 ('zqsecret6'), ('zqsecret7'), ('zqsecret8'), ('zqsecret9'), ('zqsecret10'),
 ('zqsecret11'), ('zqsecret12'), ('zqsecret13'), ('zqsecret14'),
 ('7130917'), ('8259183'), ('6120517'), ('1415926'), ('25000000'),
 ('2031-05'), ('05:06:07'), ('deadbeef'), ('4242427'), ('5353537'),
 ('6161617'), ('9191917'), ('3838387'), ('2727277'), ('DISTINCT FROM true'),
 ('2039-'), ('1717171'), ('19191'), ('17.25'), ('2323232');

CREATE TABLE pd_cases (name text, query text);
INSERT INTO pd_cases VALUES
('scalars', $q$SELECT * FROM pd_items
  WHERE name <> E'zq\'secret1\\' AND price = 3.1415926 AND ratio = 2.5e13
    AND grp > -6120517 AND ts > '2031-05-06 07:08:09+00' AND iv <> '13 days 05:06:07'
    AND j @> '{"zqsecret3": 1}' AND by <> E'\\xdeadbeef' AND flag IS DISTINCT FROM true
    AND "true" AND "1e5" <> 7130917 AND "it's ""q""" LIKE '%zqsecret4%'
    AND tags <> ARRAY[8259183, 4242427] AND note IN ('zqsecret5', 'zqsecret6')
    AND note <> E'multi\nzqsecret7 line' AND name <> 'zqsecret2'::varchar$q$),
('index', $q$SELECT * FROM pd_items WHERE name = 'zqsecret10' OR ts = '2039-01-01'$q$),
('subplans', $q$SELECT i.id, (SELECT max(qty) FROM pd_orders WHERE note = 'zqsecret8')
  FROM pd_items i
 WHERE i.grp = 3 OR EXISTS (SELECT 1 FROM pd_orders o WHERE o.item_id = i.id AND o.note <> 'zqsecret9')
 ORDER BY i.price * 5353537 LIMIT 10$q$),
('joins', $q$SELECT * FROM pd_items i JOIN pd_orders o ON o.item_id = i.grp + 6161617
   AND o.qty < i.a + 9191917 WHERE now() > '2039-02-02'::timestamptz OR o.note = 'zqsecret11'$q$),
('groups', $q$SELECT grp + 3838387, count(*) FROM pd_items WHERE name > 'zqsecret12'
  GROUP BY grp + 3838387 HAVING count(*) > 2727277
  UNION ALL SELECT 1, 2 WHERE current_user = 'zqsecret13'$q$),
('onetime', $q$SELECT * FROM pd_items WHERE now() > '2039-03-03'::timestamptz$q$),
('memoize_merge', $q$SELECT * FROM pd_orders o JOIN pd_items i ON i.id = o.qty + 1717171$q$),
('tid', $q$SELECT * FROM pd_items WHERE ctid = '(0,19191)'$q$),
('tablesample', $q$SELECT * FROM pd_items TABLESAMPLE SYSTEM (17.25) REPEATABLE (2323232)$q$),
('window', $q$SELECT * FROM (SELECT id, row_number() OVER (ORDER BY id) rn FROM pd_items
  WHERE note <> 'zqsecret14') s WHERE rn < 4242427$q$);

-- every literal masked, in every join/scan method, with both settings of
-- standard_conforming_strings (which changes how backslashes are printed)
-- the test's power: plain EXPLAIN of these statements shows every secret
-- (in one of the join methods below); the masked texts must show none
CREATE FUNCTION pd_explained(methods text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    c record;
    line text;
BEGIN
    PERFORM set_config('enable_hashjoin', (methods = 'default')::text, true);
    PERFORM set_config('enable_mergejoin', (methods <> 'nestloop')::text, true);
    PERFORM set_config('enable_hashagg', (methods = 'default')::text, true);
    PERFORM set_config('enable_nestloop', (methods <> 'merge')::text, true);
    FOR c IN SELECT * FROM pd_cases LOOP
        FOR line IN EXECUTE 'EXPLAIN ' || c.query LOOP
            RETURN NEXT line;
        END LOOP;
    END LOOP;
END $$;
SELECT s AS never_in_plain_explain FROM pd_secrets
 WHERE NOT EXISTS (SELECT FROM (VALUES ('default'), ('nestloop'), ('merge')) m(methods),
                               pd_explained(m.methods) e
                    WHERE position(s IN e) > 0);

CREATE FUNCTION pd_leaks(scs text, methods text)
  RETURNS TABLE (name text, leaked text) LANGUAGE plpgsql AS $$
DECLARE
    c record;
    d record;
BEGIN
    PERFORM set_config('standard_conforming_strings', scs, true);
    PERFORM set_config('escape_string_warning', 'off', true);
    PERFORM set_config('enable_hashjoin', (methods = 'default')::text, true);
    PERFORM set_config('enable_mergejoin', (methods <> 'nestloop')::text, true);
    PERFORM set_config('enable_hashagg', (methods = 'default')::text, true);
    PERFORM set_config('enable_nestloop', (methods <> 'merge')::text, true);
    FOR c IN SELECT * FROM pd_cases ORDER BY 1 LOOP
        SELECT * INTO d FROM pd_describe(c.query, true);
        name := c.name;
        FOR leaked IN SELECT s FROM pd_secrets
                       WHERE position(s IN d.masked_text || d.summary || d.nodes::text
                                      || d.sampled::text) > 0 LOOP
            RETURN NEXT;
        END LOOP;
    END LOOP;
END $$;
SELECT m.scs, m.methods, l.*
  FROM (VALUES ('on', 'default'), ('off', 'default'), ('on', 'nestloop'), ('on', 'merge')) AS m(scs, methods),
       pd_leaks(m.scs, m.methods) l;

-- the masks are there, costs stay, identifiers stay readable
SELECT position($$'?'::text$$ IN masked_text) > 0 AS string_masked,
       position('(n = ?)' IN replace(masked_text, 'price', 'n')) > 0 AS number_masked,
       position('DISTINCT FROM ?' IN masked_text) > 0 AS boolean_masked,
       masked_text ~ 'cost=\d+\.\d\d\.\.\d+\.\d\d rows=\d+ width=\d+' AS costs_kept,
       position('"it''s ""q"""' IN masked_text) > 0 AS quoted_identifier_kept,
       position('"1e5"' IN masked_text) > 0 AS numeric_looking_identifier_kept,
       position('"true"' IN masked_text) > 0 AS keyword_identifier_kept
  FROM pd_cases, pd_describe(query, false)
 WHERE name = 'scalars';

-- plan ids: the same shape with other constants is the same plan; another
-- scan method is another plan
SELECT (SELECT planid FROM pd_describe('SELECT * FROM pd_items WHERE name = ''a''', false))
     = (SELECT planid FROM pd_describe('SELECT * FROM pd_items WHERE name = ''zzz''', false))
       AS same_id_other_constant;
SELECT (SELECT planid FROM pd_describe('SELECT * FROM pd_items WHERE grp = 1 AND price > 10 ORDER BY ts LIMIT 3', false))
     = (SELECT planid FROM pd_describe('SELECT * FROM pd_items WHERE grp = 42 AND price > 11.5 ORDER BY ts LIMIT 4', false))
       AS same_id_other_numbers;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT summary AS seq_summary FROM pd_describe('SELECT * FROM pd_items WHERE name = ''a''', false);
CREATE TEMP TABLE pd_seq AS SELECT planid FROM pd_describe('SELECT * FROM pd_items WHERE name = ''a''', false);
RESET enable_indexscan;
RESET enable_bitmapscan;
SET enable_seqscan = off;
SELECT summary AS index_summary FROM pd_describe('SELECT * FROM pd_items WHERE name = ''a''', false);
SELECT planid <> (SELECT planid FROM pd_seq) AS seq_and_index_differ
  FROM pd_describe('SELECT * FROM pd_items WHERE name = ''a''', false);
RESET enable_seqscan;

-- plan_nodes: the conditions of each node, columns resolved to base
-- relations, never a value
CREATE FUNCTION pd_conds(query text)
  RETURNS TABLE (id int, node text, kind text, rel regclass, col text, op text,
                 class text, btree bool, under_limit bool)
  LANGUAGE sql AS $$
    SELECT (n->>'id')::int, n->>'label', c->>'kind', (c->>'relid')::oid::regclass,
           c->>'column', c->>'op', c->>'class', (c->>'btree')::bool,
           (n->>'under_limit')::bool
      FROM pd_describe(query, false) d,
           jsonb_array_elements(d.nodes) n
           LEFT JOIN LATERAL jsonb_array_elements(n->'conds') c ON true
     ORDER BY 1, 3, 5, 6 $$;

-- one table's filter: equality, range, LIKE, IN, <> and IS NULL
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT * FROM pd_conds($$SELECT * FROM pd_items WHERE grp = 3 AND price >= 10 AND name LIKE 'x%'
  AND note IN ('a', 'b') AND b <> 7 AND ratio IS NULL AND 5 > a$$);
RESET enable_indexscan;
RESET enable_bitmapscan;

-- an index condition
SET enable_bitmapscan = off;
SELECT * FROM pd_conds($$SELECT * FROM pd_items WHERE name = 'x' AND grp = 1$$);
RESET enable_bitmapscan;

-- a hash join: the condition's column on both sides, through the Hash node
SET enable_mergejoin = off;
SET enable_nestloop = off;
SELECT * FROM pd_conds($$SELECT * FROM pd_items i JOIN pd_orders o ON o.item_id = i.id WHERE o.qty = 3$$);
RESET enable_mergejoin;
RESET enable_nestloop;

-- a sort under a LIMIT
SET enable_indexscan = off;
SELECT * FROM pd_conds($$SELECT * FROM pd_items ORDER BY grp, price DESC LIMIT 5$$);
RESET enable_indexscan;

-- the parent of a subplan is the node it hangs on
SELECT n->>'id' AS id, n->>'parent' AS parent, n->>'label' AS label
  FROM pd_describe($$SELECT id FROM pd_items i WHERE price > (SELECT avg(qty) FROM pd_orders)$$, false) d,
       jsonb_array_elements(d.nodes) n;

-- sampled nodes: a misestimate of correlated columns (a = b always:
-- the planner multiplies 1% by 1%, 100 rows come)
SELECT s->>'label' AS label, (s->>'est_rows')::float8 AS est, (s->>'actual_rows')::float8 AS actual,
       s->>'loops' AS loops, s->>'removed_by_filter' AS removed,
       s->>'removed_by_join_filter' AS removed_by_join,
       (s->>'misestimate')::float8 AS misestimate
  FROM pd_describe('SELECT id FROM pd_items WHERE a = 1 AND b = 1', true) d,
       jsonb_array_elements(d.sampled) s;
-- an over-estimate is negative, nodes never run are left out
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SELECT s->>'label' AS label, (s->>'misestimate')::float8 < 0 AS over_estimated
  FROM pd_describe('SELECT * FROM pd_items i JOIN pd_orders o ON o.item_id = i.id WHERE i.grp > 1000', true) d,
       jsonb_array_elements(d.sampled) s;
RESET enable_hashjoin;
RESET enable_mergejoin;
