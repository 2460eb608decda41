-- nadia_bgw 1.0 -> 1.1 -- rollups: capture changed behind the event triggers.
--
-- The event triggers of 55_rollup_capture.sql see DISABLE/ENABLE TRIGGER
-- of our capture triggers when it happens, but event triggers do not fire
-- in single-user mode (postgres --single), with event_triggers = off (a
-- superuser, PostgreSQL 17+), nor for an UPDATE of pg_trigger by hand:
-- "DISABLE TRIGGER; INSERT; ENABLE ALWAYS TRIGGER" made there would leave
-- the rollup silently wrong.
--
-- Every change of a pg_trigger row writes a new row version, with the
-- writing transaction's xid as xmin and the command's id as cmin.  So each
-- rollup keeps, as last verified, the (xmin, cmin) of each of its capture
-- trigger rows, and every refresh (worker and refresh_rollup()) compares
-- before it computes: a row version it did not see is a change whose
-- writes capture may have missed, and unless a full recompute is already
-- logged for it (the event trigger did its job), the refresh logs one.
-- The xmin column is the raw xmin, also once frozen (heap_getsysattr reads
-- HeapTupleHeaderGetRawXmin), and a rewrite of pg_trigger (VACUUM FULL)
-- keeps it: neither causes a recompute.  What changes a row version
-- without a write being missed (pg_upgrade, an aborted DISABLE TRIGGER,
-- whose deleter overwrote cmin) costs one needless full recompute.
-- docs/rollups.md, "Capture and DDL"; docs/security.md, section 4.

-- The record is nadia_bgw.rollup.capture_seen, and the count of changes
-- found nadia_bgw.rollup.capture_bypasses (columns added by
-- 55_rollup_capture.sql, whose rollups view shows the count).
-- TRUNCATE of one partition fires no trigger of ours (PostgreSQL does not
-- clone statement-level triggers onto partitions) but gives the partition
-- a new relfilenode, which the record keeps too.

-- The capture trigger rows of rollup rid over its source's partition tree
-- (as nadia_bgw._rollup_capture_state reads them), each with its row
-- version and whether it can be trusted without a previous record: a
-- trigger PostgreSQL cloned onto a partition made in the same transaction
-- as that partition (CREATE TABLE ... PARTITION OF: no row escaped it).  A
-- clone onto a table that existed before (ATTACH PARTITION) is not: the
-- rows it brought were never captured.
CREATE FUNCTION nadia_bgw._rollup_capture_rows(rid integer, source regclass,
                                               OUT tgoid oid, OUT version text,
                                               OUT born_with_partition boolean)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.oid, t.xmin::text || ':' || t.cmin::text,
           coalesce(t.tgrelid <> source AND t.tgparentid <> 0 AND t.xmin = ty.xmin, false)
      FROM pg_catalog.pg_trigger t
      JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
      LEFT JOIN pg_catalog.pg_type ty ON ty.oid = c.reltype
     WHERE (t.tgrelid = source
            OR t.tgrelid IN (SELECT p.relid FROM pg_catalog.pg_partition_tree(source) p))
       AND t.tgname IN ('zz_nadia_bgw_rollup_' || rid, 'zz_nadia_bgw_rollup_' || rid || '_truncate')
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_capture_rows(integer, regclass) FROM PUBLIC;

-- Those rows' versions as a jsonb object {"<oid>": "<xmin>:<cmin>"}, and
-- the relfilenode of each partition with storage {"rel <oid>": "<n>"}.
CREATE FUNCTION nadia_bgw._rollup_capture_seen(rid integer, source regclass)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT pg_catalog.jsonb_object_agg(c.tgoid::text, c.version)
                       FROM nadia_bgw._rollup_capture_rows(rid, source) c), '{}')
        || coalesce((SELECT pg_catalog.jsonb_object_agg('rel ' || k.oid, k.relfilenode::text)
                       FROM pg_catalog.pg_partition_tree(source) p
                       JOIN pg_catalog.pg_class k ON k.oid = p.relid
                      WHERE p.relid <> source AND k.relkind = 'r'), '{}')
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_capture_seen(integer, regclass) FROM PUBLIC;

-- Record the capture trigger rows of rollup rid as they are now: called
-- where our own code installs capture (nadia_bgw._rollup_install_capture),
-- and by the refresh once it has dealt with a change.
CREATE FUNCTION nadia_bgw._rollup_capture_record(rid integer)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE nadia_bgw.rollup r
       SET capture_seen = nadia_bgw._rollup_capture_seen(r.id, r.source)
     WHERE r.id = rid
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_capture_record(integer) FROM PUBLIC;

-- Called by the refresh (nadia_bgw._rollup_refresh) with the rollup's row
-- locked, before it reads the invalidation log.  Returns whether it logged
-- a full recompute.
CREATE FUNCTION nadia_bgw._rollup_capture_verify(rid integer)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r           nadia_bgw.rollup;
    seen_now    jsonb;
    changed     text;
    state       text;
BEGIN
    SELECT * INTO STRICT r FROM nadia_bgw.rollup WHERE id = rid;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = r.source) THEN
        RETURN false;                   -- reported as broken; the refresh fails on its own
    END IF;
    -- the usual case, nothing changed: one look at the catalogs
    seen_now := nadia_bgw._rollup_capture_seen(rid, r.source);
    IF r.capture_seen = seen_now THEN
        RETURN false;
    END IF;

    -- a row version not seen before: a trigger changed (DISABLE, ENABLE,
    -- UPDATE pg_trigger) or made again on the source (DROP and CREATE
    -- TRIGGER by hand), or cloned onto a partition that existed before
    IF r.capture_seen IS NULL THEN
        changed := 'never recorded';
    ELSE
        SELECT string_agg(CASE WHEN r.capture_seen ? c.tgoid::text THEN 'changed' ELSE 'new' END
                          || ' trigger ' || c.tgoid, ', ' ORDER BY c.tgoid)
          INTO changed
          FROM nadia_bgw._rollup_capture_rows(rid, r.source) c
         WHERE CASE WHEN r.capture_seen ? c.tgoid::text
                    THEN r.capture_seen ->> c.tgoid::text <> c.version
                    ELSE NOT c.born_with_partition END;
        -- a partition known at the last refresh with a new relfilenode:
        -- TRUNCATE of that partition (or VACUUM FULL, CLUSTER, a table
        -- rewrite, which cost a needless recompute).  A partition made
        -- since then is not looked at: the rows it held were captured, and
        -- their buckets are recomputed from what is left.
        SELECT concat_ws(', ', changed,
                         string_agg('partition ' || k.oid::regclass::text || ' rewritten', ', ' ORDER BY k.oid))
          INTO changed
          FROM pg_catalog.jsonb_each_text(r.capture_seen) e
          JOIN pg_catalog.pg_class k ON k.oid = substr(e.key, 5)::oid
         WHERE e.key LIKE 'rel %'
           AND e.value <> k.relfilenode::text;
        changed := nullif(changed, '');
    END IF;
    IF changed IS NULL THEN
        -- a trigger that went away (with its partition) changes nothing;
        -- new partitions' clones are recorded
        UPDATE nadia_bgw.rollup SET capture_seen = seen_now WHERE id = rid;
        RETURN false;
    END IF;

    state := nadia_bgw._rollup_capture_state(rid, r.source);
    PERFORM nadia_bgw._rollup_capture_record(rid);
    -- explained: a full recompute is already logged (the event trigger saw
    -- capture enabled again, or a TRUNCATE), or the event trigger saw
    -- capture disabled and will log one when it is enabled again
    IF EXISTS (SELECT 1 FROM nadia_bgw.rollup_invalidation v
                WHERE v.rollup_id = rid AND NOT isfinite(v.lo) AND NOT isfinite(v.hi))
       OR (state = 'disabled'
           AND EXISTS (SELECT 1 FROM nadia_bgw.rollup_capture_gap g WHERE g.rollup_id = rid)) THEN
        RETURN false;
    END IF;

    INSERT INTO nadia_bgw.rollup_invalidation (rollup_id, lo, hi, logged_at)
    VALUES (rid, '-infinity', 'infinity', now());
    UPDATE nadia_bgw.rollup SET capture_bypasses = capture_bypasses + 1 WHERE id = rid;
    IF state = 'always' THEN
        -- the gap the event trigger remembered is closed by this recompute
        DELETE FROM nadia_bgw.rollup_capture_gap WHERE rollup_id = rid;
    END IF;
    RAISE WARNING 'nadia_bgw: the capture triggers of rollup "%" changed with no recompute logged; recomputing all of it', r.name
        USING DETAIL = format('%s (%s).  DDL in single-user mode or with event_triggers = off, an UPDATE of pg_trigger, '
                              'ATTACH PARTITION of a table that had rows, TRUNCATE of a partition (or its VACUUM FULL or CLUSTER), '
                              'or catalogs made anew (pg_upgrade, restore): '
                              'writes meanwhile may not have been captured.',
                              changed, 'capture now ' || coalesce(state, 'missing')),
              HINT = 'SELECT broken, broken_reason FROM nadia_bgw.rollups says whether capture works now.';
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_capture_verify(integer) FROM PUBLIC;

-- Existing rollups: their capture as the update leaves it (55 re-made the
-- triggers in this transaction).  What happened before the update is not
-- known from the catalogs; 55 recomputes the rollups it knows missed
-- writes.  So no recompute here.
UPDATE nadia_bgw.rollup r
   SET capture_seen = nadia_bgw._rollup_capture_seen(r.id, r.source);
