-- nadia_bgw 1.0 -- incremental rollups (worker/rollup*.c, docs/rollups.md).
--
-- A rollup is an ordinary table (one row per time bucket and group) kept
-- equal to
--     SELECT bucket(time), group_by..., aggregates...
--       FROM source WHERE time >= <horizon cutoff> AND (filter)
--      GROUP BY bucket, group_by...
-- by recomputing whole buckets: those that a capture trigger logged below
-- the moving threshold (nadia_bgw.rollup_invalidation), plus the hot
-- buckets at or above the threshold when a transaction wrote there.

-- One row per rollup.
CREATE TABLE nadia_bgw.rollup (
    id                  serial PRIMARY KEY,
    uid                 bigint NOT NULL,            -- tells re-created rollups apart in shared memory
    name                text NOT NULL UNIQUE,       -- schema-qualified target table
    target              regclass NOT NULL,
    source              regclass NOT NULL,
    time_column         name NOT NULL,
    bucket              interval NOT NULL,
    local_days          boolean NOT NULL,           -- whole days in "timezone" (else fixed width)
    origin              timestamptz NOT NULL,       -- bucket origin of fixed-width buckets
    timezone            text NOT NULL,
    bucket_column       name NOT NULL,
    bucket_type         regtype NOT NULL,           -- date or timestamptz
    horizon             interval,
    group_by            text[] NOT NULL DEFAULT '{}',
    aggregates          text[] NOT NULL,
    filter              text,
    query               text NOT NULL,              -- SELECT ... WHERE time >= $1 AND time < $2 ... GROUP BY
    search_path         text NOT NULL,              -- the creator's, under which query is run
    threshold           timestamptz,                -- persisted invalidation threshold (NULL: none yet)
    last_cutoff         timestamptz,
    owner               name NOT NULL DEFAULT current_user,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_refresh_at     timestamptz,
    last_refresh_ms     double precision,
    last_buckets        integer,
    refreshes           bigint NOT NULL DEFAULT 0,
    buckets_recomputed  bigint NOT NULL DEFAULT 0,
    failures            bigint NOT NULL DEFAULT 0,
    last_error          text
);
REVOKE ALL ON nadia_bgw.rollup FROM PUBLIC;

-- Changes below a rollup's threshold, written by the capture trigger in the
-- writer's transaction.  No index on purpose: the trigger inserts with
-- heap_insert() (no privileges needed, no executor), and the refresh reads
-- and deletes all of a rollup's rows at once.
CREATE TABLE nadia_bgw.rollup_invalidation (
    rollup_id   integer NOT NULL,
    lo          timestamptz NOT NULL,
    hi          timestamptz NOT NULL,
    logged_at   timestamptz NOT NULL
);
REVOKE ALL ON nadia_bgw.rollup_invalidation FROM PUBLIC;

CREATE FUNCTION nadia_bgw.rollup_capture()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_capture';
REVOKE ALL ON FUNCTION nadia_bgw.rollup_capture() FROM PUBLIC;

CREATE FUNCTION nadia_bgw._rollup_hot_begin(rollup_id integer, uid bigint,
                                            new_threshold timestamptz,
                                            persisted timestamptz,
                                            OUT hot_from timestamptz,
                                            OUT keep_threshold timestamptz)
RETURNS record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_hot_begin';
REVOKE ALL ON FUNCTION nadia_bgw._rollup_hot_begin(integer, bigint, timestamptz, timestamptz) FROM PUBLIC;

CREATE FUNCTION nadia_bgw._rollup_hot_state(rollup_id integer, uid bigint,
                                            OUT threshold timestamptz,
                                            OUT hot_pending boolean,
                                            OUT oldest_hot_change timestamptz,
                                            OUT hot_registrations bigint)
RETURNS record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_hot_state';
REVOKE ALL ON FUNCTION nadia_bgw._rollup_hot_state(integer, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nadia_bgw._rollup_hot_state(integer, bigint) TO nadia_bgw_reader;

CREATE FUNCTION nadia_bgw._rollup_forget(rollup_id integer, uid bigint)
RETURNS boolean
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_forget';
REVOKE ALL ON FUNCTION nadia_bgw._rollup_forget(integer, bigint) FROM PUBLIC;

-- Start of the bucket that contains ts.
CREATE FUNCTION nadia_bgw._rollup_bucket_start(r nadia_bgw.rollup, ts timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN NOT isfinite(ts) THEN ts
        WHEN r.local_days
        THEN date_bin(r.bucket, ts AT TIME ZONE r.timezone,
                      '2000-01-03 00:00'::timestamp) AT TIME ZONE r.timezone
        ELSE date_bin(r.bucket, ts, r.origin)
    END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_bucket_start(nadia_bgw.rollup, timestamptz) FROM PUBLIC;

-- Start of the bucket after the one starting at s.
CREATE FUNCTION nadia_bgw._rollup_next(r nadia_bgw.rollup, s timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN NOT isfinite(s) THEN s
        WHEN r.local_days THEN ((s AT TIME ZONE r.timezone) + r.bucket) AT TIME ZONE r.timezone
        ELSE s + r.bucket
    END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_next(nadia_bgw.rollup, timestamptz) FROM PUBLIC;

-- The bucket column's value (as text) of the bucket starting at s.
CREATE FUNCTION nadia_bgw._rollup_value(r nadia_bgw.rollup, s timestamptz)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN r.local_days THEN ((s AT TIME ZONE r.timezone)::date)::text
        ELSE s::text
    END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_value(nadia_bgw.rollup, timestamptz) FROM PUBLIC;

-- Starts of the buckets overlapping [lo, hi] (stepping in local time for
-- whole-day buckets, so that DST days stay one bucket each).
CREATE FUNCTION nadia_bgw._rollup_buckets(r nadia_bgw.rollup, lo timestamptz, hi timestamptz)
RETURNS SETOF timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT g AT TIME ZONE z.zone
      FROM (SELECT CASE WHEN r.local_days THEN r.timezone ELSE 'UTC' END AS zone) z,
           generate_series(nadia_bgw._rollup_bucket_start(r, lo) AT TIME ZONE z.zone,
                            nadia_bgw._rollup_bucket_start(r, hi) AT TIME ZONE z.zone,
                            r.bucket) AS g
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_buckets(nadia_bgw.rollup, timestamptz, timestamptz) FROM PUBLIC;

-- Oldest bucket start kept, or -infinity without a horizon.
CREATE FUNCTION nadia_bgw._rollup_cutoff(r nadia_bgw.rollup, now_start timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN r.horizon IS NULL THEN '-infinity'::timestamptz
        WHEN r.local_days
        THEN nadia_bgw._rollup_bucket_start(r,
                 ((now_start AT TIME ZONE r.timezone) - r.horizon) AT TIME ZONE r.timezone)
        ELSE nadia_bgw._rollup_bucket_start(r, now_start - r.horizon)
    END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_cutoff(nadia_bgw.rollup, timestamptz) FROM PUBLIC;

-- Recompute the buckets in [s, e): delete them, insert them from the source.
CREATE FUNCTION nadia_bgw._rollup_recompute(r nadia_bgw.rollup, s timestamptz, e timestamptz)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    EXECUTE format('DELETE FROM %s WHERE %I >= $1::%s AND %I < $2::%s',
                   r.target, r.bucket_column, r.bucket_type,
                   r.bucket_column, r.bucket_type)
      USING nadia_bgw._rollup_value(r, s), nadia_bgw._rollup_value(r, e);
    EXECUTE format('INSERT INTO %s %s', r.target, r.query) USING s, e;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_recompute(nadia_bgw.rollup, timestamptz, timestamptz) FROM PUBLIC;

-- The refresh of one rollup: what refresh_rollup() and the worker run.
-- Returns the number of buckets recomputed, or NULL when skip_locked and
-- another session is refreshing it.  as_of (tests only) stands in for
-- now() when placing the threshold and the horizon, to simulate midnight.
CREATE FUNCTION nadia_bgw._rollup_refresh(rid integer, skip_locked boolean,
                                          as_of timestamptz DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r           nadia_bgw.rollup;
    t0          timestamptz := clock_timestamp();
    now_start   timestamptz;
    cutoff      timestamptz;
    hot         record;
    hot_start   timestamptz;
    full_range  boolean;
    buckets     timestamptz[];
    b           timestamptz;
    run_start   timestamptz;
    run_end     timestamptz;
    n           integer := 0;
    nhot        integer;
    horizon_moved boolean;
    saved_path  text := current_setting('search_path');
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'a rollup refresh must run at READ COMMITTED isolation'
            USING ERRCODE = 'active_sql_transaction',
                  HINT = 'Each recompute must see what committed before it started; run refresh_rollup() outside REPEATABLE READ or SERIALIZABLE transactions.';
    END IF;

    IF skip_locked THEN
        SELECT * INTO r FROM nadia_bgw.rollup WHERE id = rid FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
    ELSE
        SELECT * INTO r FROM nadia_bgw.rollup WHERE id = rid FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'rollup % does not exist', rid USING ERRCODE = 'undefined_object';
        END IF;
    END IF;

    now_start := nadia_bgw._rollup_bucket_start(r, coalesce(as_of, now()));
    cutoff := nadia_bgw._rollup_cutoff(r, now_start);

    -- hot buckets: did a transaction write at or above the threshold?
    SELECT * INTO hot FROM nadia_bgw._rollup_hot_begin(r.id, r.uid, now_start, r.threshold);

    -- cold buckets: what the capture trigger logged (and committed)
    WITH d AS (
        DELETE FROM nadia_bgw.rollup_invalidation WHERE rollup_id = r.id
        RETURNING lo, hi
    )
    SELECT coalesce(bool_or(NOT isfinite(lo) OR NOT isfinite(hi)), false),
           array_agg(DISTINCT s ORDER BY s)
             FILTER (WHERE s IS NOT NULL)
      INTO full_range, buckets
      FROM d
      LEFT JOIN LATERAL nadia_bgw._rollup_buckets(
                 r,
                 CASE WHEN isfinite(d.lo) AND isfinite(d.hi) AND d.hi >= cutoff
                      THEN greatest(d.lo, cutoff) END,
                 CASE WHEN isfinite(d.lo) AND isfinite(d.hi) AND d.hi >= cutoff
                      THEN d.hi END) AS s ON true;

    hot_start := CASE WHEN hot.hot_from IS NULL THEN NULL
                      ELSE greatest(nadia_bgw._rollup_bucket_start(r, hot.hot_from), cutoff) END;
    IF full_range THEN
        hot_start := cutoff;            -- TRUNCATE: everything
    END IF;
    horizon_moved := r.horizon IS NOT NULL AND cutoff IS DISTINCT FROM r.last_cutoff;

    IF hot_start IS NULL AND buckets IS NULL AND NOT horizon_moved
       AND hot.keep_threshold IS NOT DISTINCT FROM r.threshold THEN
        RETURN 0;                       -- nothing changed: no write at all
    END IF;

    -- the user's expressions run under the creator's search_path
    PERFORM set_config('search_path', r.search_path, true);

    FOREACH b IN ARRAY coalesce(buckets, '{}') LOOP
        CONTINUE WHEN hot_start IS NOT NULL AND b >= hot_start;
        IF run_start IS NULL THEN
            run_start := b;
        ELSIF b <> run_end THEN
            PERFORM nadia_bgw._rollup_recompute(r, run_start, run_end);
            run_start := b;
        END IF;
        run_end := nadia_bgw._rollup_next(r, b);
        n := n + 1;
    END LOOP;
    IF run_start IS NOT NULL THEN
        PERFORM nadia_bgw._rollup_recompute(r, run_start, run_end);
    END IF;

    IF hot_start IS NOT NULL THEN
        PERFORM nadia_bgw._rollup_recompute(r, hot_start, 'infinity');
        EXECUTE format('SELECT count(DISTINCT %I)::integer FROM %s WHERE %I >= $1::%s',
                       r.bucket_column, r.target, r.bucket_column, r.bucket_type)
          INTO nhot USING nadia_bgw._rollup_value(r, hot_start);
        -- an emptied bucket was recomputed too
        n := n + greatest(nhot, 1);
    END IF;

    IF horizon_moved AND isfinite(cutoff) THEN
        EXECUTE format('DELETE FROM %s WHERE %I < $1::%s',
                       r.target, r.bucket_column, r.bucket_type)
          USING nadia_bgw._rollup_value(r, cutoff);
    END IF;

    PERFORM set_config('search_path', saved_path, true);

    UPDATE nadia_bgw.rollup
       SET threshold = hot.keep_threshold,
           last_cutoff = cutoff,
           last_refresh_at = CASE WHEN n > 0 OR horizon_moved THEN now() ELSE last_refresh_at END,
           last_refresh_ms = CASE WHEN n > 0 OR horizon_moved
                                  THEN 1000 * extract(epoch FROM clock_timestamp() - t0)
                                  ELSE last_refresh_ms END,
           last_buckets = CASE WHEN n > 0 OR horizon_moved THEN n ELSE last_buckets END,
           refreshes = refreshes + CASE WHEN n > 0 OR horizon_moved THEN 1 ELSE 0 END,
           buckets_recomputed = buckets_recomputed + n,
           last_error = NULL
     WHERE id = r.id;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_refresh(integer, boolean, timestamptz) FROM PUBLIC;

-- The worker's task: every rollup of this database, each in a
-- subtransaction so that one failure does not stop the others.
CREATE FUNCTION nadia_bgw._rollup_task()
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rid     integer;
    rname   text;
    total   integer := 0;
BEGIN
    FOR rid, rname IN SELECT id, name FROM nadia_bgw.rollup ORDER BY id LOOP
        BEGIN
            total := total + coalesce(nadia_bgw._rollup_refresh(rid, true), 0);
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'nadia_bgw: refresh of rollup "%" failed: %', rname, SQLERRM;
            UPDATE nadia_bgw.rollup
               SET last_error = SQLSTATE || ': ' || SQLERRM, failures = failures + 1
             WHERE id IN (SELECT id FROM nadia_bgw.rollup WHERE id = rid
                          FOR UPDATE SKIP LOCKED);
        END;
    END LOOP;
    RETURN total;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_task() FROM PUBLIC;

-- The catalog row of a rollup named like its table (qualified or not).
CREATE FUNCTION nadia_bgw._rollup_lookup(rollup_name text)
RETURNS integer
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    rid integer;
BEGIN
    SELECT id INTO rid FROM nadia_bgw.rollup
     WHERE rollup.target = pg_catalog.to_regclass(rollup_name) OR rollup.name = rollup_name
     ORDER BY rollup.target = pg_catalog.to_regclass(rollup_name) DESC
     LIMIT 1;
    IF rid IS NULL THEN
        RAISE EXCEPTION 'rollup "%" does not exist', rollup_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT name FROM nadia_bgw.rollups lists the rollups of this database.';
    END IF;
    RETURN rid;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_lookup(text) FROM PUBLIC;

CREATE FUNCTION nadia_bgw.refresh_rollup(name text)
RETURNS integer
LANGUAGE plpgsql
AS $$
BEGIN
    RETURN nadia_bgw._rollup_refresh(nadia_bgw._rollup_lookup($1), false);
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw.refresh_rollup(text) FROM PUBLIC;

-- Validation helper: the top plan node of "SELECT expr FROM source",
-- re-raising parse errors with the offending item named.
CREATE FUNCTION nadia_bgw._rollup_check_expr(source regclass, item text, what text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    plan json;
BEGIN
    IF item IS NULL OR btrim(item) = '' OR position(';' IN item) > 0 THEN
        RAISE EXCEPTION 'invalid % "%"', what, item
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give one SQL expression per array element, optionally followed by AS name.';
    END IF;
    BEGIN
        EXECUTE format('EXPLAIN (FORMAT JSON, COSTS OFF) SELECT %s FROM %s', item, source)
           INTO plan;
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'invalid % "%": %', what, item, SQLERRM
            USING ERRCODE = SQLSTATE;
    END;
    RETURN plan -> 0 -> 'Plan' ->> 'Node Type';
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_check_expr(regclass, text, text) FROM PUBLIC;

CREATE FUNCTION nadia_bgw.create_rollup(
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
    cols        text;
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

    -- which columns the rollup reads: UPDATEs of other columns need no capture
    EXECUTE format('CREATE TEMP VIEW nadia_bgw_rollup_cols_%s AS %s', rid,
                   replace(replace(query, '$1', '''-infinity''::timestamptz'), '$2', '''infinity''::timestamptz'));
    SELECT string_agg(DISTINCT quote_ident(a.attname), ', ') INTO cols
      FROM pg_catalog.pg_depend d
      JOIN pg_catalog.pg_rewrite w ON w.oid = d.objid AND d.classid = 'pg_catalog.pg_rewrite'::regclass
      JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
     WHERE w.ev_class = format('pg_temp.%I', 'nadia_bgw_rollup_cols_' || rid)::regclass
       AND d.refobjid = source AND d.refobjsubid > 0;
    EXECUTE format('DROP VIEW pg_temp.%I', 'nadia_bgw_rollup_cols_' || rid);

    -- change capture: a C row trigger firing after the application's own
    -- BEFORE triggers (names sort last), and TRUNCATE
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE OF %s OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION nadia_bgw.rollup_capture(%L, %L, %L, %L, %L, %L, %L)',
                   'zz_nadia_bgw_rollup_' || rid, cols, source,
                   rid, ruid, time_column, CASE WHEN local_days THEN 'local' ELSE 'abs' END,
                   usecs, origin_us, tz);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION nadia_bgw.rollup_capture(%L, %L, %L, %L, %L, %L, %L)',
                   'zz_nadia_bgw_rollup_' || rid || '_truncate', source,
                   rid, ruid, time_column, CASE WHEN local_days THEN 'local' ELSE 'abs' END,
                   usecs, origin_us, tz);

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

CREATE FUNCTION nadia_bgw.drop_rollup(name text, keep_table boolean DEFAULT false)
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
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'zz_nadia_bgw_rollup_' || r.id, r.source);
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'zz_nadia_bgw_rollup_' || r.id || '_truncate', r.source);
    IF NOT keep_table AND to_regclass(r.name) = r.target THEN
        EXECUTE format('DROP TABLE %s', r.target);
    END IF;
    DELETE FROM nadia_bgw.rollup_invalidation WHERE rollup_id = r.id;
    DELETE FROM nadia_bgw.rollup WHERE id = r.id;
    PERFORM nadia_bgw._rollup_forget(r.id, r.uid);
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw.drop_rollup(text, boolean) FROM PUBLIC;

CREATE VIEW nadia_bgw.rollups AS
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
       r.created_at
  FROM nadia_bgw.rollup r
  LEFT JOIN LATERAL (SELECT count(*) AS pending, min(v.logged_at) AS oldest
                       FROM nadia_bgw.rollup_invalidation v
                      WHERE v.rollup_id = r.id) i ON true
  LEFT JOIN LATERAL nadia_bgw._rollup_hot_state(r.id, r.uid) h ON true;
REVOKE ALL ON nadia_bgw.rollups FROM PUBLIC;
GRANT SELECT ON nadia_bgw.rollups TO nadia_bgw_reader;

-- Compare a rollup with its full query (EXCEPT both ways): rows missing
-- from the rollup and rows it has that the query does not.  Both zero
-- means it is exact.  Used by the tests; cheap enough for an operator's
-- spot check on moderate tables.
CREATE FUNCTION nadia_bgw.rollup_check(name text, OUT missing bigint, OUT extra bigint)
RETURNS record
LANGUAGE plpgsql
AS $$
DECLARE
    r       nadia_bgw.rollup;
    cutoff  timestamptz;
    q       text;
BEGIN
    SELECT * INTO r FROM nadia_bgw.rollup WHERE id = nadia_bgw._rollup_lookup($1);
    cutoff := nadia_bgw._rollup_cutoff(r, nadia_bgw._rollup_bucket_start(r, now()));
    PERFORM set_config('search_path', r.search_path, true);
    q := replace(replace(r.query, '$1', quote_literal(cutoff) || '::timestamptz'),
                 '$2', '''infinity''::timestamptz');
    EXECUTE format('SELECT count(*) FROM (%s EXCEPT ALL SELECT * FROM %s) x', q, r.target) INTO missing;
    EXECUTE format('SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL %s) x', r.target, q) INTO extra;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw.rollup_check(text) FROM PUBLIC;
