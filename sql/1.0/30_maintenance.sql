-- nadia_bgw 1.0 -- maintenance: VACUUM / ANALYZE planned from the samples.
--
-- The "maintenance" task of the worker reads nadia_bgw.maintenance_plan
-- (built on the sampler's nadia_bgw.table_stats_latest), records the jobs
-- it starts in nadia_bgw.maintenance_history and hands each one to a
-- dynamic background worker that runs the statement at top level.
-- Per-table overrides live in nadia_bgw.maintenance_settings (API:
-- set_maintenance / reset_maintenance); other modules (rollups) ask for a
-- job through nadia_bgw.request_maintenance().

-- Per-table overrides.  A NULL column means "use the GUC default".
CREATE TABLE nadia_bgw.maintenance_settings (
    relid         oid PRIMARY KEY,
    schemaname    name NOT NULL,
    relname       name NOT NULL,
    excluded      boolean NOT NULL DEFAULT false,
    vacuum_ratio  double precision CHECK (vacuum_ratio BETWEEN 0 AND 100),
    vacuum_min    bigint CHECK (vacuum_min >= 0),
    analyze_ratio double precision CHECK (analyze_ratio BETWEEN 0 AND 100),
    analyze_min   bigint CHECK (analyze_min >= 0),
    freeze_age    bigint CHECK (freeze_age BETWEEN 1 AND 2000000000),
    cooldown      interval CHECK (cooldown >= interval '0'),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
REVOKE ALL ON nadia_bgw.maintenance_settings FROM PUBLIC;
GRANT SELECT ON nadia_bgw.maintenance_settings TO nadia_bgw_reader;

-- Jobs asked for by other modules or by an operator; consumed when the
-- job is started.
CREATE TABLE nadia_bgw.maintenance_requests (
    relid        oid PRIMARY KEY,
    action       text NOT NULL CHECK (action IN ('analyze', 'vacuum', 'vacuum analyze')),
    reason       text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
REVOKE ALL ON nadia_bgw.maintenance_requests FROM PUBLIC;
GRANT SELECT ON nadia_bgw.maintenance_requests TO nadia_bgw_reader;

-- One row per job: planned (queued), running, and how it ended.
CREATE TABLE nadia_bgw.maintenance_history (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    relid              oid NOT NULL,
    schemaname         name NOT NULL,
    relname            name NOT NULL,
    action             text NOT NULL CHECK (action IN ('vacuum', 'analyze', 'vacuum analyze',
                                                       'vacuum freeze', 'vacuum freeze analyze')),
    reason             text NOT NULL,
    figures            jsonb NOT NULL DEFAULT '{}',
    emergency          boolean NOT NULL DEFAULT false,
    planned_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    started_at         timestamptz,
    ended_at           timestamptz,
    duration           interval GENERATED ALWAYS AS (ended_at - started_at) STORED,
    dead_tuples_before bigint,
    dead_tuples_after  bigint,
    -- dead tuples before + those the application made during the job - after
    dead_tuples_removed bigint,
    outcome            text NOT NULL DEFAULT 'queued'
                       CHECK (outcome IN ('queued', 'running', 'done', 'skipped-locked',
                                          'skipped-dropped', 'failed', 'cancelled')),
    error              text,
    pid                integer,
    statement          text,
    -- vacuum_cost_limit the job ran with: at start, then the one it ended
    -- with (higher if the task raised it because the job fell behind)
    cost_limit         integer
);
CREATE INDEX maintenance_history_relid_idx
    ON nadia_bgw.maintenance_history (relid, planned_at DESC);
CREATE INDEX maintenance_history_open_idx
    ON nadia_bgw.maintenance_history (id) WHERE outcome IN ('queued', 'running');
CREATE INDEX maintenance_history_planned_idx
    ON nadia_bgw.maintenance_history (planned_at);
REVOKE ALL ON nadia_bgw.maintenance_history FROM PUBLIC;
GRANT SELECT ON nadia_bgw.maintenance_history TO nadia_bgw_reader;

-- Is "at" inside nadia_bgw.maintenance_window?  The window is a list of
-- local time ranges 'HH:MM-HH:MM' (a range may wrap past midnight) in
-- nadia_bgw.maintenance_timezone (empty: the server's TimeZone); an empty
-- window means any time.  The C check hook has validated the syntax.
CREATE FUNCTION nadia_bgw.maintenance_window_open(at timestamptz DEFAULT pg_catalog.now())
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH cfg AS (
        SELECT pg_catalog.btrim(pg_catalog.current_setting('nadia_bgw.maintenance_window')) AS win,
               COALESCE(NULLIF(pg_catalog.current_setting('nadia_bgw.maintenance_timezone'), ''),
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
REVOKE ALL ON FUNCTION nadia_bgw.maintenance_window_open(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nadia_bgw.maintenance_window_open(timestamptz) TO nadia_bgw_reader;

-- The plan: every table of the latest sample that needs a VACUUM, an
-- ANALYZE or a freeze (or has a request), with the figures and thresholds
-- that put it there, ranked worst first (freeze emergencies first, then by
-- how far past its threshold it is).  "state" says whether the worker
-- would start it now: ready, running, cooldown, outside window, excluded.
-- Each table's own sample time (sampled_at) tells whether a VACUUM or
-- ANALYZE happened after its figures were taken.
CREATE VIEW nadia_bgw.maintenance_plan AS
WITH cfg AS (
    SELECT pg_catalog.current_setting('nadia_bgw.maintenance_vacuum_ratio')::float8 AS vacuum_ratio,
           pg_catalog.current_setting('nadia_bgw.maintenance_vacuum_min')::bigint AS vacuum_min,
           pg_catalog.current_setting('nadia_bgw.maintenance_analyze_ratio')::float8 AS analyze_ratio,
           pg_catalog.current_setting('nadia_bgw.maintenance_analyze_min')::bigint AS analyze_min,
           pg_catalog.current_setting('nadia_bgw.maintenance_freeze_age')::bigint AS freeze_age,
           pg_catalog.make_interval(secs => (SELECT setting::float8 FROM pg_catalog.pg_settings
                                              WHERE name = 'nadia_bgw.maintenance_cooldown')) AS cooldown,
           pg_catalog.current_setting('nadia_bgw.maintenance_emergency_anytime')::boolean AS emergency_anytime,
           pg_catalog.make_interval(secs => (SELECT setting::float8 FROM pg_catalog.pg_settings
                                              WHERE name = 'nadia_bgw.maintenance_analyze_interval')) AS analyze_interval,
           pg_catalog.current_setting('nadia_bgw.maintenance_duty_cycle')::float8 AS duty_cycle,
           pg_catalog.current_setting('nadia_bgw.maintenance_cost_limit')::float8 AS base_cost_limit,
           nadia_bgw.maintenance_window_open() AS window_open
), tab AS (
    SELECT s.relid, s.schemaname, s.relname,
           GREATEST(s.n_live_tup, 0)::bigint AS n_live_tup,
           GREATEST(s.n_dead_tup, 0)::bigint AS n_dead_tup,
           GREATEST(s.n_mod_since_analyze, 0)::bigint AS n_mod_since_analyze,
           -- the live catalog value: a freeze done since the sample counts
           LEAST(s.frozenxid_age::bigint, pg_catalog.age(c.relfrozenxid)::bigint) AS frozenxid_age,
           COALESCE(o.excluded, false) AS excluded,
           COALESCE(o.vacuum_min, cfg.vacuum_min)
             + COALESCE(o.vacuum_ratio, cfg.vacuum_ratio) * GREATEST(s.n_live_tup, 0) AS vacuum_threshold,
           COALESCE(o.analyze_min, cfg.analyze_min)
             + COALESCE(o.analyze_ratio, cfg.analyze_ratio) * GREATEST(s.n_live_tup, 0) AS analyze_threshold,
           COALESCE(o.freeze_age, cfg.freeze_age) AS freeze_threshold,
           COALESCE(o.cooldown, cfg.cooldown) AS cooldown,
           GREATEST(s.last_vacuum, s.last_autovacuum,
                    pg_catalog.pg_stat_get_last_vacuum_time(s.relid),
                    pg_catalog.pg_stat_get_last_autovacuum_time(s.relid)) AS last_vacuumed,
           GREATEST(s.last_analyze, s.last_autoanalyze,
                    pg_catalog.pg_stat_get_last_analyze_time(s.relid),
                    pg_catalog.pg_stat_get_last_autoanalyze_time(s.relid)) AS last_analyzed,
           r.action AS requested_action, r.reason AS request_reason,
           s.sampled_at,
           cfg.emergency_anytime, cfg.window_open, cfg.analyze_interval, cfg.duty_cycle,
           cfg.base_cost_limit
      FROM nadia_bgw.table_stats_latest s
      JOIN pg_catalog.pg_class c ON c.oid = s.relid
      LEFT JOIN nadia_bgw.maintenance_settings o ON o.relid = s.relid
      LEFT JOIN nadia_bgw.maintenance_requests r ON r.relid = s.relid
     CROSS JOIN cfg
     WHERE c.relkind IN ('r', 'm')
       AND c.relpersistence <> 't'
), need AS (
    SELECT tab.*,
           n_dead_tup > vacuum_threshold
             OR COALESCE(requested_action IN ('vacuum', 'vacuum analyze'), false) AS need_vacuum,
           -- an ANALYZE at most every analyze_interval: under steady churn
           -- the changes pass the threshold within seconds, and statistics
           -- of a table whose rows are rewritten, not added, barely move
           (n_mod_since_analyze > analyze_threshold
            AND COALESCE(last_analyzed <= pg_catalog.now() - analyze_interval, true))
             OR COALESCE(requested_action IN ('analyze', 'vacuum analyze'), false) AS need_analyze,
           frozenxid_age > freeze_threshold AS need_freeze,
           GREATEST(n_dead_tup / NULLIF(vacuum_threshold, 0),
                    n_mod_since_analyze / NULLIF(analyze_threshold, 0),
                    frozenxid_age::float8 / NULLIF(freeze_threshold, 0)) AS score,
           last.planned_at AS last_ours,
           -- our last job achieved little (failed, cancelled, or a VACUUM that
           -- removed less than half of the dead tuples it found and left the
           -- table over threshold: a long transaction holds them): back off
           COALESCE(last.outcome IN ('failed', 'cancelled')
                    OR (last.outcome = 'done' AND last.action LIKE 'vacuum%'
                        AND last.dead_tuples_after > vacuum_threshold
                        AND last.dead_tuples_removed < last.dead_tuples_before / 2), false)
             AND COALESCE(last.ended_at, last.planned_at) > pg_catalog.now() - cooldown AS backoff,
           -- duty cycle: after a VACUUM of d seconds the next one waits
           -- d * (1 / duty_cycle - 1), so that under heavy churn jobs do not
           -- run back to back and take the application's CPU and I/O.  A
           -- job sped up to k times maintenance_cost_limit counts as k d:
           -- what is bounded is the work, not the wall-clock time, and the
           -- speed-up must not buy more of it.  A VACUUM by anyone else
           -- since (autovacuum, which keeps running beside us, or a manual
           -- one) restarts the wait: it was a pass over the same heap and
           -- indexes, taken to cost what ours did
           COALESCE(last.outcome = 'done' AND last.action LIKE 'vacuum%'
                    AND GREATEST(last.ended_at, last_vacuumed) > pg_catalog.now()
                          - (last.ended_at - last.started_at)
                            * GREATEST(COALESCE(last.cost_limit, 0) / base_cost_limit, 1)
                            * (1 / duty_cycle - 1), false) AS spacing,
           EXISTS (SELECT 1 FROM nadia_bgw.maintenance_history h
                    WHERE h.relid = tab.relid AND h.outcome IN ('queued', 'running')) AS job_open
      FROM tab
      LEFT JOIN LATERAL (
            SELECT h.planned_at, h.started_at, h.ended_at, h.outcome, h.action, h.dead_tuples_after,
                   h.dead_tuples_before, h.dead_tuples_removed, h.cost_limit
              FROM nadia_bgw.maintenance_history h
             WHERE h.relid = tab.relid
               AND h.outcome NOT IN ('skipped-locked', 'skipped-dropped')
             ORDER BY h.id DESC LIMIT 1) AS last ON true
)
SELECT pg_catalog.rank() OVER (ORDER BY need_freeze DESC, requested_action IS NOT NULL DESC,
                                        score DESC NULLS LAST, relid) AS rank,
       relid, schemaname, relname,
       CASE WHEN need_freeze AND need_analyze THEN 'vacuum freeze analyze'
            WHEN need_freeze THEN 'vacuum freeze'
            WHEN need_vacuum AND need_analyze THEN 'vacuum analyze'
            WHEN need_vacuum THEN 'vacuum'
            ELSE 'analyze'
       END AS action,
       pg_catalog.concat_ws('; ',
           CASE WHEN need_freeze THEN pg_catalog.format('frozenxid age %s > %s', frozenxid_age, freeze_threshold) END,
           CASE WHEN n_dead_tup > vacuum_threshold THEN pg_catalog.format('dead tuples %s > %s', n_dead_tup, round(vacuum_threshold)) END,
           CASE WHEN need_analyze AND n_mod_since_analyze > analyze_threshold THEN pg_catalog.format('changes since analyze %s > %s', n_mod_since_analyze, round(analyze_threshold)) END,
           CASE WHEN requested_action IS NOT NULL THEN pg_catalog.format('requested %s: %s', requested_action, request_reason) END
       ) AS reason,
       need_freeze AS emergency,
       state,
       pg_catalog.round(score::numeric, 2) AS score,
       n_live_tup, n_dead_tup, round(vacuum_threshold)::bigint AS vacuum_threshold,
       n_mod_since_analyze, round(analyze_threshold)::bigint AS analyze_threshold,
       frozenxid_age, freeze_threshold,
       last_vacuumed, last_analyzed, last_ours AS last_job,
       pg_catalog.jsonb_build_object(
           'n_live_tup', n_live_tup, 'n_dead_tup', n_dead_tup,
           'vacuum_threshold', round(vacuum_threshold),
           'n_mod_since_analyze', n_mod_since_analyze,
           'analyze_threshold', round(analyze_threshold),
           'frozenxid_age', frozenxid_age, 'freeze_threshold', freeze_threshold,
           'score', pg_catalog.round(score::numeric, 2)) AS figures
  FROM (SELECT need.*,
               CASE WHEN excluded THEN 'excluded'
                    WHEN job_open THEN 'running'
                    -- a request is served at once.  Otherwise skip a table
                    -- handled (by anyone) since the sample was taken, whose
                    -- figures are stale, and back off after a job of ours
                    -- that failed, was cancelled or left it over threshold
                    WHEN requested_action IS NULL
                         AND (GREATEST(last_ours,
                                       CASE WHEN need_vacuum OR need_freeze THEN last_vacuumed
                                            ELSE last_analyzed END) > sampled_at
                              OR backoff
                              OR (spacing AND NOT need_freeze)) THEN 'cooldown'
                    WHEN NOT window_open
                         AND NOT (need_freeze AND emergency_anytime)
                         AND NOT (requested_action IS NOT DISTINCT FROM 'analyze'
                                  AND NOT need_vacuum) THEN 'outside window'
                    ELSE 'ready'
               END AS state
          FROM need
         WHERE need_vacuum OR need_analyze OR need_freeze) AS p;
REVOKE ALL ON nadia_bgw.maintenance_plan FROM PUBLIC;
GRANT SELECT ON nadia_bgw.maintenance_plan TO nadia_bgw_reader;

-- Per-table overrides.  Parameters left NULL use the GUC default; calling
-- it again replaces the whole override.
CREATE FUNCTION nadia_bgw.set_maintenance(
    rel regclass,
    excluded boolean DEFAULT false,
    vacuum_ratio double precision DEFAULT NULL,
    vacuum_min bigint DEFAULT NULL,
    analyze_ratio double precision DEFAULT NULL,
    analyze_min bigint DEFAULT NULL,
    freeze_age bigint DEFAULT NULL,
    cooldown interval DEFAULT NULL)
RETURNS nadia_bgw.maintenance_settings
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c   pg_catalog.pg_class;
    row nadia_bgw.maintenance_settings;
BEGIN
    IF rel IS NULL THEN
        RAISE EXCEPTION 'rel must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO c FROM pg_catalog.pg_class WHERE oid = rel;
    IF c.relkind NOT IN ('r', 'm') OR c.relpersistence = 't' THEN
        RAISE EXCEPTION '"%" is not a permanent table or materialized view', rel
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Overrides apply to the tables maintenance runs on; for a partitioned table set them on its partitions.';
    END IF;
    INSERT INTO nadia_bgw.maintenance_settings AS s
           (relid, schemaname, relname, excluded, vacuum_ratio, vacuum_min,
            analyze_ratio, analyze_min, freeze_age, cooldown)
    VALUES (rel, c.relnamespace::regnamespace::name, c.relname, COALESCE(set_maintenance.excluded, false),
            set_maintenance.vacuum_ratio, set_maintenance.vacuum_min,
            set_maintenance.analyze_ratio, set_maintenance.analyze_min,
            set_maintenance.freeze_age, set_maintenance.cooldown)
    ON CONFLICT (relid) DO UPDATE
       SET schemaname = EXCLUDED.schemaname, relname = EXCLUDED.relname,
           excluded = EXCLUDED.excluded,
           vacuum_ratio = EXCLUDED.vacuum_ratio, vacuum_min = EXCLUDED.vacuum_min,
           analyze_ratio = EXCLUDED.analyze_ratio, analyze_min = EXCLUDED.analyze_min,
           freeze_age = EXCLUDED.freeze_age, cooldown = EXCLUDED.cooldown,
           updated_at = pg_catalog.now()
    RETURNING * INTO row;
    RETURN row;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw.set_maintenance(regclass, boolean, double precision, bigint,
                                                 double precision, bigint, bigint, interval) FROM PUBLIC;

CREATE FUNCTION nadia_bgw.reset_maintenance(rel regclass)
RETURNS boolean
LANGUAGE sql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    WITH d AS (DELETE FROM nadia_bgw.maintenance_settings WHERE relid = rel RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM d)
$$;
REVOKE ALL ON FUNCTION nadia_bgw.reset_maintenance(regclass) FROM PUBLIC;

-- Ask the scheduler for a job on a table at its next cycle, whatever the
-- thresholds and the cooldown say.  Rollup refreshes call it with
-- 'analyze' after a large refresh; an ANALYZE request runs outside the
-- maintenance window too (it is cheap), a VACUUM request waits for it.
CREATE FUNCTION nadia_bgw.request_maintenance(
    rel regclass,
    action text DEFAULT 'analyze',
    reason text DEFAULT 'requested')
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c pg_catalog.pg_class;
BEGIN
    IF rel IS NULL OR action IS NULL OR reason IS NULL THEN
        RAISE EXCEPTION 'arguments must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF action NOT IN ('analyze', 'vacuum', 'vacuum analyze') THEN
        RAISE EXCEPTION 'unknown maintenance action "%"', action
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''analyze'', ''vacuum'' or ''vacuum analyze''.';
    END IF;
    SELECT * INTO c FROM pg_catalog.pg_class WHERE oid = rel;
    IF c.relkind NOT IN ('r', 'm') OR c.relpersistence = 't' THEN
        RAISE EXCEPTION '"%" is not a permanent table or materialized view', rel
            USING ERRCODE = 'wrong_object_type';
    END IF;
    INSERT INTO nadia_bgw.maintenance_requests AS q (relid, action, reason)
    VALUES (rel, request_maintenance.action, request_maintenance.reason)
    ON CONFLICT (relid) DO UPDATE
       SET action = CASE WHEN q.action = EXCLUDED.action THEN q.action
                         ELSE 'vacuum analyze' END,
           reason = EXCLUDED.reason,
           requested_at = pg_catalog.now();
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw.request_maintenance(regclass, text, text) FROM PUBLIC;

-- Rollups: a new rollup, and a refresh that recomputed a large part of a
-- rollup (at least two buckets and a tenth of them, by the bucket column's
-- n_distinct from the target's last ANALYZE; or a target never analyzed),
-- ask for an ANALYZE of the target table, served at the next cycle.  The rollup
-- module records each refresh in nadia_bgw.rollup (sql/1.0/20_rollup.sql);
-- this trigger is the only coupling.  SECURITY DEFINER: whoever may refresh
-- a rollup need not be allowed to request maintenance.
CREATE FUNCTION nadia_bgw._maintenance_after_rollup_refresh()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    permanent boolean;
    analyzed  boolean;
    nbuckets  double precision;
BEGIN
    -- a new rollup is filled at creation: analyze it; later, large refreshes
    IF TG_OP = 'UPDATE'
       AND (NEW.refreshes = OLD.refreshes OR COALESCE(NEW.last_buckets, 0) = 0) THEN
        RETURN NULL;
    END IF;
    SELECT c.relkind = 'r' AND c.relpersistence = 'p',
           s.stadistinct IS NOT NULL,
           CASE WHEN s.stadistinct >= 0 THEN s.stadistinct
                ELSE -s.stadistinct * GREATEST(c.reltuples, 0) END
      INTO permanent, analyzed, nbuckets
      FROM pg_catalog.pg_class c
      LEFT JOIN pg_catalog.pg_attribute a
             ON a.attrelid = c.oid AND a.attname = NEW.bucket_column
      LEFT JOIN pg_catalog.pg_statistic s
             ON s.starelid = c.oid AND s.staattnum = a.attnum AND NOT s.stainherit
     WHERE c.oid = NEW.target;
    IF COALESCE(permanent, false)
       AND (TG_OP = 'INSERT' OR NOT analyzed
            OR (NEW.last_buckets >= 2 AND NEW.last_buckets >= 0.1 * nbuckets)) THEN
        PERFORM nadia_bgw.request_maintenance(NEW.target, 'analyze',
                    CASE WHEN TG_OP = 'INSERT'
                         THEN pg_catalog.format('rollup %s created', NEW.name)
                         ELSE pg_catalog.format('rollup refresh: %s buckets of %s recomputed',
                                                NEW.last_buckets, NEW.name) END);
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._maintenance_after_rollup_refresh() FROM PUBLIC;
CREATE TRIGGER maintenance_after_refresh
    AFTER INSERT OR UPDATE ON nadia_bgw.rollup
    FOR EACH ROW EXECUTE FUNCTION nadia_bgw._maintenance_after_rollup_refresh();
