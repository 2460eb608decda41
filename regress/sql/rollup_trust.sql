-- rollup_trust: a rollup runs as its owner, never as the worker.
-- Each block is an attack from issue 13 section 1 (privilege escalation
-- through rollups) or a check that section 4 asks for at creation.
-- nadia_bgw._rollup_task() is what the (superuser) worker runs each cycle:
-- calling it here as the superuser is the worker's refresh.
CREATE EXTENSION IF NOT EXISTS nadia_bgw;
SET client_min_messages = warning;
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never

CREATE ROLE regress_rt_app NOLOGIN;         -- owns the application's tables
CREATE ROLE regress_rt_other NOLOGIN;       -- granted the API, owns nothing
CREATE ROLE regress_rt_dbo NOLOGIN;         -- may create objects in public
GRANT CREATE ON SCHEMA public TO regress_rt_app, regress_rt_dbo;
GRANT USAGE ON SCHEMA nadia_bgw TO regress_rt_app, regress_rt_other;
GRANT EXECUTE ON FUNCTION
    nadia_bgw.create_rollup(text, regclass, name, interval, text[], text[], text, interval, text, name, boolean),
    nadia_bgw.drop_rollup(text, boolean),
    nadia_bgw.refresh_rollup(text),
    nadia_bgw.rollup_check(text)
  TO regress_rt_app, regress_rt_other;

-- what the attackers' code saw: who ran it, and whether that was a superuser
CREATE TABLE rt_log (what text, who name, super boolean, escalated text);
GRANT ALL ON rt_log TO PUBLIC;
CREATE FUNCTION rt_note(what text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    esc text := 'refused';
BEGIN
    BEGIN
        EXECUTE 'ALTER ROLE regress_rt_app SUPERUSER';
        esc := 'ALTER ROLE worked';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    INSERT INTO public.rt_log
    VALUES (what, current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), esc);
END
$$;
GRANT EXECUTE ON FUNCTION rt_note(text) TO PUBLIC;

SET ROLE regress_rt_app;
CREATE TABLE rt_events (
    at       timestamptz NOT NULL,
    user_id  integer,
    amount   numeric,
    score    integer
);
INSERT INTO rt_events
SELECT now() - d * interval '1 day', i % 5, i, i % 6
  FROM generate_series(1, 3) d, generate_series(1, 10) i;
CREATE MATERIALIZED VIEW rt_daily AS
SELECT DATE(at) AS date, COUNT(*) AS n, COUNT(DISTINCT user_id) AS users
  FROM rt_events GROUP BY 1;
-- a user function the dashboard sums over
CREATE FUNCTION rt_f(v numeric) RETURNS numeric
LANGUAGE plpgsql AS $$ BEGIN RETURN v; END $$;
RESET ROLE;

-- 1a. replace_matview keeps the view's (non-superuser) owner as the
-- table's owner, who puts a trigger, a deferred constraint trigger and a
-- column default on "his" table: the worker's refresh runs them as him.
SELECT nadia_bgw.create_rollup(name => 'rt_daily', source => 'rt_events', time_column => 'at',
       bucket => '1 day', bucket_column => 'date', timezone => 'UTC',
       aggregates => ARRAY['COUNT(*) AS n', 'COUNT(DISTINCT user_id) AS users'],
       replace_matview => true);
SELECT relowner::regrole AS rollup_table_owner FROM pg_class WHERE oid = 'rt_daily'::regclass;
SET ROLE regress_rt_app;
CREATE FUNCTION rt_trig() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN PERFORM public.rt_note(TG_NAME); RETURN NULL; END $$;
CREATE TRIGGER rt_row AFTER INSERT ON rt_daily FOR EACH ROW EXECUTE FUNCTION rt_trig();
CREATE CONSTRAINT TRIGGER rt_deferred AFTER INSERT ON rt_daily
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION rt_trig();
CREATE FUNCTION rt_default() RETURNS text
LANGUAGE plpgsql AS $$ BEGIN PERFORM public.rt_note('column default'); RETURN 'x'; END $$;
ALTER TABLE rt_daily ADD COLUMN extra text DEFAULT rt_default();
DELETE FROM rt_log;
INSERT INTO rt_events VALUES (now(), 1, 1, 1);
RESET ROLE;
SELECT nadia_bgw._rollup_task() > 0 AS refreshed;      -- the worker's cycle
SELECT what, who, super, escalated FROM rt_log ORDER BY what;
SELECT rolsuper AS app_became_superuser FROM pg_roles WHERE rolname = 'regress_rt_app';
SELECT name, failures, last_error FROM nadia_bgw.rollups WHERE name = 'public.rt_daily';
SELECT nadia_bgw.drop_rollup('rt_daily');

-- 1a'. the same with a rollup the source's owner created himself
SET ROLE regress_rt_app;
SELECT nadia_bgw.create_rollup(name => 'rt_own', source => 'rt_events', time_column => 'at',
       bucket => '1 hour', aggregates => ARRAY['count(*) AS n']);
CREATE TRIGGER rt_row AFTER DELETE ON rt_own FOR EACH ROW EXECUTE FUNCTION rt_trig();
-- and a row-level security policy he forces on himself
CREATE FUNCTION rt_pol() RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN PERFORM public.rt_note('policy'); RETURN true; END $$;
ALTER TABLE rt_own ENABLE ROW LEVEL SECURITY;
ALTER TABLE rt_own FORCE ROW LEVEL SECURITY;
CREATE POLICY rt_p ON rt_own USING (rt_pol()) WITH CHECK (rt_pol());
DELETE FROM rt_log;
INSERT INTO rt_events VALUES (now(), 1, 1, 1);
RESET ROLE;
SELECT nadia_bgw._rollup_task() > 0 AS refreshed;
SELECT DISTINCT what, who, super, escalated FROM rt_log ORDER BY what;
SELECT nadia_bgw.rollup_check('rt_own');

-- 1c. a user function inside an aggregate expression runs as the rollup's
-- owner, in a security-restricted operation, even when a superuser made
-- the rollup
CREATE OR REPLACE FUNCTION rt_f(v numeric) RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
    r text := '';
BEGIN
    PERFORM public.rt_note('aggregate function');
    BEGIN
        SET ROLE NONE;
        r := r || 'SET ROLE worked ';
    EXCEPTION WHEN OTHERS THEN r := r || SQLERRM || '; ';
    END;
    BEGIN
        CREATE TEMP TABLE rt_kept (x int);
        r := r || 'temp table worked';
    EXCEPTION WHEN OTHERS THEN r := r || SQLERRM;
    END;
    INSERT INTO public.rt_log VALUES ('restricted', current_user, NULL, r);
    RETURN v;
END
$$;
ALTER FUNCTION rt_f(numeric) OWNER TO regress_rt_app;
SELECT nadia_bgw.create_rollup(name => 'rt_sum', source => 'rt_events', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['sum(rt_f(amount)) AS total']);
DELETE FROM rt_log;
INSERT INTO rt_events VALUES (now(), 1, 1, 1);
SELECT nadia_bgw._rollup_task() > 0 AS refreshed;
SELECT DISTINCT what, who, super, escalated FROM rt_log ORDER BY what;
SELECT rolsuper AS app_became_superuser FROM pg_roles WHERE rolname = 'regress_rt_app';
SELECT nadia_bgw.drop_rollup('rt_sum');

-- 1b. the creator's search path is not reused: a role that can create in
-- public shadows count() after the rollup was made
SET search_path = "$user", public;
SELECT nadia_bgw.create_rollup(name => 'rt_users', source => 'rt_events', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['COUNT(DISTINCT user_id) AS users', 'count(*) AS n']);
SET ROLE regress_rt_dbo;
CREATE FUNCTION public.rt_evil_sfunc(s bigint, v integer) RETURNS bigint
LANGUAGE plpgsql AS $$ BEGIN PERFORM public.rt_note('shadowing count'); RETURN coalesce(s, 0) + 1000; END $$;
CREATE AGGREGATE public.count(integer) (sfunc = public.rt_evil_sfunc, stype = bigint, initcond = '0');
RESET ROLE;
-- the shadow catches an ordinary query with that search path: the trap
SET ROLE regress_rt_dbo;
SELECT count(DISTINCT x) AS shadowed_count FROM (VALUES (1), (2)) v(x);
RESET ROLE;
SELECT what, who FROM rt_log WHERE what = 'shadowing count';
DELETE FROM rt_log;
INSERT INTO rt_events VALUES (now(), 1, 1, 1);
SELECT nadia_bgw._rollup_task() > 0 AS refreshed;
SELECT count(*) AS evil_calls FROM rt_log WHERE what = 'shadowing count';
SELECT max(users) < 100 AS pg_catalog_count FROM rt_users;
DROP AGGREGATE public.count(integer);
DROP FUNCTION public.rt_evil_sfunc(bigint, integer);
RESET search_path;
SELECT nadia_bgw.rollup_check('rt_users');

-- a tree from another catalog version (after pg_upgrade) is re-made from
-- the stored, schema-qualified text at the next refresh
UPDATE nadia_bgw.rollup SET definition_catversion = 0 WHERE name = 'public.rt_users';
INSERT INTO rt_events VALUES (now(), 2, 1, 1);
SELECT nadia_bgw.refresh_rollup('rt_users') > 0 AS refreshed;
SELECT definition_catversion <> 0 AS tree_remade FROM nadia_bgw.rollup WHERE name = 'public.rt_users';
SELECT nadia_bgw.rollup_check('rt_users');

-- 4. renames: the refresh reads the source by OID, its columns by attnum
ALTER TABLE rt_events RENAME COLUMN amount TO amount_usd;
SELECT nadia_bgw.create_rollup(name => 'rt_amounts', source => 'rt_events', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['sum(amount_usd) AS total']);
ALTER TABLE rt_events RENAME COLUMN amount_usd TO amount;
ALTER TABLE rt_events RENAME TO rt_events_old;
-- the usual migration: a new table under the old name
CREATE TABLE rt_events (LIKE rt_events_old);
INSERT INTO rt_events SELECT * FROM rt_events_old;
INSERT INTO rt_events VALUES (now(), 1, 1000, 1);
INSERT INTO rt_events_old VALUES (now(), 1, 100, 1);
SELECT nadia_bgw.refresh_rollup('rt_amounts') > 0 AS refreshed;
SELECT (SELECT sum(total) FROM rt_amounts) = (SELECT sum(amount) FROM rt_events_old) AS follows_renamed_table;
SELECT nadia_bgw.rollup_check('rt_amounts');
SELECT nadia_bgw.drop_rollup('rt_amounts');
SELECT nadia_bgw.drop_rollup('rt_users');
DROP TABLE rt_events;
ALTER TABLE rt_events_old RENAME TO rt_events;

-- 1d. who may create, drop and refresh: the source's owner (or a member
-- of that role), with CREATE on the target schema; no one else
SET ROLE regress_rt_other;
SELECT nadia_bgw.create_rollup(name => 'rt_bad', source => 'rt_events', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['count(*)']);
SELECT nadia_bgw.refresh_rollup('rt_own');
SELECT nadia_bgw.rollup_check('rt_own');
SELECT nadia_bgw.drop_rollup('rt_own');
RESET ROLE;
-- a superuser calling a SECURITY DEFINER function of the unprivileged role
-- is not a way for that role to act as the superuser
CREATE FUNCTION rt_deputy() RETURNS void LANGUAGE sql SECURITY DEFINER
AS $$ SELECT nadia_bgw.drop_rollup('rt_own') $$;
ALTER FUNCTION rt_deputy() OWNER TO regress_rt_other;
SELECT rt_deputy();
DROP FUNCTION rt_deputy();
CREATE SCHEMA rt_dash;
SET ROLE regress_rt_app;
SELECT nadia_bgw.create_rollup(name => 'rt_dash.rt_bad', source => 'rt_events', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['count(*)']);
-- the owner may refresh, check and drop his own rollup
SELECT nadia_bgw.refresh_rollup('rt_own') >= 0 AS refreshed;
SELECT nadia_bgw.drop_rollup('rt_own');
RESET ROLE;
-- the internal functions are not callable around those checks
SET ROLE regress_rt_other;
SELECT nadia_bgw._rollup_exec('regress_rt_other'::regrole, 'SELECT 1');
SELECT nadia_bgw._api_drop_rollup(0, 'public', 'x', false);
RESET ROLE;

-- 4. validation at creation of what would fail later
SELECT nadia_bgw.create_rollup(name => 'rt_bad', source => 'rt_events', time_column => 'at',
       bucket => '25 hours', aggregates => ARRAY['count(*)']);
SELECT nadia_bgw.create_rollup(name => 'rt_bad', source => 'rt_events', time_column => 'at',
       bucket => '24 hours', aggregates => ARRAY['count(*)']);
SELECT nadia_bgw.create_rollup(name => 'pg_temp.rt_bad', source => 'rt_events', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['count(*)']);
SET search_path = pg_temp, public;
SELECT nadia_bgw.create_rollup(name => 'rt_bad', source => 'rt_events', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['count(*)']);
RESET search_path;
-- an item cannot smuggle in another table or cut the time range off
SELECT nadia_bgw.create_rollup(name => 'rt_bad', source => 'rt_events', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['count(*) FROM pg_authid --']);
-- a temporary source, or temporary objects in the definition
CREATE TEMP TABLE rt_temp_src (at timestamptz);
SELECT nadia_bgw.create_rollup(name => 'rt_bad', source => 'rt_temp_src', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['count(*)']);
CREATE FUNCTION pg_temp.rt_tf(integer) RETURNS integer LANGUAGE sql AS 'SELECT $1';
SELECT nadia_bgw.create_rollup(name => 'rt_bad', source => 'rt_events', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['sum(pg_temp.rt_tf(score))']);
-- more rollups than the server's shared slots: refused at creation
CREATE TABLE rt_many (at timestamptz);
DO $$
BEGIN
    FOR i IN 1..70 LOOP
        BEGIN
            PERFORM nadia_bgw.create_rollup(name => 'rt_many_' || i, source => 'rt_many',
                                            time_column => 'at', bucket => '1 day',
                                            aggregates => ARRAY['count(*)']);
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING '%', SQLERRM;
            EXIT;
        END;
    END LOOP;
END
$$;
SELECT count(*) <= 64 AS within_slots, count(*) > 0 AS some_made
  FROM nadia_bgw.rollup;
SELECT to_regclass('rt_many_65') IS NULL AS not_created;
SELECT count(*) AS dropped FROM (SELECT nadia_bgw.drop_rollup(name) FROM nadia_bgw.rollup
                                  WHERE name LIKE 'public.rt_many_%') d;

-- 4. drop_rollup() of a rollup whose source was dropped
SELECT nadia_bgw.create_rollup(name => 'rt_orphan', source => 'rt_many', time_column => 'at',
       bucket => '1 day', aggregates => ARRAY['count(*)']);
DROP TABLE rt_many;
SELECT nadia_bgw.drop_rollup('rt_orphan');
SELECT to_regclass('rt_orphan') IS NULL AS orphan_gone;

DROP SCHEMA rt_dash;
DROP MATERIALIZED VIEW IF EXISTS rt_daily;
DROP TABLE rt_events, rt_log;
DROP FUNCTION rt_note(text);
DROP OWNED BY regress_rt_app, regress_rt_other, regress_rt_dbo;
DROP ROLE regress_rt_app, regress_rt_other, regress_rt_dbo;
