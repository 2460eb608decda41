-- nadia_bgw 1.0 -> 1.1 -- rollups: change capture on the source table.
--
-- Installing and removing the capture triggers of a rollup, from its
-- catalog row; create_rollup() and drop_rollup() call these.  The
-- triggers are bound to the source by OID and to the time column by
-- attnum (renames change nothing), fire ALWAYS (also under
-- session_replication_role = replica: subscribers, restores), and never
-- make an application write fail (worker/rollup_capture.c).  An event
-- trigger notices DDL that stops capture (DROP, DISABLE TRIGGER) when it
-- happens; nadia_bgw.rollups reports a rollup that can no longer be
-- maintained as broken.  docs/rollups.md, "Capture and DDL".

-- Rollups whose capture trigger was found disabled by DDL: writes since
-- "since" were not captured, so when capture is enabled again the rollup
-- is recomputed in full.  Insert-only from the event trigger (no foreign
-- key, which would lock the rollup row a refresh holds); drop_rollup
-- removes a rollup's row through _rollup_remove_capture.
CREATE TABLE nadia_bgw.rollup_capture_gap (
    rollup_id   integer PRIMARY KEY,
    since       timestamptz NOT NULL,
    reason      text NOT NULL
);
REVOKE ALL ON nadia_bgw.rollup_capture_gap FROM PUBLIC;

CREATE FUNCTION nadia_bgw._rollup_capture_errors(rollup_id integer, uid bigint)
RETURNS bigint
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_capture_errors';
REVOKE ALL ON FUNCTION nadia_bgw._rollup_capture_errors(integer, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nadia_bgw._rollup_capture_errors(integer, bigint) TO nadia_bgw_reader;

-- The two capture triggers of a rollup, for an UPDATE OF column list:
-- named to fire after the application's own BEFORE triggers, and ENABLE
-- ALWAYS.  Arguments: see worker/rollup_capture.c.
CREATE FUNCTION nadia_bgw._rollup_capture_triggers(rid integer, cols text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r           nadia_bgw.rollup;
    usecs       bigint;
    origin_us   bigint;
    attnum      smallint;
    args        text;
BEGIN
    SELECT * INTO STRICT r FROM nadia_bgw.rollup WHERE id = rid;
    -- the trigger's bucket arithmetic, in microseconds
    usecs := (extract(epoch FROM r.bucket) * 1000000)::bigint;
    origin_us := CASE WHEN r.local_days THEN 172800000000   -- 2000-01-03 00:00 local
                      ELSE (extract(epoch FROM r.origin - '2000-01-01 00:00+00'::timestamptz) * 1000000)::bigint END;
    SELECT a.attnum INTO STRICT attnum FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = r.source AND a.attname = r.time_column AND NOT a.attisdropped;
    args := format('%L, %L, %L, %L, %L, %L, %L, %L, %L',
                   rid, r.uid, r.time_column, CASE WHEN r.local_days THEN 'local' ELSE 'abs' END,
                   usecs, origin_us, r.timezone, r.source::oid, attnum);
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE OF %s OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION nadia_bgw.rollup_capture(%s)',
                   'zz_nadia_bgw_rollup_' || rid, cols, r.source, args);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION nadia_bgw.rollup_capture(%s)',
                   'zz_nadia_bgw_rollup_' || rid || '_truncate', r.source, args);
    EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I, ENABLE ALWAYS TRIGGER %I', r.source,
                   'zz_nadia_bgw_rollup_' || rid, 'zz_nadia_bgw_rollup_' || rid || '_truncate');
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_capture_triggers(integer, text) FROM PUBLIC;

CREATE FUNCTION nadia_bgw._rollup_install_capture(rid integer)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    r           nadia_bgw.rollup;
    cols        text;
    saved_path  text := current_setting('search_path');
BEGIN
    SELECT * INTO STRICT r FROM nadia_bgw.rollup WHERE id = rid;
    PERFORM set_config('search_path', r.search_path, true);
    -- which columns the rollup reads: UPDATEs of other columns need no capture
    EXECUTE format('CREATE TEMP VIEW nadia_bgw_rollup_cols_%s AS %s', rid,
                   replace(replace(r.query, '$1', '''-infinity''::timestamptz'), '$2', '''infinity''::timestamptz'));
    SELECT string_agg(DISTINCT quote_ident(a.attname), ', ') INTO cols
      FROM pg_catalog.pg_depend d
      JOIN pg_catalog.pg_rewrite w ON w.oid = d.objid AND d.classid = 'pg_catalog.pg_rewrite'::regclass
      JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
     WHERE w.ev_class = format('pg_temp.%I', 'nadia_bgw_rollup_cols_' || rid)::regclass
       AND d.refobjid = r.source AND d.refobjsubid > 0;
    EXECUTE format('DROP VIEW pg_temp.%I', 'nadia_bgw_rollup_cols_' || rid);
    PERFORM set_config('search_path', saved_path, true);

    PERFORM nadia_bgw._rollup_capture_triggers(rid, cols);
    -- what our own code made: the refresh compares with it (57_capture_verify.sql)
    PERFORM nadia_bgw._rollup_capture_record(rid);
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_install_capture(integer) FROM PUBLIC;

-- Remove a rollup's capture.  A source that was dropped took its triggers
-- with it: nothing to do then (drop_rollup must still work).
CREATE FUNCTION nadia_bgw._rollup_remove_capture(rid integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r nadia_bgw.rollup;
BEGIN
    SELECT * INTO STRICT r FROM nadia_bgw.rollup WHERE id = rid;
    -- the event trigger stays quiet about what this transaction removes on purpose
    PERFORM set_config('nadia_bgw_capture.dropping',
                       concat_ws(',', nullif(current_setting('nadia_bgw_capture.dropping', true), ''), rid), true);
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = r.source) THEN
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'zz_nadia_bgw_rollup_' || r.id, r.source);
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'zz_nadia_bgw_rollup_' || r.id || '_truncate', r.source);
    END IF;
    DELETE FROM nadia_bgw.rollup_capture_gap WHERE rollup_id = rid;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_remove_capture(integer) FROM PUBLIC;

-- The state of a rollup's capture triggers over its source's partition
-- tree: 'missing', 'disabled', 'not_always' or 'always'.  (The tree of a
-- table that is not partitioned is empty, hence the source itself.)
CREATE FUNCTION nadia_bgw._rollup_capture_state(rid integer, source regclass)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN count(*) FILTER (WHERE t.tgrelid = source) < 2 THEN 'missing'
        WHEN bool_or(t.tgenabled = 'D') THEN 'disabled'
        WHEN bool_or(t.tgenabled <> 'A') THEN 'not_always'
        ELSE 'always' END
      FROM pg_catalog.pg_trigger t
     WHERE (t.tgrelid = source
            OR t.tgrelid IN (SELECT p.relid FROM pg_catalog.pg_partition_tree(source) p))
       AND t.tgname IN ('zz_nadia_bgw_rollup_' || rid, 'zz_nadia_bgw_rollup_' || rid || '_truncate')
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_capture_state(integer, regclass) FROM PUBLIC;

-- Why a rollup can no longer be maintained, or NULL.  Read from the
-- catalogs each time (not a flag that could be lost or go stale).
CREATE FUNCTION nadia_bgw._rollup_broken_reason(rid integer)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r       nadia_bgw.rollup;
BEGIN
    SELECT * INTO r FROM nadia_bgw.rollup WHERE id = rid;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = r.source) THEN
        RETURN 'source table dropped';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = r.target) THEN
        RETURN 'rollup table dropped';
    END IF;
    RETURN CASE nadia_bgw._rollup_capture_state(rid, r.source)
        WHEN 'missing' THEN 'capture trigger dropped'
        WHEN 'disabled' THEN 'capture trigger disabled'
        WHEN 'not_always' THEN 'capture trigger not ENABLE ALWAYS' END;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_broken_reason(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nadia_bgw._rollup_broken_reason(integer) TO nadia_bgw_reader;

-- Event trigger, ddl_command_end: after ALTER TABLE (or any command) on a
-- rollup's source or one of its partitions,
--	- capture disabled (DISABLE TRIGGER name / USER / ALL): remember the gap;
--	- capture set to fire on origin or replica only (a plain ENABLE
--	  TRIGGER, ENABLE TRIGGER ALL after pg_restore --disable-triggers):
--	  set back to ALWAYS;
--	- capture enabled after a gap: log (-infinity, infinity), so the next
--	  refresh recomputes what the disabled trigger did not see.
-- Runs as the extension owner (it changes our triggers on tables the DDL's
-- user may not own) with a pinned search path, and never fails the
-- application's DDL: any error is a WARNING.
CREATE FUNCTION nadia_bgw._rollup_ddl_end()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r       record;
    t       record;
    state   text;
BEGIN
    IF pg_catalog.to_regclass('nadia_bgw.rollup') IS NULL
       OR NOT EXISTS (SELECT 1 FROM nadia_bgw.rollup) THEN
        RETURN;
    END IF;
    FOR r IN
        SELECT DISTINCT ro.id, ro.name, ro.source
          FROM pg_catalog.pg_event_trigger_ddl_commands() c
          JOIN nadia_bgw.rollup ro
            ON ro.source::oid = c.objid
            OR ro.source IN (SELECT a.relid FROM pg_catalog.pg_partition_ancestors(c.objid) a)
         WHERE c.classid = 'pg_catalog.pg_class'::regclass
           AND EXISTS (SELECT 1 FROM pg_catalog.pg_class s WHERE s.oid = ro.source)
    LOOP
        BEGIN
            state := nadia_bgw._rollup_capture_state(r.id, r.source);
            IF state = 'disabled' THEN
                INSERT INTO nadia_bgw.rollup_capture_gap (rollup_id, since, reason)
                VALUES (r.id, now(), 'capture trigger disabled')
                ON CONFLICT (rollup_id) DO NOTHING;
                RAISE WARNING 'nadia_bgw: change capture of rollup "%" is disabled', r.name
                    USING DETAIL = 'Writes to ' || r.source::text || ' are not captured while its trigger is disabled.',
                          HINT = 'Enable the trigger again; the next refresh then recomputes the whole rollup.';
                CONTINUE;
            END IF;
            IF state = 'not_always' THEN
                FOR t IN SELECT tg.tgrelid::regclass AS rel, tg.tgname
                           FROM pg_catalog.pg_trigger tg
                          WHERE (tg.tgrelid = r.source
                                 OR tg.tgrelid IN (SELECT p.relid FROM pg_catalog.pg_partition_tree(r.source) p))
                            AND tg.tgname IN ('zz_nadia_bgw_rollup_' || r.id, 'zz_nadia_bgw_rollup_' || r.id || '_truncate')
                            AND tg.tgenabled IN ('O', 'R')
                LOOP
                    EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', t.rel, t.tgname);
                END LOOP;
                state := nadia_bgw._rollup_capture_state(r.id, r.source);
            END IF;
            IF state = 'always' THEN
                DELETE FROM nadia_bgw.rollup_capture_gap WHERE rollup_id = r.id;
                IF FOUND THEN
                    INSERT INTO nadia_bgw.rollup_invalidation (rollup_id, lo, hi, logged_at)
                    VALUES (r.id, '-infinity', 'infinity', now());
                    RAISE NOTICE 'nadia_bgw: change capture of rollup "%" enabled again; its next refresh recomputes every bucket', r.name;
                END IF;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'nadia_bgw: could not check the change capture of rollup "%": %', r.name, SQLERRM
                USING HINT = 'SELECT broken, broken_reason FROM nadia_bgw.rollups shows its state.';
        END;
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'nadia_bgw: could not check rollups after DDL: %', SQLERRM;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_ddl_end() FROM PUBLIC;

-- Event trigger, sql_drop: a rollup's source, table or capture trigger was
-- dropped (DROP TABLE, DROP TRIGGER, DROP COLUMN ... CASCADE): the rollup
-- can no longer be maintained.  Say so now, in the session that did it;
-- nadia_bgw.rollups reports it as broken from the catalogs, and
-- drop_rollup() still works.  Quiet about what drop_rollup() itself drops.
CREATE FUNCTION nadia_bgw._rollup_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r       record;
    quiet   integer[];
BEGIN
    IF pg_catalog.to_regclass('nadia_bgw.rollup') IS NULL
       OR NOT EXISTS (SELECT 1 FROM nadia_bgw.rollup) THEN
        RETURN;
    END IF;
    quiet := string_to_array(nullif(current_setting('nadia_bgw_capture.dropping', true), ''), ',')::integer[];
    FOR r IN
        SELECT DISTINCT ON (ro.id) ro.id, ro.name,
               CASE WHEN d.objid = ro.source::oid THEN 'its source table ' || d.object_identity
                    WHEN d.objid = ro.target::oid THEN 'its table ' || d.object_identity
                    ELSE 'its capture trigger ' || d.object_identity END AS what
          FROM pg_catalog.pg_event_trigger_dropped_objects() d
          JOIN nadia_bgw.rollup ro
            ON (d.classid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0
                AND d.objid IN (ro.source::oid, ro.target::oid))
            OR (d.classid = 'pg_catalog.pg_trigger'::regclass
                AND d.object_identity ~ ('^zz_nadia_bgw_rollup_' || ro.id || '(_truncate)? on '))
         WHERE NOT (ro.id = ANY (coalesce(quiet, '{}')))
         ORDER BY ro.id
    LOOP
        RAISE WARNING 'nadia_bgw: rollup "%" can no longer be maintained: % was dropped', r.name, r.what
            USING DETAIL = 'Its table is no longer kept up to date; nadia_bgw.rollups shows it as broken.',
                  HINT = 'Drop it with nadia_bgw.drop_rollup() and create it again.';
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'nadia_bgw: could not check rollups after DROP: %', SQLERRM;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_sql_drop() FROM PUBLIC;

-- Existing rollups: capture triggers re-made with the source OID and the
-- time column's attnum, ENABLE ALWAYS.  Version 1.0 triggers fired on
-- origin only: on a subscriber, or if the trigger was disabled, writes may
-- have escaped capture, so those rollups are recomputed in full.
DO $$
DECLARE
    r           record;
    cols        text;
    was         "char";
    subscriber  boolean;
BEGIN
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_subscription s
                    WHERE s.subdbid = (SELECT oid FROM pg_catalog.pg_database
                                        WHERE datname = current_database()))
      INTO subscriber;
    FOR r IN SELECT ro.id, ro.source FROM nadia_bgw.rollup ro
              WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = ro.source)
              ORDER BY ro.id LOOP
        SELECT t.tgenabled,
               (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
                  FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = t.tgrelid AND a.attnum = ANY (t.tgattr::smallint[]))
          INTO was, cols
          FROM pg_catalog.pg_trigger t
         WHERE t.tgrelid = r.source AND t.tgname = 'zz_nadia_bgw_rollup_' || r.id;
        CONTINUE WHEN cols IS NULL;     -- capture already gone: reported as broken
        -- a time column renamed under 1.0 (its trigger then logs everything)
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a, nadia_bgw.rollup ro
                                   WHERE ro.id = r.id AND a.attrelid = ro.source
                                     AND a.attname = ro.time_column AND NOT a.attisdropped);
        PERFORM nadia_bgw._rollup_remove_capture(r.id);
        PERFORM nadia_bgw._rollup_capture_triggers(r.id, cols);
        IF was <> 'O' OR subscriber THEN
            INSERT INTO nadia_bgw.rollup_invalidation (rollup_id, lo, hi, logged_at)
            VALUES (r.id, '-infinity', 'infinity', now());
        END IF;
    END LOOP;
END
$$;

CREATE EVENT TRIGGER nadia_bgw_rollup_ddl ON ddl_command_end
    EXECUTE FUNCTION nadia_bgw._rollup_ddl_end();
CREATE EVENT TRIGGER nadia_bgw_rollup_drop ON sql_drop
    EXECUTE FUNCTION nadia_bgw._rollup_sql_drop();
-- like the capture triggers: also under session_replication_role = replica
ALTER EVENT TRIGGER nadia_bgw_rollup_ddl ENABLE ALWAYS;
ALTER EVENT TRIGGER nadia_bgw_rollup_drop ENABLE ALWAYS;

-- What the refresh last verified of capture (57_capture_verify.sql):
-- capture_seen is {"<pg_trigger oid>": "<xmin>:<cmin>"} of the capture
-- trigger rows, and {"rel <oid>": "<relfilenode>"} of each partition of a
-- partitioned source (NULL: never; the next refresh recomputes in full).
-- capture_bypasses counts the refreshes that found them changed with no
-- recompute logged, and recomputed everything.
ALTER TABLE nadia_bgw.rollup
    ADD COLUMN capture_seen jsonb,
    ADD COLUMN capture_bypasses bigint NOT NULL DEFAULT 0;

-- nadia_bgw.rollups as in 1.0, plus whether the rollup can still be
-- maintained, how many rows capture failed on, and how many times capture
-- was found bypassed.
CREATE OR REPLACE VIEW nadia_bgw.rollups AS
SELECT r.name,
       r.source,
       r.time_column,
       r.bucket,
       r.timezone,
       r.horizon,
       r.bucket_column,
       r.group_by,
       coalesce(h.threshold, r.threshold) AS threshold,
       coalesce(i.pending, 0) AS pending_invalidations,
       coalesce(h.hot_pending, false) AS hot_changes_pending,
       least(i.oldest, h.oldest_hot_change) AS oldest_pending_change,
       now() - least(i.oldest, h.oldest_hot_change) AS lag,
       r.last_refresh_at,
       r.last_refresh_ms,
       r.last_buckets AS last_buckets_recomputed,
       r.refreshes,
       r.buckets_recomputed,
       r.failures,
       r.last_error,
       r.created_at,
       b.reason IS NOT NULL AS broken,
       b.reason AS broken_reason,
       coalesce(nadia_bgw._rollup_capture_errors(r.id, r.uid), 0) AS capture_errors,
       r.capture_bypasses
  FROM nadia_bgw.rollup r
  LEFT JOIN LATERAL (SELECT count(*) AS pending, min(v.logged_at) AS oldest
                       FROM nadia_bgw.rollup_invalidation v
                      WHERE v.rollup_id = r.id) i ON true
  LEFT JOIN LATERAL nadia_bgw._rollup_hot_state(r.id, r.uid) h ON true
  LEFT JOIN LATERAL (SELECT nadia_bgw._rollup_broken_reason(r.id) AS reason) b ON true;
