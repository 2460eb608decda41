-- nadia_bgw 1.0 -> 1.1 -- rollups: change capture on the source table.
--
-- Installing and removing the capture triggers of a rollup, from its
-- catalog row; create_rollup() and drop_rollup() call these.

CREATE FUNCTION nadia_bgw._rollup_install_capture(rid integer)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    r           nadia_bgw.rollup;
    cols        text;
    usecs       bigint;
    origin_us   bigint;
    saved_path  text := current_setting('search_path');
BEGIN
    SELECT * INTO STRICT r FROM nadia_bgw.rollup WHERE id = rid;
    -- the trigger's bucket arithmetic, in microseconds (see rollup_capture.c)
    usecs := (extract(epoch FROM r.bucket) * 1000000)::bigint;
    origin_us := CASE WHEN r.local_days THEN 172800000000   -- 2000-01-03 00:00 local
                      ELSE (extract(epoch FROM r.origin - '2000-01-01 00:00+00'::timestamptz) * 1000000)::bigint END;
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

    -- change capture: a C row trigger firing after the application's own
    -- BEFORE triggers (names sort last), and TRUNCATE
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE OF %s OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION nadia_bgw.rollup_capture(%L, %L, %L, %L, %L, %L, %L)',
                   'zz_nadia_bgw_rollup_' || rid, cols, r.source,
                   rid, r.uid, r.time_column, CASE WHEN r.local_days THEN 'local' ELSE 'abs' END,
                   usecs, origin_us, r.timezone);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION nadia_bgw.rollup_capture(%L, %L, %L, %L, %L, %L, %L)',
                   'zz_nadia_bgw_rollup_' || rid || '_truncate', r.source,
                   rid, r.uid, r.time_column, CASE WHEN r.local_days THEN 'local' ELSE 'abs' END,
                   usecs, origin_us, r.timezone);

    PERFORM set_config('search_path', saved_path, true);
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_install_capture(integer) FROM PUBLIC;

CREATE FUNCTION nadia_bgw._rollup_remove_capture(rid integer)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    r nadia_bgw.rollup;
BEGIN
    SELECT * INTO STRICT r FROM nadia_bgw.rollup WHERE id = rid;
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'zz_nadia_bgw_rollup_' || r.id, r.source);
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'zz_nadia_bgw_rollup_' || r.id || '_truncate', r.source);
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_remove_capture(integer) FROM PUBLIC;
