
-- nadia_bgw 1.0 -> 1.1 -- the maintenance window in the server's TimeZone.
--
-- With nadia_bgw.maintenance_timezone empty, 1.0 judged the window in the
-- TimeZone of whichever session asked: the worker (the server's zone) and
-- a client with PGTZ or SET TimeZone could disagree about whether it was
-- open, so nadia_bgw.maintenance_plan showed "ready" or "outside window"
-- depending on who looked.  The worker publishes its zone in shared memory.

-- The server's TimeZone as the worker sees it; NULL before the worker ran
-- (or without shared_preload_libraries).
CREATE FUNCTION nadia_bgw.server_timezone()
RETURNS text
LANGUAGE C STABLE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'nadia_bgw_server_timezone';
REVOKE ALL ON FUNCTION nadia_bgw.server_timezone() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nadia_bgw.server_timezone() TO nadia_bgw_reader;

-- Is "at" inside nadia_bgw.maintenance_window?  The window is a list of
-- local time ranges 'HH:MM-HH:MM' (a range may wrap past midnight) in
-- nadia_bgw.maintenance_timezone (empty: the server's TimeZone, whatever
-- the caller's session has); an empty window means any time.  Local
-- clock times: on the day DST starts a range inside the skipped hour does
-- not open, and on the day it ends a range in the repeated hour is open
-- both times.  The C check hook has validated the syntax.
CREATE OR REPLACE FUNCTION nadia_bgw.maintenance_window_open(at timestamptz DEFAULT pg_catalog.now())
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH cfg AS (
        SELECT pg_catalog.btrim(pg_catalog.current_setting('nadia_bgw.maintenance_window')) AS win,
               COALESCE(NULLIF(pg_catalog.current_setting('nadia_bgw.maintenance_timezone'), ''),
                        nadia_bgw.server_timezone(),
                        pg_catalog.current_setting('TimeZone')) AS tz
    ), ranges AS (
        SELECT pg_catalog.split_part(pg_catalog.btrim(r), '-', 1)::time AS s,
               pg_catalog.split_part(pg_catalog.btrim(r), '-', 2)::time AS e
          FROM cfg, pg_catalog.regexp_split_to_table(cfg.win, ',') AS r
         WHERE pg_catalog.btrim(r) <> ''
    ), local AS (
        SELECT (at AT TIME ZONE cfg.tz)::time AS t FROM cfg
    )
    SELECT (SELECT win = '' FROM cfg)
        OR EXISTS (SELECT 1 FROM ranges, local
                    WHERE CASE WHEN ranges.s < ranges.e
                               THEN local.t >= ranges.s AND local.t < ranges.e
                               ELSE local.t >= ranges.s OR local.t < ranges.e
                          END)
$$;
