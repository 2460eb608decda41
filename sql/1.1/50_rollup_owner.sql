-- nadia_bgw 1.0 -> 1.1 -- rollups: who may define one, and as whom it runs.
--
-- Every statement of a rollup (the fill at creation, each recompute, the
-- hot-bucket count, the horizon delete, rollup_check) runs as the rollup's
-- owner, the owner of its table, under SECURITY_RESTRICTED_OPERATION and
-- with search_path = pg_catalog, pg_temp (nadia_bgw._rollup_exec in
-- worker/rollup_owner.c), as REFRESH MATERIALIZED VIEW does.  The
-- definition is parsed once, at creation, with the creator's search path,
-- and kept as a parse tree (OIDs and attnums: renames are followed) and as
-- schema-qualified text deparsed from it.
--
-- The public functions are C entry points that pass the calling role to
-- SECURITY DEFINER implementations nadia_bgw._api_<name>, which check
-- explicitly who may do what (docs/rollups.md, "Who may do what").
--
-- Change capture is installed and removed by
-- nadia_bgw._rollup_install_capture() / _rollup_remove_capture()
-- (sql/1.1/55_rollup_capture.sql).

-- the definition as a parse tree, and the catalog version that wrote it
ALTER TABLE nadia_bgw.rollup
    ADD COLUMN definition text,
    ADD COLUMN definition_catversion integer;

CREATE FUNCTION nadia_bgw._rollup_exec(owner oid, sql text,
                                       lo timestamptz DEFAULT NULL,
                                       hi timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE C
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_exec';
REVOKE ALL ON FUNCTION nadia_bgw._rollup_exec(oid, text, timestamptz, timestamptz) FROM PUBLIC;

CREATE FUNCTION nadia_bgw._rollup_parse(role oid, search_path text, sql text,
                                        OUT kind text, OUT query text, OUT tree text,
                                        OUT relations oid[], OUT catversion integer)
RETURNS record
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_parse';
REVOKE ALL ON FUNCTION nadia_bgw._rollup_parse(oid, text, text) FROM PUBLIC;

CREATE FUNCTION nadia_bgw._rollup_deparse(owner oid, tree text, catversion integer)
RETURNS text
LANGUAGE C
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_deparse';
REVOKE ALL ON FUNCTION nadia_bgw._rollup_deparse(oid, text, integer) FROM PUBLIC;

CREATE FUNCTION nadia_bgw._rollup_name(search_path text, name text,
                                       OUT nspname name, OUT relname name,
                                       OUT is_temp boolean, OUT relid regclass)
RETURNS record
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_name';
REVOKE ALL ON FUNCTION nadia_bgw._rollup_name(text, text) FROM PUBLIC;

CREATE FUNCTION nadia_bgw._rollup_relname(search_path text, rel regclass)
RETURNS text
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_relname';
REVOKE ALL ON FUNCTION nadia_bgw._rollup_relname(text, regclass) FROM PUBLIC;

CREATE FUNCTION nadia_bgw._rollup_slot_room(ids integer[], uids bigint[])
RETURNS integer
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_slot_room';
REVOKE ALL ON FUNCTION nadia_bgw._rollup_slot_room(integer[], bigint[]) FROM PUBLIC;

-- The role a rollup runs as: the owner of its table (as a materialized
-- view refreshes as its owner), or, when the table is gone, the role
-- recorded at creation.
CREATE FUNCTION nadia_bgw._rollup_owner(r nadia_bgw.rollup)
RETURNS oid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = r.target),
                    (SELECT a.oid FROM pg_catalog.pg_authid a WHERE a.rolname = r.owner))
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_owner(nadia_bgw.rollup) FROM PUBLIC;

-- The definition's text for this refresh, deparsed from the stored tree
-- (so it names the source, its columns and functions as they are called
-- now).  A tree from another catalog version (pg_upgrade) or none at all
-- (an update from 1.0 that could not parse it) is re-made from the stored
-- text, which is schema-qualified since 1.1, and stored again.
CREATE FUNCTION nadia_bgw._rollup_definition(r nadia_bgw.rollup, owner oid)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q   text;
    p   record;
BEGIN
    q := nadia_bgw._rollup_deparse(owner, r.definition, r.definition_catversion);
    IF q IS NULL THEN
        SELECT * INTO p FROM nadia_bgw._rollup_parse(owner, r.search_path, r.query);
        UPDATE nadia_bgw.rollup
           SET definition = p.tree, definition_catversion = p.catversion,
               query = p.query, search_path = 'pg_catalog, pg_temp'
         WHERE id = r.id;
        q := p.query;
    END IF;
    RETURN q;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_definition(nadia_bgw.rollup, oid) FROM PUBLIC;

-- Recompute the buckets in [s, e) as the owner: delete them, insert them
-- from the source.
CREATE FUNCTION nadia_bgw._rollup_recompute(r nadia_bgw.rollup, s timestamptz, e timestamptz,
                                            owner oid, q text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM nadia_bgw._rollup_exec(owner,
        format('DELETE FROM %s WHERE %I >= %L::%s AND %I < %L::%s',
               r.target, r.bucket_column, nadia_bgw._rollup_value(r, s), r.bucket_type,
               r.bucket_column, nadia_bgw._rollup_value(r, e), r.bucket_type));
    PERFORM nadia_bgw._rollup_exec(owner, format('INSERT INTO %s %s', r.target, q), s, e);
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_recompute(nadia_bgw.rollup, timestamptz, timestamptz, oid, text) FROM PUBLIC;

-- the 1.0 signature, for callers that have no owner and text at hand
CREATE OR REPLACE FUNCTION nadia_bgw._rollup_recompute(r nadia_bgw.rollup, s timestamptz, e timestamptz)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner oid := nadia_bgw._rollup_owner(r);
BEGIN
    PERFORM nadia_bgw._rollup_recompute(r, s, e, owner, nadia_bgw._rollup_definition(r, owner));
END
$$;

-- The refresh of one rollup (see 1.0), its statements run as the owner.
CREATE OR REPLACE FUNCTION nadia_bgw._rollup_refresh(rid integer, skip_locked boolean,
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
    owner       oid;
    q           text;
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

    -- capture triggers changed where no event trigger saw it: log a full
    -- recompute (sql/1.1/57_capture_verify.sql)
    PERFORM nadia_bgw._rollup_capture_verify(r.id);

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

    -- everything the user defined runs as the rollup's owner (_rollup_exec)
    owner := nadia_bgw._rollup_owner(r);
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = r.target) THEN
        RAISE EXCEPTION 'the table of rollup "%" was dropped', r.name
            USING ERRCODE = 'undefined_table',
                  HINT = 'Drop the rollup with nadia_bgw.drop_rollup() and create it again.';
    END IF;
    q := nadia_bgw._rollup_definition(r, owner);

    FOREACH b IN ARRAY coalesce(buckets, '{}') LOOP
        CONTINUE WHEN hot_start IS NOT NULL AND b >= hot_start;
        IF run_start IS NULL THEN
            run_start := b;
        ELSIF b <> run_end THEN
            PERFORM nadia_bgw._rollup_recompute(r, run_start, run_end, owner, q);
            run_start := b;
        END IF;
        run_end := nadia_bgw._rollup_next(r, b);
        n := n + 1;
    END LOOP;
    IF run_start IS NOT NULL THEN
        PERFORM nadia_bgw._rollup_recompute(r, run_start, run_end, owner, q);
    END IF;

    IF hot_start IS NOT NULL THEN
        PERFORM nadia_bgw._rollup_recompute(r, hot_start, 'infinity', owner, q);
        nhot := nadia_bgw._rollup_exec(owner,
                    format('SELECT count(DISTINCT %I)::integer FROM %s WHERE %I >= %L::%s',
                           r.bucket_column, r.target, r.bucket_column,
                           nadia_bgw._rollup_value(r, hot_start), r.bucket_type));
        -- an emptied bucket was recomputed too
        n := n + greatest(nhot, 1);
    END IF;

    IF horizon_moved AND isfinite(cutoff) THEN
        PERFORM nadia_bgw._rollup_exec(owner,
            format('DELETE FROM %s WHERE %I < %L::%s',
                   r.target, r.bucket_column, nadia_bgw._rollup_value(r, cutoff), r.bucket_type));
    END IF;

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

-- The catalog row of a rollup named like its table (qualified or not, as
-- the caller's search path reads it).
CREATE FUNCTION nadia_bgw._rollup_lookup(rollup_name text, caller_path text)
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rid integer;
    rel regclass := (SELECT n.relid FROM nadia_bgw._rollup_name(caller_path, rollup_name) n);
BEGIN
    SELECT id INTO rid FROM nadia_bgw.rollup
     WHERE rollup.target = rel OR rollup.name = rollup_name
     ORDER BY rollup.target = rel DESC NULLS LAST
     LIMIT 1;
    IF rid IS NULL THEN
        RAISE EXCEPTION 'rollup "%" does not exist', rollup_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT name FROM nadia_bgw.rollups lists the rollups of this database.';
    END IF;
    RETURN rid;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_lookup(text, text) FROM PUBLIC;

-- Is "caller" allowed to act on rollup r (drop, refresh, check)?  The
-- rollup's owner and the roles that have its privileges, and superusers.
CREATE FUNCTION nadia_bgw._rollup_require_owner(caller oid, r nadia_bgw.rollup, action text)
RETURNS oid
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner oid := nadia_bgw._rollup_owner(r);
BEGIN
    IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE oid = caller)
       AND (owner IS NULL OR NOT pg_catalog.pg_has_role(caller, owner, 'USAGE')) THEN
        RAISE EXCEPTION 'must be owner of rollup "%" to %', r.name, action
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('The rollup belongs to %s, the owner of its table.',
                                coalesce(owner::regrole::text, 'a dropped role'));
    END IF;
    RETURN owner;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_require_owner(oid, nadia_bgw.rollup, text) FROM PUBLIC;

CREATE FUNCTION nadia_bgw._api_refresh_rollup(caller oid, caller_path text, name text)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r nadia_bgw.rollup;
BEGIN
    SELECT * INTO r FROM nadia_bgw.rollup WHERE id = nadia_bgw._rollup_lookup($3, caller_path);
    PERFORM nadia_bgw._rollup_require_owner(caller, r, 'refresh it');
    RETURN nadia_bgw._rollup_refresh(r.id, false);
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._api_refresh_rollup(oid, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION nadia_bgw.refresh_rollup(name text)
RETURNS integer
LANGUAGE C
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_api';

-- Compare a rollup with its full query, as its owner (see 1.0).
CREATE FUNCTION nadia_bgw._api_rollup_check(caller oid, caller_path text, name text,
                                            OUT missing bigint, OUT extra bigint)
RETURNS record
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r       nadia_bgw.rollup;
    owner   oid;
    cutoff  timestamptz;
    q       text;
BEGIN
    SELECT * INTO r FROM nadia_bgw.rollup WHERE id = nadia_bgw._rollup_lookup($3, caller_path);
    owner := nadia_bgw._rollup_require_owner(caller, r, 'check it');
    cutoff := nadia_bgw._rollup_cutoff(r, nadia_bgw._rollup_bucket_start(r, now()));
    q := nadia_bgw._rollup_definition(r, owner);
    missing := nadia_bgw._rollup_exec(owner,
        format('SELECT count(*) FROM (%s EXCEPT ALL SELECT * FROM %s) x', q, r.target),
        cutoff, 'infinity');
    extra := nadia_bgw._rollup_exec(owner,
        format('SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL %s) x', r.target, q),
        cutoff, 'infinity');
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._api_rollup_check(oid, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION nadia_bgw.rollup_check(name text, OUT missing bigint, OUT extra bigint)
RETURNS record
LANGUAGE C
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_api';

-- Validation helper: what "sql" is (aggregate, plain, window, srf), parsed
-- as the caller with the caller's search path, parse errors re-raised with
-- the offending item named.
CREATE FUNCTION nadia_bgw._rollup_check_item(caller oid, caller_path text, source regclass,
                                             sql text, item text, what text)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
BEGIN
    IF item IS NULL OR btrim(item) = '' OR position(';' IN item) > 0 THEN
        RAISE EXCEPTION 'invalid % "%"', what, item
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give one SQL expression per array element, optionally followed by AS name.';
    END IF;
    BEGIN
        SELECT * INTO p FROM nadia_bgw._rollup_parse(caller, caller_path, sql);
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'invalid % "%": %', what, item, SQLERRM
            USING ERRCODE = SQLSTATE;
    END;
    -- "count(*) FROM other --" parses too: an item reads the source only
    IF p.relations IS DISTINCT FROM ARRAY[source::oid] THEN
        RAISE EXCEPTION 'invalid % "%": it must be an expression over the source''s columns', what, item
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Other tables may be read in subqueries only.';
    END IF;
    RETURN p.kind;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_check_item(oid, text, regclass, text, text, text) FROM PUBLIC;

CREATE FUNCTION nadia_bgw._api_create_rollup(
    caller          oid,
    caller_path     text,
    name            text,
    source          regclass,
    time_column     name,
    bucket          interval,
    aggregates      text[],
    group_by        text[],
    filter          text,
    horizon         interval,
    timezone        text,
    bucket_column   name,
    replace_matview boolean)
RETURNS regclass
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tz          text := coalesce(_api_create_rollup.timezone, current_setting('TimeZone'));
    caller_super boolean := (SELECT rolsuper FROM pg_catalog.pg_roles WHERE oid = caller);
    nm          record;
    src_name    text;
    existing    regclass;
    tschema     text;
    trel        text;
    target      regclass;
    src_kind    "char";
    src_owner   oid;
    owner       oid;
    time_type   regtype;
    months      integer;
    days        integer;
    usecs       bigint;
    local_days  boolean;
    origin      timestamptz;
    btype       regtype;
    bexpr       text;
    item        text;
    node        text;
    select_list text;
    where_list  text;
    ngroups     integer := coalesce(cardinality(_api_create_rollup.group_by), 0);
    query       text;
    def         record;
    keycols     text;
    rid         integer;
    ruid        bigint;
    mv_owner    oid;
    mv_acl      aclitem[];
    g           record;
    r           nadia_bgw.rollup;
BEGIN
    IF name IS NULL OR source IS NULL OR time_column IS NULL THEN
        RAISE EXCEPTION 'name, source and time_column must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    src_name := nadia_bgw._rollup_relname(caller_path, source);

    -- who may: a role with the privileges of the source's owner (or a superuser)
    SELECT c.relkind, c.relowner INTO src_kind, src_owner
      FROM pg_catalog.pg_class c WHERE c.oid = _api_create_rollup.source;
    IF src_kind IS NULL OR src_kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'source "%" is not a table', src_name
            USING ERRCODE = 'wrong_object_type';
    END IF;
    IF (SELECT relpersistence FROM pg_catalog.pg_class WHERE oid = source) = 't' THEN
        RAISE EXCEPTION 'source "%" is a temporary table', src_name
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'The worker refreshes rollups in its own session, where another session''s temporary tables cannot be read.';
    END IF;
    IF NOT caller_super AND NOT pg_catalog.pg_has_role(caller, src_owner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table % to create a rollup on it', src_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;

    -- the time column
    SELECT a.atttypid::regtype INTO time_type
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = _api_create_rollup.source AND a.attname = _api_create_rollup.time_column
       AND a.attnum > 0 AND NOT a.attisdropped;
    IF time_type IS NULL THEN
        RAISE EXCEPTION 'column "%" of "%" does not exist', time_column, src_name
            USING ERRCODE = 'undefined_column';
    END IF;
    IF time_type <> 'timestamptz'::regtype THEN
        RAISE EXCEPTION 'time column "%" is of type %, not timestamp with time zone',
                        time_column, time_type
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
       OR (days > 0 AND usecs <> 0) OR (days = 0 AND usecs < 1000000)
       OR (days = 0 AND usecs >= 86400000000) THEN
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
        IF days = 1 THEN
            bexpr := format('(%I AT TIME ZONE %L)::pg_catalog.date', time_column, tz);
        ELSE
            bexpr := format('pg_catalog.date_bin(%L::pg_catalog.interval, %I AT TIME ZONE %L, ''2000-01-03 00:00''::pg_catalog.timestamp)::pg_catalog.date',
                            bucket, time_column, tz);
        END IF;
    ELSE
        btype := 'timestamptz';
        bexpr := format('pg_catalog.date_bin(%L::pg_catalog.interval, %I, %L::pg_catalog.timestamptz)', bucket, time_column,
                        to_char(origin AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00');
    END IF;

    -- the definition, checked item by item for clear errors, parsed as the
    -- caller with the caller's search path (no user code runs as us)
    IF aggregates IS NULL OR cardinality(aggregates) = 0 THEN
        RAISE EXCEPTION 'a rollup needs at least one aggregate'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    select_list := bexpr || ' AS ' || quote_ident(bucket_column);
    FOREACH item IN ARRAY coalesce(group_by, '{}') LOOP
        node := nadia_bgw._rollup_check_item(caller, caller_path, source,
                    format('SELECT %s FROM %s', item, source), item, 'group_by expression');
        IF node <> 'plain' THEN
            RAISE EXCEPTION 'group_by expression "%" must not contain aggregates or window functions', item
                USING ERRCODE = 'grouping_error';
        END IF;
        select_list := select_list || ', ' || item;
    END LOOP;
    FOREACH item IN ARRAY aggregates LOOP
        node := nadia_bgw._rollup_check_item(caller, caller_path, source,
                    format('SELECT %s FROM %s', item, source), item, 'aggregate');
        IF node <> 'aggregate' THEN
            RAISE EXCEPTION 'aggregate "%" is not an aggregate expression', item
                USING ERRCODE = 'grouping_error',
                      HINT = 'Each aggregates element must aggregate over the rows of a bucket, e.g. count(*) or avg(x); put plain columns in group_by.';
        END IF;
        select_list := select_list || ', ' || item;
    END LOOP;
    where_list := format('%I OPERATOR(pg_catalog.>=) $1 AND %I OPERATOR(pg_catalog.<) $2', time_column, time_column);
    IF filter IS NOT NULL THEN
        PERFORM nadia_bgw._rollup_check_item(caller, caller_path, source,
                    format('SELECT 1 FROM %s WHERE (%s)', source, filter), filter, 'filter');
        where_list := where_list || format(' AND (%s)', filter);
    END IF;
    query := format('SELECT %s FROM %s WHERE %s GROUP BY %s',
                    select_list, source, where_list,
                    (SELECT string_agg(i::text, ', ') FROM generate_series(1, 1 + ngroups) i));
    -- the whole query, bound now: schema-qualified text and a parse tree
    BEGIN
        SELECT * INTO def FROM nadia_bgw._rollup_parse(caller, caller_path, query);
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'invalid rollup definition: %', SQLERRM USING ERRCODE = SQLSTATE;
    END;
    IF def.kind <> 'aggregate' OR def.relations IS DISTINCT FROM ARRAY[source::oid] THEN
        RAISE EXCEPTION 'invalid rollup definition: every item must read only "%"', src_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give expressions over the source''s columns; the definition must not name other tables outside subqueries.';
    END IF;

    IF def.query ~ '\mpg_temp\.' THEN
        RAISE EXCEPTION 'invalid rollup definition: it uses temporary objects'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The worker cannot see this session''s temporary functions, types or tables.';
    END IF;

    -- the target: a fresh table, or one replacing a materialized view
    SELECT * INTO nm FROM nadia_bgw._rollup_name(caller_path, _api_create_rollup.name);
    IF nm.is_temp THEN
        RAISE EXCEPTION 'a rollup table cannot be temporary: "%"', _api_create_rollup.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The worker refreshes rollups in its own session; name a permanent schema.';
    END IF;
    existing := nm.relid;
    IF existing IS NOT NULL AND (SELECT relpersistence FROM pg_catalog.pg_class WHERE oid = existing) = 't' THEN
        existing := NULL;               -- a temporary table of that name hides nothing of ours
    END IF;
    IF existing IS NOT NULL THEN
        IF replace_matview AND (SELECT relkind FROM pg_catalog.pg_class WHERE oid = existing) = 'm' THEN
            SELECT c.relowner, c.relacl, n.nspname, c.relname INTO mv_owner, mv_acl, tschema, trel
              FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE c.oid = existing;
            IF NOT caller_super AND NOT pg_catalog.pg_has_role(caller, mv_owner, 'USAGE') THEN
                RAISE EXCEPTION 'must be owner of materialized view % to replace it', existing
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
        ELSE
            RAISE EXCEPTION 'relation "%" already exists', _api_create_rollup.name
                USING ERRCODE = 'duplicate_table',
                      HINT = CASE WHEN (SELECT relkind FROM pg_catalog.pg_class WHERE oid = existing) = 'm'
                                  THEN 'Pass replace_matview => true to replace the materialized view.'
                                  ELSE 'Choose another name.' END;
        END IF;
    ELSE
        IF nm.nspname IS NULL THEN
            RAISE EXCEPTION 'no schema has been selected to create rollup "%" in', _api_create_rollup.name
                USING ERRCODE = 'invalid_schema_name';
        END IF;
        tschema := nm.nspname;
        trel := nm.relname;
    END IF;
    IF NOT caller_super AND NOT pg_catalog.has_schema_privilege(caller, tschema, 'CREATE') THEN
        RAISE EXCEPTION 'permission denied for schema %', tschema
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Creating a rollup creates a table: it needs CREATE on the target schema.';
    END IF;

    -- room in shared memory: a rollup without a slot would fail every refresh
    IF nadia_bgw._rollup_slot_room(
           coalesce((SELECT array_agg(x.id ORDER BY x.id) FROM nadia_bgw.rollup x), '{}'),
           coalesce((SELECT array_agg(x.uid ORDER BY x.id) FROM nadia_bgw.rollup x), '{}')) < 1 THEN
        RAISE EXCEPTION 'too many rollups: the server has room for %', 64
            USING ERRCODE = 'configuration_limit_exceeded',
                  HINT = 'Drop unused rollups with nadia_bgw.drop_rollup() (in any database of the cluster); slots of rollups removed by DROP EXTENSION are freed at the next restart.';
    END IF;

    -- the rollup's owner: the materialized view's, or the source's.  Its
    -- refresh never has more privileges than that role.
    owner := coalesce(mv_owner, src_owner);
    IF existing IS NOT NULL THEN
        EXECUTE format('DROP MATERIALIZED VIEW %s', existing);
    END IF;

    EXECUTE format('CREATE TABLE %I.%I AS %s WITH NO DATA', tschema, trel,
                   replace(replace(def.query, '$1', '''-infinity''::pg_catalog.timestamptz'),
                           '$2', '''infinity''::pg_catalog.timestamptz'));
    target := format('%I.%I', tschema, trel)::regclass;
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO keycols
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = target AND a.attnum BETWEEN 1 AND 1 + ngroups;
    EXECUTE format('CREATE UNIQUE INDEX %I ON %s (%s)%s', trel || '_key', target, keycols,
                   CASE WHEN current_setting('server_version_num')::integer >= 150000
                        THEN ' NULLS NOT DISTINCT' ELSE '' END);
    EXECUTE format('ALTER TABLE %s OWNER TO %s', target, owner::regrole);
    IF mv_owner IS NOT NULL THEN
        FOR g IN SELECT a.grantee, a.privilege_type FROM aclexplode(mv_acl) a
                  WHERE a.grantee <> mv_owner LOOP
            EXECUTE format('GRANT %s ON %s TO %s', g.privilege_type, target,
                           CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END);
        END LOOP;
    END IF;

    ruid := (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
    INSERT INTO nadia_bgw.rollup (uid, name, target, source, time_column, bucket, local_days,
                                  origin, timezone, bucket_column, bucket_type, horizon,
                                  group_by, aggregates, filter, query, search_path, owner,
                                  definition, definition_catversion)
    VALUES (ruid, format('%I.%I', tschema, trel), target, source, time_column, bucket,
            local_days, origin, tz, bucket_column, btype, horizon,
            coalesce(group_by, '{}'), aggregates, filter, def.query, 'pg_catalog, pg_temp',
            (SELECT rolname FROM pg_catalog.pg_roles WHERE oid = owner), def.tree, def.catversion)
    RETURNING id INTO rid;

    -- change capture (nadia_bgw._rollup_install_capture)
    PERFORM nadia_bgw._rollup_install_capture(rid);

    -- fill it as the owner (the triggers' lock on the source waited for
    -- writers in flight)
    SELECT * INTO r FROM nadia_bgw.rollup WHERE id = rid;
    PERFORM nadia_bgw._rollup_exec(owner, format('INSERT INTO %s %s', target, def.query),
                                   nadia_bgw._rollup_cutoff(r, nadia_bgw._rollup_bucket_start(r, now())),
                                   'infinity'::timestamptz);
    UPDATE nadia_bgw.rollup
       SET last_cutoff = nadia_bgw._rollup_cutoff(r, nadia_bgw._rollup_bucket_start(r, now())),
           last_refresh_at = now(),
           last_refresh_ms = 1000 * extract(epoch FROM clock_timestamp() - now())
     WHERE id = rid;
    RETURN target;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._api_create_rollup(oid, text, text, regclass, name, interval, text[], text[], text, interval, text, name, boolean) FROM PUBLIC;

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
LANGUAGE C
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_api';

CREATE FUNCTION nadia_bgw._api_drop_rollup(caller oid, caller_path text, name text, keep_table boolean)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r nadia_bgw.rollup;
BEGIN
    SELECT * INTO r FROM nadia_bgw.rollup WHERE id = nadia_bgw._rollup_lookup($3, caller_path) FOR UPDATE;
    PERFORM nadia_bgw._rollup_require_owner(caller, r, 'drop it');
    -- tolerates a dropped source (its triggers went with it), and keeps
    -- the sql_drop event trigger quiet about what is dropped here
    PERFORM nadia_bgw._rollup_remove_capture(r.id);
    IF NOT coalesce(keep_table, false)
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = r.target) THEN
        EXECUTE format('DROP TABLE %s', r.target);
    END IF;
    DELETE FROM nadia_bgw.rollup_invalidation WHERE rollup_id = r.id;
    DELETE FROM nadia_bgw.rollup WHERE id = r.id;
    PERFORM nadia_bgw._rollup_forget(r.id, r.uid);
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._api_drop_rollup(oid, text, text, boolean) FROM PUBLIC;

CREATE OR REPLACE FUNCTION nadia_bgw.drop_rollup(name text, keep_table boolean DEFAULT false)
RETURNS void
LANGUAGE C
AS 'MODULE_PATHNAME', 'nadia_bgw_rollup_api';

-- Rollups made by 1.0 ran their stored text under the creator's search
-- path, as the worker.  Bind each definition now, as its owner, with that
-- search path (what it meant when it was created), and record the owner.
-- A 1.0 rollup table a superuser made over another role's table belonged
-- to that superuser, so its refresh would run the source owner's code
-- (functions, policies) as a superuser: it goes to the source's owner, as
-- create_rollup() does since 1.1.
DO $$
DECLARE
    r       nadia_bgw.rollup;
    ro      oid;
    so      oid;
    p       record;
BEGIN
    FOR r IN SELECT * FROM nadia_bgw.rollup ORDER BY id LOOP
        ro := nadia_bgw._rollup_owner(r);
        so := (SELECT relowner FROM pg_catalog.pg_class WHERE oid = r.source);
        IF so IS NOT NULL AND ro IS DISTINCT FROM so
           AND (SELECT rolsuper FROM pg_catalog.pg_roles WHERE oid = ro)
           AND NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE oid = so)
           AND EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = r.target) THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s OWNER TO %s', r.target, so::regrole);
            ro := so;
        END IF;
        BEGIN
            SELECT * INTO p FROM nadia_bgw._rollup_parse(ro, r.search_path, r.query);
            UPDATE nadia_bgw.rollup
               SET query = p.query, definition = p.tree, definition_catversion = p.catversion,
                   search_path = 'pg_catalog, pg_temp',
                   owner = (SELECT rolname FROM pg_catalog.pg_roles WHERE oid = ro)
             WHERE id = r.id;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'nadia_bgw: the definition of rollup "%" could not be bound: %', r.name, SQLERRM
                USING HINT = 'Its refreshes fail until it is dropped and created again.';
        END;
    END LOOP;
END
$$;
