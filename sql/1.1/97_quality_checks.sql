
-- nadia_bgw 1.0 -> 1.1 -- constraints and integrity, catalog facts
-- (docs/quality.md, "Constraints and integrity"; issue 16, item 1).
--
-- Each cycle the quality_checks task calls nadia_bgw._quality_checks(now),
-- which reads the catalogs of the worker's database (never an application
-- table) and keeps one row per episode of each fact: a NOT VALID
-- constraint, an invalid index, a disabled trigger, a foreign key without
-- a usable index.  A row is written when a fact appears and updated when
-- it goes away, not once per cycle: at 1,000 tables with a steady schema a
-- cycle writes one row (the instant of the check).
--
-- The worker's task passes the relations whose catalog entries changed
-- since its last check (it collects them from PostgreSQL's relation cache
-- invalidations, worker/quality/quality_checks.c); only their facts are
-- read and compared then.  A call without that list (NULL), the worker's
-- first and any call by hand read every relation.

-- One row per episode of a fact: from the check that first saw it to the
-- one that no longer did.  The same fact coming back later is a new row.
CREATE TABLE nadia_bgw.quality_facts (
    fact_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- not_valid_check, not_valid_not_null, not_valid_foreign_key,
    -- invalid_index, disabled_trigger, disabled_constraint_trigger,
    -- disabled_fk_trigger, unindexed_foreign_key (docs/quality.md)
    kind           text NOT NULL,
    -- the constraint's, index's or trigger's OID, and its table's; with
    -- the names they had when the check last saw them (a rename updates
    -- the open row: OIDs identify, names are for people)
    objid          oid NOT NULL,
    relid          oid NOT NULL,
    schemaname     name NOT NULL,
    relname        name NOT NULL,
    objname        name NOT NULL,
    -- foreign keys: the referencing columns (in the key's order) and the
    -- referenced table; NULL for the other kinds
    columns        name[],
    ref_relid      oid,
    ref_schemaname name,
    ref_relname    name,
    -- what fixes it, as a statement built from quoted names only (never
    -- a constraint's expression): the suggested index of an unindexed
    -- foreign key, VALIDATE CONSTRAINT, REINDEX, ENABLE TRIGGER
    detail         text,
    first_seen     timestamptz NOT NULL,
    -- the last check that saw it; NULL while open (it is then the instant
    -- of the latest check, nadia_bgw.quality_checks_state.checked_at)
    last_seen      timestamptz,
    -- the first check that no longer saw it; NULL while open
    resolved_at    timestamptz,
    -- counted facts (violating or orphaned rows), written by the counted
    -- checks of the maintenance machinery; NULL until counted
    counted_rows      bigint,
    count_exact       boolean,
    count_error_bound double precision,
    counted_at        timestamptz,
    CHECK (resolved_at IS NULL OR resolved_at >= first_seen)
);
-- at most one open episode per fact
CREATE UNIQUE INDEX quality_facts_open ON nadia_bgw.quality_facts (kind, objid)
    WHERE resolved_at IS NULL;
-- the readers' ranges
CREATE INDEX quality_facts_range ON nadia_bgw.quality_facts (first_seen, resolved_at);

-- The instant of the latest check: the "last seen" of every open fact.
CREATE TABLE nadia_bgw.quality_checks_state (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    first_checked_at timestamptz NOT NULL,
    checked_at timestamptz NOT NULL,
    -- how many relations the latest check read: NULL when it read every
    -- relation, else those whose catalog entries had changed (with the
    -- tables whose facts depend on them); 0 when nothing had changed
    scope_relations integer
);

REVOKE ALL ON nadia_bgw.quality_facts, nadia_bgw.quality_checks_state FROM PUBLIC;
GRANT SELECT ON nadia_bgw.quality_facts, nadia_bgw.quality_checks_state TO nadia_bgw_reader;

-- The schemas the checks read: the application's, not pg_catalog,
-- information_schema, nadia_bgw, TOAST or other sessions' temporary
-- schemas.  (A SQL expression without SET: inlined where it is used.)
CREATE FUNCTION nadia_bgw._quality_checked_schema(p_nspname name)
RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$
    SELECT p_nspname NOT IN ('pg_catalog', 'information_schema', 'nadia_bgw')
       AND p_nspname NOT LIKE 'pg\_toast%'
       AND p_nspname NOT LIKE 'pg\_temp\_%'
$$;

-- The relations whose facts a change of the given relations can alter:
-- themselves, the tables whose foreign keys reference them (the key's
-- referenced names, and its triggers live on the referenced table), the
-- tables of the indexes among them, and their partitions (a partition's
-- trigger is reported only while its parent's is enabled).  Relations of
-- the schemas the checks never read (ours, the system's) are left out; a
-- dropped relation's OID is kept, its facts are resolved.  NULL: all.
CREATE FUNCTION nadia_bgw._quality_checks_scope(p_relids oid[])
RETURNS oid[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH given AS (
        SELECT r FROM unnest(p_relids) r
         WHERE NOT EXISTS (
               SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.oid = r AND NOT nadia_bgw._quality_checked_schema(n.nspname))),
    direct AS (
        SELECT r FROM given
        UNION
        SELECT k.conrelid FROM pg_constraint k
         WHERE k.contype = 'f' AND k.confrelid IN (SELECT r FROM given)
        UNION
        SELECT i.indrelid FROM pg_index i WHERE i.indexrelid IN (SELECT r FROM given))
    SELECT CASE WHEN p_relids IS NOT NULL
                THEN ARRAY(SELECT r FROM direct
                           UNION
                           SELECT h.inhrelid FROM pg_inherits h
                            WHERE h.inhparent IN (SELECT r FROM direct)
                           ORDER BY 1) END
$$;

-- The facts the catalogs show now, in the schemas the checks read; of the
-- relations of p_scope only, when it is not NULL.  Only catalog reads: no lock on any table.
CREATE FUNCTION nadia_bgw._quality_catalog_facts(p_scope oid[] DEFAULT NULL)
RETURNS TABLE (kind text, objid oid, relid oid, schemaname name, relname name,
               objname name, columns name[], ref_relid oid, ref_schemaname name,
               ref_relname name, detail text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- planned at each call with p_scope's value (EXECUTE): as a SQL
    -- function's generic plan, for both "every relation" and a few OIDs,
    -- a check of 12 relations took twice as long (50 ms instead of 24 at
    -- 1,000 tables, most of it planning)
    RETURN QUERY EXECUTE $q$
    WITH rel AS (
        SELECT c.oid, c.relname, c.relkind, n.nspname
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE nadia_bgw._quality_checked_schema(n.nspname)
           AND ($1 IS NULL OR c.oid = ANY ($1))),
    -- constraints of the tables themselves: a partition's copy of its
    -- parent's constraint (conparentid) is the parent's fact
    con AS (
        SELECT k.*, r.nspname, r.relname, r.relkind
          FROM pg_constraint k JOIN rel r ON r.oid = k.conrelid
         WHERE k.conparentid = 0),
    -- a foreign key's referencing columns, in the key's order
    fk AS (
        SELECT k.oid, k.conname, k.conrelid, k.confrelid, k.convalidated,
               k.nspname, k.relname, k.relkind, k.conkey,
               (SELECT array_agg(a.attname ORDER BY o.ord)
                  FROM unnest(k.conkey) WITH ORDINALITY o(attnum, ord)
                  JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = o.attnum) AS cols,
               pn.nspname AS ref_nspname, pc.relname AS ref_relname
          FROM con k
          JOIN pg_class pc ON pc.oid = k.confrelid
          JOIN pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE k.contype = 'f')
    -- NOT VALID check and NOT NULL (18) constraints; a NOT ENFORCED one
    -- (18) is never validated by design and is not reported
    SELECT CASE k.contype WHEN 'c' THEN 'not_valid_check' ELSE 'not_valid_not_null' END,
           k.oid, k.conrelid, k.nspname, k.relname, k.conname,
           NULL::name[], NULL::oid, NULL::name, NULL::name,
           format('ALTER TABLE %I.%I VALIDATE CONSTRAINT %I', k.nspname, k.relname, k.conname)
      FROM con k
     WHERE k.contype IN ('c', 'n') AND NOT k.convalidated
       AND (to_jsonb(k) ->> 'conenforced') IS DISTINCT FROM 'false'
    UNION ALL
    SELECT 'not_valid_foreign_key', f.oid, f.conrelid, f.nspname, f.relname, f.conname,
           f.cols, f.confrelid, f.ref_nspname, f.ref_relname,
           format('ALTER TABLE %I.%I VALIDATE CONSTRAINT %I', f.nspname, f.relname, f.conname)
      FROM fk f JOIN pg_constraint k ON k.oid = f.oid
     WHERE NOT f.convalidated
       AND (to_jsonb(k) ->> 'conenforced') IS DISTINCT FROM 'false'
    UNION ALL
    -- invalid indexes (a failed CREATE INDEX CONCURRENTLY or REINDEX
    -- CONCURRENTLY, a partitioned index missing a partition's), but not
    -- one being built right now: CREATE INDEX CONCURRENTLY's index is
    -- invalid until it ends
    SELECT 'invalid_index', i.indexrelid, i.indrelid, r.nspname, r.relname, ic.relname,
           NULL, NULL, NULL, NULL,
           CASE WHEN ic.relkind = 'I'
                THEN format('-- attach every partition''s index to %I.%I', r.nspname, ic.relname)
                ELSE format('REINDEX INDEX CONCURRENTLY %I.%I', r.nspname, ic.relname) END
      FROM pg_index i
      JOIN rel r ON r.oid = i.indrelid
      JOIN pg_class ic ON ic.oid = i.indexrelid
     WHERE NOT i.indisvalid
       AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p
                        WHERE p.index_relid = i.indexrelid OR
                              (p.relid = i.indrelid AND p.index_relid = 0))
    UNION ALL
    -- triggers disabled (ALTER TABLE ... DISABLE TRIGGER): a user's
    -- trigger by its name; the internal triggers of a constraint (foreign
    -- keys, deferrable unique and exclusion constraints), which only
    -- DISABLE TRIGGER ALL reaches, as one fact per constraint since their
    -- names mean nothing; replica and always modes count as enabled
    SELECT 'disabled_trigger', t.oid, t.tgrelid, r.nspname, r.relname, t.tgname,
           NULL, NULL, NULL, NULL,
           format('ALTER TABLE %I.%I ENABLE TRIGGER %I', r.nspname, r.relname, t.tgname)
      FROM pg_trigger t JOIN rel r ON r.oid = t.tgrelid
     WHERE t.tgenabled = 'D' AND NOT t.tgisinternal
       -- a partition's clone only when its parent's trigger is enabled
       AND (t.tgparentid = 0 OR NOT EXISTS (SELECT 1 FROM pg_trigger pt
                                            WHERE pt.oid = t.tgparentid AND pt.tgenabled = 'D'))
    UNION ALL
    SELECT CASE WHEN k.contype = 'f' THEN 'disabled_fk_trigger' ELSE 'disabled_constraint_trigger' END,
           k.oid, k.conrelid, r.nspname, r.relname, k.conname,
           f.cols, f.confrelid, f.ref_nspname, f.ref_relname,
           (SELECT string_agg(DISTINCT format('ALTER TABLE %I.%I ENABLE TRIGGER ALL',
                                              tn.nspname, tc.relname), '; ')
              FROM pg_trigger t2
              JOIN pg_class tc ON tc.oid = t2.tgrelid
              JOIN pg_namespace tn ON tn.oid = tc.relnamespace
             WHERE t2.tgconstraint = k.oid AND t2.tgisinternal AND t2.tgenabled = 'D')
      FROM pg_constraint k
      JOIN rel r ON r.oid = k.conrelid
      LEFT JOIN fk f ON f.oid = k.oid
     WHERE k.conparentid = 0
       AND EXISTS (SELECT 1 FROM pg_trigger t
                    WHERE t.tgconstraint = k.oid AND t.tgisinternal AND t.tgenabled = 'D')
    UNION ALL
    -- foreign keys with no usable index on the referencing columns: a
    -- DELETE or key UPDATE on the referenced table then scans this one.
    -- Usable: a valid, non-partial btree or hash index of the table whose
    -- first key columns are exactly the foreign key's, in any order
    -- (INCLUDE columns do not count, nor expressions)
    SELECT 'unindexed_foreign_key', f.oid, f.conrelid, f.nspname, f.relname, f.conname,
           f.cols, f.confrelid, f.ref_nspname, f.ref_relname,
           format('CREATE INDEX %sON %I.%I (%s)',
                  CASE WHEN f.relkind = 'p' THEN '' ELSE 'CONCURRENTLY ' END,
                  f.nspname, f.relname,
                  (SELECT string_agg(quote_ident(c), ', ' ORDER BY o) FROM unnest(f.cols) WITH ORDINALITY u(c, o)))
      FROM fk f
     WHERE NOT EXISTS (
           SELECT 1
             FROM pg_index i
             JOIN pg_class ic ON ic.oid = i.indexrelid
             JOIN pg_am am ON am.oid = ic.relam
             CROSS JOIN LATERAL (SELECT (string_to_array(i.indkey::text, ' ')::int2[])
                                        [1:cardinality(f.conkey)] AS lead) x
            WHERE i.indrelid = f.conrelid AND i.indisvalid AND i.indpred IS NULL
              AND am.amname IN ('btree', 'hash')
              AND i.indnkeyatts >= cardinality(f.conkey)
              AND x.lead @> f.conkey AND x.lead <@ f.conkey)
$q$ USING p_scope;
END
$$;

-- One check: the facts seen now against the open rows.  New facts open a
-- row (first_seen = p_now), gone ones are resolved (resolved_at = p_now,
-- last_seen = the previous check), renamed ones get their new names;
-- resolved rows older than nadia_bgw.daily_retention are deleted.  With
-- p_relids (the worker: the relations changed since its last check) only
-- the facts of their scope (_quality_checks_scope) are read and compared;
-- the open facts of other relations stay open.  Returns the number of
-- rows opened and resolved.
CREATE FUNCTION nadia_bgw._quality_checks(p_now timestamptz, p_relids oid[] DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    prev      timestamptz;
    n_changed bigint := 0;
    scope     oid[];
BEGIN
    -- the worker's task and a manual call: one at a time, so that both
    -- never open the same fact
    PERFORM pg_advisory_xact_lock(hashtext('nadia_bgw._quality_checks'));
    SELECT s.checked_at INTO prev FROM nadia_bgw.quality_checks_state s;
    scope := nadia_bgw._quality_checks_scope(p_relids);

    IF scope IS NULL OR cardinality(scope) > 0 THEN
        -- one statement, so that every part sees the same open rows
        WITH now_f AS MATERIALIZED (
            SELECT * FROM nadia_bgw._quality_catalog_facts(scope)),
        gone AS (
            UPDATE nadia_bgw.quality_facts q
               SET resolved_at = greatest(p_now, q.first_seen),
                   last_seen = least(greatest(coalesce(prev, q.first_seen), q.first_seen),
                                     greatest(p_now, q.first_seen))
             WHERE q.resolved_at IS NULL
               AND (scope IS NULL OR q.relid = ANY (scope))
               AND NOT EXISTS (SELECT 1 FROM now_f n WHERE n.kind = q.kind AND n.objid = q.objid)
            RETURNING 1),
        -- names and suggestions follow renames (an update only then)
        renamed AS (
            UPDATE nadia_bgw.quality_facts q
               SET relid = n.relid, schemaname = n.schemaname, relname = n.relname,
                   objname = n.objname, columns = n.columns, ref_relid = n.ref_relid,
                   ref_schemaname = n.ref_schemaname, ref_relname = n.ref_relname,
                   detail = n.detail
              FROM now_f n
             WHERE q.resolved_at IS NULL AND n.kind = q.kind AND n.objid = q.objid
               AND (q.relid, q.schemaname, q.relname, q.objname, q.columns, q.ref_relid,
                    q.ref_schemaname, q.ref_relname, q.detail)
                   IS DISTINCT FROM
                   (n.relid, n.schemaname, n.relname, n.objname, n.columns, n.ref_relid,
                    n.ref_schemaname, n.ref_relname, n.detail)
            RETURNING 1),
        opened AS (
            INSERT INTO nadia_bgw.quality_facts (kind, objid, relid, schemaname, relname, objname,
                                                 columns, ref_relid, ref_schemaname, ref_relname,
                                                 detail, first_seen)
            SELECT n.kind, n.objid, n.relid, n.schemaname, n.relname, n.objname, n.columns,
                   n.ref_relid, n.ref_schemaname, n.ref_relname, n.detail, p_now
              FROM now_f n
             WHERE NOT EXISTS (SELECT 1 FROM nadia_bgw.quality_facts q
                                WHERE q.resolved_at IS NULL AND q.kind = n.kind
                                  AND q.objid = n.objid)
            RETURNING 1)
        -- (renamed runs though unread: a data-modifying WITH always does)
        SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM opened) INTO n_changed;
    END IF;

    INSERT INTO nadia_bgw.quality_checks_state AS s (first_checked_at, checked_at, scope_relations)
    VALUES (p_now, p_now, cardinality(scope))
    ON CONFLICT (only_row) DO UPDATE
        SET checked_at = EXCLUDED.checked_at, scope_relations = EXCLUDED.scope_relations;

    DELETE FROM nadia_bgw.quality_facts q
     WHERE q.resolved_at < p_now - nadia_bgw.retention('daily');

    RETURN n_changed;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._quality_checked_schema(name), nadia_bgw._quality_checks_scope(oid[]),
    nadia_bgw._quality_catalog_facts(oid[]), nadia_bgw._quality_checks(timestamptz, oid[])
    FROM PUBLIC;

-- A row of the readers (constraint_violations, referential_integrity):
-- its columns are stable, the MCP tools return them.
CREATE TYPE nadia_bgw.quality_fact AS (
    fact_id bigint, kind text, relid oid, schemaname name, relname name,
    objid oid, objname name, columns name[], ref_schemaname name,
    ref_relname name, detail text, first_seen timestamptz,
    last_seen timestamptz, resolved_at timestamptz, counted_rows bigint,
    count_exact boolean, count_error_bound double precision,
    counted_at timestamptz);

-- The episodes of the given kinds open at any time in [since, until]:
-- seen at or before until, and not resolved at or before since.  An open
-- row's last_seen is the latest check.
CREATE FUNCTION nadia_bgw._quality_facts_in(since timestamptz, until timestamptz, kinds text[])
RETURNS SETOF nadia_bgw.quality_fact
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT q.fact_id, q.kind, q.relid, q.schemaname, q.relname, q.objid, q.objname,
           q.columns, q.ref_schemaname, q.ref_relname, q.detail, q.first_seen,
           CASE WHEN q.resolved_at IS NULL
                THEN greatest((SELECT s.checked_at FROM nadia_bgw.quality_checks_state s),
                              q.first_seen)
                ELSE q.last_seen END,
           q.resolved_at, q.counted_rows, q.count_exact, q.count_error_bound, q.counted_at
      FROM nadia_bgw.quality_facts q
     WHERE q.kind = ANY (kinds)
       AND q.first_seen <= until
       AND (q.resolved_at IS NULL OR q.resolved_at > since)
     ORDER BY q.schemaname, q.relname, q.kind, q.objname, q.first_seen
$$;

-- constraint_violations: NOT VALID check and NOT NULL constraints,
-- invalid indexes, disabled triggers (user triggers, and the internal
-- triggers of deferrable unique and exclusion constraints)
CREATE FUNCTION nadia_bgw.constraint_violations(
    since timestamptz DEFAULT now() - interval '1 day',
    until timestamptz DEFAULT now())
RETURNS SETOF nadia_bgw.quality_fact
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM nadia_bgw._quality_facts_in(since, until,
        ARRAY['not_valid_check', 'not_valid_not_null', 'invalid_index',
              'disabled_trigger', 'disabled_constraint_trigger'])
$$;

-- referential_integrity: NOT VALID foreign keys, foreign keys whose
-- internal triggers are disabled, foreign keys without a usable index
CREATE FUNCTION nadia_bgw.referential_integrity(
    since timestamptz DEFAULT now() - interval '1 day',
    until timestamptz DEFAULT now())
RETURNS SETOF nadia_bgw.quality_fact
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM nadia_bgw._quality_facts_in(since, until,
        ARRAY['not_valid_foreign_key', 'disabled_fk_trigger', 'unindexed_foreign_key'])
$$;

REVOKE ALL ON FUNCTION nadia_bgw._quality_facts_in(timestamptz, timestamptz, text[]),
    nadia_bgw.constraint_violations(timestamptz, timestamptz),
    nadia_bgw.referential_integrity(timestamptz, timestamptz)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nadia_bgw._quality_facts_in(timestamptz, timestamptz, text[]),
    nadia_bgw.constraint_violations(timestamptz, timestamptz),
    nadia_bgw.referential_integrity(timestamptz, timestamptz)
TO nadia_bgw_reader;
