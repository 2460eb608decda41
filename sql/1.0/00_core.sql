-- nadia_bgw 1.0 -- core: worker status, wake, heartbeat, reader role.
--
-- The extension script is assembled from sql/1.0/*.sql in name order; this
-- fragment comes first and owns what every other module relies on.

\echo Use "CREATE EXTENSION nadia_bgw" to load this file. \quit

-- Nothing in the schema is for PUBLIC; readers get access through
-- nadia_bgw_reader, operators through explicit grants.
REVOKE ALL ON SCHEMA nadia_bgw FROM PUBLIC;

-- The reader role is cluster-wide, so it may already exist (another
-- database, an earlier install).  Roles cannot belong to an extension: it
-- outlives DROP EXTENSION on purpose.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                    WHERE rolname = 'nadia_bgw_reader') THEN
        CREATE ROLE nadia_bgw_reader NOLOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA nadia_bgw TO nadia_bgw_reader;

CREATE FUNCTION nadia_bgw.worker_preloaded()
RETURNS boolean
LANGUAGE C STRICT STABLE
AS 'MODULE_PATHNAME', 'nadia_bgw_worker_preloaded';
REVOKE ALL ON FUNCTION nadia_bgw.worker_preloaded() FROM PUBLIC;

CREATE FUNCTION nadia_bgw.worker_status(
    OUT task text,
    OUT outcome text,
    OUT last_start timestamptz,
    OUT last_end timestamptz,
    OUT last_duration_ms double precision,
    OUT last_success timestamptz,
    OUT runs bigint,
    OUT failures bigint,
    OUT last_error text,
    OUT worker_pid integer,
    OUT worker_state text,
    OUT worker_started_at timestamptz,
    OUT cycles bigint,
    OUT last_cycle_start timestamptz,
    OUT last_cycle_end timestamptz,
    OUT next_cycle_at timestamptz)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'nadia_bgw_worker_status';
REVOKE ALL ON FUNCTION nadia_bgw.worker_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nadia_bgw.worker_status() TO nadia_bgw_reader;

CREATE VIEW nadia_bgw.status AS
    SELECT * FROM nadia_bgw.worker_status();
REVOKE ALL ON nadia_bgw.status FROM PUBLIC;
GRANT SELECT ON nadia_bgw.status TO nadia_bgw_reader;

CREATE FUNCTION nadia_bgw.wake(wait boolean DEFAULT false,
                               timeout_ms integer DEFAULT 30000)
RETURNS boolean
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'nadia_bgw_wake';
REVOKE ALL ON FUNCTION nadia_bgw.wake(boolean, integer) FROM PUBLIC;

-- One row, moved by the heartbeat task each cycle.
CREATE TABLE nadia_bgw.heartbeat (
    id      integer PRIMARY KEY CHECK (id = 1),
    beat_at timestamptz,
    beats   bigint NOT NULL DEFAULT 0
);
INSERT INTO nadia_bgw.heartbeat (id) VALUES (1);
REVOKE ALL ON nadia_bgw.heartbeat FROM PUBLIC;
GRANT SELECT ON nadia_bgw.heartbeat TO nadia_bgw_reader;

-- Say at once when no worker will serve this database.
DO $$
BEGIN
    IF NOT nadia_bgw.worker_preloaded() THEN
        RAISE WARNING 'nadia_bgw is not in shared_preload_libraries: no background worker is running'
            USING HINT = 'Add nadia_bgw to shared_preload_libraries in postgresql.conf and restart the server.';
    ELSIF pg_catalog.current_setting('nadia_bgw.database') <> pg_catalog.current_database() THEN
        RAISE NOTICE 'the nadia_bgw worker serves database "%", not this one',
                     pg_catalog.current_setting('nadia_bgw.database')
            USING HINT = 'Set nadia_bgw.database and restart the server to move it here.';
    END IF;
END
$$;
