-- nadia_bgw 1.0 -> 1.1 -- rollups: who may define one, and as whom it runs.
--
-- create_rollup() and drop_rollup() as in 1.0, with change capture moved
-- to nadia_bgw._rollup_install_capture() / _rollup_remove_capture()
-- (sql/1.1/55_rollup_capture.sql), so that capture and definition are
-- owned by separate fragments.

CREATE OR REPLACE FUNCTION nadia_bgw.create_rollup(
    name            text,
    source          regclass,
    time_column     name,
    bucket          interval,
    aggregates      text[],
    group_by        text[] DEFAULT '{}',
    filter          text DEFAULT NULL,
    horizon         interval DEFAULT NULL,
    timezone        text DEFAULT NULL,
    bucket_column   name DEFAULT 'bucket',
    replace_matview boolean DEFAULT false)
RETURNS regclass
LANGUAGE plpgsql
AS $$
DECLARE
    tz          text := coalesce(create_rollup.timezone, current_setting('TimeZone'));
    existing    regclass := to_regclass(create_rollup.name);
    parts       text[];
    tschema     text;
    trel        text;
    target      regclass;
    src_kind    "char";
    src_owner   oid;
    time_type   regtype;
    months      integer;
    days        integer;
    usecs       bigint;
    local_days  boolean;
    origin      timestamptz;
    origin_us   bigint;
    btype       regtype;
    bexpr       text;
    item        text;
    node        text;
    select_list text;
    where_list  text;
    ngroups     integer := coalesce(cardinality(create_rollup.group_by), 0);
    query       text;
    keycols     text;
    rid         integer;
    ruid        bigint;
    mv_owner    oid;
    mv_acl      aclitem[];
    g           record;
    r           nadia_bgw.rollup;
BEGIN
    -- who may: the owner of the source (or a superuser)
    SELECT c.relkind, c.relowner INTO src_kind, src_owner
      FROM pg_catalog.pg_class c WHERE c.oid = create_rollup.source;
    IF src_kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'source "%" is not a table', create_rollup.source
            USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT pg_catalog.pg_has_role(current_user, src_owner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table % to create a rollup on it', create_rollup.source
            USING ERRCODE = 'insufficient_privilege';
    END IF;

    -- the time column
    SELECT a.atttypid::regtype INTO time_type
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = create_rollup.source AND a.attname = create_rollup.time_column
       AND a.attnum > 0 AND NOT a.attisdropped;
    IF time_type IS NULL THEN
        RAISE EXCEPTION 'column "%" of "%" does not exist', create_rollup.time_column, create_rollup.source
            USING ERRCODE = 'undefined_column';
    END IF;
    IF time_type <> 'timestamptz'::regtype THEN
        RAISE EXCEPTION 'time column "%" is of type %, not timestamp with time zone',
                        create_rollup.time_column, time_type
            USING ERRCODE = 'datatype_mismatch';
    END IF;

    -- the time zone
    BEGIN
        PERFORM now() AT TIME ZONE tz;
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'unknown time zone "%"', tz
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use a name from pg_timezone_names, such as UTC or Europe/Madrid.';
    END;

    -- the bucket: whole days (in the time zone) or a fixed width below a day
    months := extract(year FROM bucket)::integer * 12 + extract(month FROM bucket)::integer;
    days := extract(day FROM bucket)::integer;
    usecs := ((extract(epoch FROM bucket) - days * 86400.0) * 1000000)::bigint;
    IF bucket IS NULL OR months <> 0 OR days < 0 OR usecs < 0
       OR (days > 0 AND usecs <> 0) OR (days = 0 AND usecs < 1000000) THEN
        RAISE EXCEPTION 'invalid bucket "%"', bucket
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use a whole number of days (''1 day'', ''7 days'') or a fixed width of at least one second below that (''15 minutes'', ''1 hour'').';
    END IF;
    local_days := days > 0;
    IF horizon IS NOT NULL AND horizon <= interval '0' THEN
        RAISE EXCEPTION 'invalid horizon "%"', horizon
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use a positive interval or NULL (keep everything).';
    END IF;
    origin := '2000-01-03 00:00'::timestamp AT TIME ZONE tz;
    IF local_days THEN
        btype := 'date';
        origin_us := 172800000000;      -- 2000-01-03 00:00 local, from 2000-01-01
        IF days = 1 THEN
            bexpr := format('(%I AT TIME ZONE %L)::date', time_column, tz);
        ELSE
            bexpr := format('date_bin(%L::interval, %I AT TIME ZONE %L, ''2000-01-03 00:00''::timestamp)::date',
                            bucket, time_column, tz);
        END IF;
        usecs := days::bigint * 86400000000;
    ELSE
        btype := 'timestamptz';
        origin_us := (extract(epoch FROM origin - '2000-01-01 00:00+00'::timestamptz) * 1000000)::bigint;
        bexpr := format('date_bin(%L::interval, %I, %L::timestamptz)', bucket, time_column,
                        to_char(origin AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00');
    END IF;

    -- the definition, checked item by item for clear errors
    IF aggregates IS NULL OR cardinality(aggregates) = 0 THEN
        RAISE EXCEPTION 'a rollup needs at least one aggregate'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    select_list := bexpr || ' AS ' || quote_ident(bucket_column);
    FOREACH item IN ARRAY coalesce(group_by, '{}') LOOP
        node := nadia_bgw._rollup_check_expr(source, item, 'group_by expression');
        IF node NOT IN ('Seq Scan', 'Result', 'Index Only Scan', 'Index Scan', 'Bitmap Heap Scan', 'Append', 'Gather') THEN
            RAISE EXCEPTION 'group_by expression "%" must not contain aggregates or window functions', item
                USING ERRCODE = 'grouping_error';
        END IF;
        select_list := select_list || ', ' || item;
    END LOOP;
    FOREACH item IN ARRAY aggregates LOOP
        node := nadia_bgw._rollup_check_expr(source, item, 'aggregate');
        IF node IS DISTINCT FROM 'Aggregate' THEN
            RAISE EXCEPTION 'aggregate "%" is not an aggregate expression', item
                USING ERRCODE = 'grouping_error',
                      HINT = 'Each aggregates element must aggregate over the rows of a bucket, e.g. count(*) or avg(x); put plain columns in group_by.';
        END IF;
        select_list := select_list || ', ' || item;
    END LOOP;
    where_list := format('%I >= $1 AND %I < $2', time_column, time_column);
    IF filter IS NOT NULL THEN
        IF position(';' IN filter) > 0 THEN
            RAISE EXCEPTION 'invalid filter "%"', filter USING ERRCODE = 'invalid_parameter_value';
        END IF;
        BEGIN
            EXECUTE format('EXPLAIN (COSTS OFF) SELECT 1 FROM %s WHERE (%s)', source, filter);
        EXCEPTION WHEN OTHERS THEN
            RAISE EXCEPTION 'invalid filter "%": %', filter, SQLERRM USING ERRCODE = SQLSTATE;
        END;
        where_list := where_list || format(' AND (%s)', filter);
    END IF;
    query := format('SELECT %s FROM %s WHERE %s GROUP BY %s',
                    select_list, source, where_list,
                    (SELECT string_agg(i::text, ', ') FROM generate_series(1, 1 + ngroups) i));

    -- the target: a fresh table, or one replacing a materialized view
    parts := parse_ident(create_rollup.name);
    IF existing IS NOT NULL THEN
        IF replace_matview AND (SELECT relkind FROM pg_catalog.pg_class WHERE oid = existing) = 'm' THEN
            SELECT c.relowner, c.relacl, n.nspname, c.relname INTO mv_owner, mv_acl, tschema, trel
              FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE c.oid = existing;
            EXECUTE format('DROP MATERIALIZED VIEW %s', existing);
        ELSE
            RAISE EXCEPTION 'relation "%" already exists', create_rollup.name
                USING ERRCODE = 'duplicate_table',
                      HINT = CASE WHEN (SELECT relkind FROM pg_catalog.pg_class WHERE oid = existing) = 'm'
                                  THEN 'Pass replace_matview => true to replace the materialized view.'
                                  ELSE 'Choose another name.' END;
        END IF;
    ELSE
        tschema := CASE WHEN cardinality(parts) > 1 THEN parts[cardinality(parts) - 1] ELSE current_schema() END;
        trel := parts[cardinality(parts)];
    END IF;
    IF cardinality(parts) > 2 THEN
        RAISE EXCEPTION 'invalid rollup name "%"', create_rollup.name USING ERRCODE = 'invalid_name';
    END IF;

    EXECUTE format('CREATE TABLE %I.%I AS %s WITH NO DATA', tschema, trel,
                   replace(replace(query, '$1', '''-infinity''::timestamptz'), '$2', '''infinity''::timestamptz'));
    target := format('%I.%I', tschema, trel)::regclass;
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO keycols
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = target AND a.attnum BETWEEN 1 AND 1 + ngroups;
    EXECUTE format('CREATE UNIQUE INDEX %I ON %s (%s)%s', trel || '_key', target, keycols,
                   CASE WHEN current_setting('server_version_num')::integer >= 150000
                        THEN ' NULLS NOT DISTINCT' ELSE '' END);
    IF mv_owner IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s OWNER TO %I', target, mv_owner::regrole::text);
        FOR g IN SELECT a.grantee, a.privilege_type FROM aclexplode(mv_acl) a
                  WHERE a.grantee <> mv_owner LOOP
            EXECUTE format('GRANT %s ON %s TO %s', g.privilege_type, target,
                           CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(g.grantee::regrole::text) END);
        END LOOP;
    END IF;

    ruid := (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
    INSERT INTO nadia_bgw.rollup (uid, name, target, source, time_column, bucket, local_days,
                                  origin, timezone, bucket_column, bucket_type, horizon,
                                  group_by, aggregates, filter, query, search_path)
    VALUES (ruid, format('%I.%I', tschema, trel), target, source, time_column, bucket,
            local_days, origin, tz, bucket_column, btype, horizon,
            coalesce(group_by, '{}'), aggregates, filter, query, current_setting('search_path'))
    RETURNING id INTO rid;

    -- change capture (nadia_bgw._rollup_install_capture)
    PERFORM nadia_bgw._rollup_install_capture(rid);

    -- fill it (the triggers' lock on the source waited for writers in flight)
    SELECT * INTO r FROM nadia_bgw.rollup WHERE id = rid;
    EXECUTE format('INSERT INTO %s %s', target, query)
      USING nadia_bgw._rollup_cutoff(r, nadia_bgw._rollup_bucket_start(r, now())), 'infinity'::timestamptz;
    UPDATE nadia_bgw.rollup
       SET last_cutoff = nadia_bgw._rollup_cutoff(r, nadia_bgw._rollup_bucket_start(r, now())),
           last_refresh_at = now(),
           last_refresh_ms = 1000 * extract(epoch FROM clock_timestamp() - now())
     WHERE id = rid;
    RETURN target;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw.create_rollup(text, regclass, name, interval, text[], text[], text, interval, text, name, boolean) FROM PUBLIC;

CREATE OR REPLACE FUNCTION nadia_bgw.drop_rollup(name text, keep_table boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    r nadia_bgw.rollup;
BEGIN
    SELECT * INTO r FROM nadia_bgw.rollup WHERE id = nadia_bgw._rollup_lookup($1) FOR UPDATE;
    IF NOT pg_catalog.pg_has_role(current_user,
                                  (SELECT relowner FROM pg_catalog.pg_class WHERE oid = r.source), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table % to drop its rollup', r.source
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM nadia_bgw._rollup_remove_capture(r.id);
    IF NOT keep_table AND to_regclass(r.name) = r.target THEN
        EXECUTE format('DROP TABLE %s', r.target);
    END IF;
    DELETE FROM nadia_bgw.rollup_invalidation WHERE rollup_id = r.id;
    DELETE FROM nadia_bgw.rollup WHERE id = r.id;
    PERFORM nadia_bgw._rollup_forget(r.id, r.uid);
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw.drop_rollup(text, boolean) FROM PUBLIC;

