-- nadia_bgw 1.0 -- regression detection and alerts.
--
-- The detectors (worker/regression.c) compare the newest history samples
-- with baselines learned from earlier ones and hand what they find to the
-- alert life cycle (worker/alert.c), which keeps nadia_bgw.alerts and
-- sends NOTIFY.  See docs/alerts.md.

-- One row per alert.  An alert is opened once per (kind, object) and then
-- updated in place while the condition lasts; a partial unique index keeps
-- it to one open alert per key even if two detection runs race.
CREATE TABLE nadia_bgw.alerts (
    alert_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_key       text NOT NULL,
    kind            text NOT NULL,
    state           text NOT NULL DEFAULT 'open'
                    CHECK (state IN ('open', 'resolved')),
    severity        text NOT NULL
                    CHECK (severity IN ('info', 'warning', 'critical')),
    peak_severity   text NOT NULL
                    CHECK (peak_severity IN ('info', 'warning', 'critical')),
    object          text NOT NULL,
    object_type     text NOT NULL,
    dbid            oid,
    datname         name,
    relid           oid,
    relname         text,
    queryid         bigint,
    userid          oid,
    query           text,
    metric          text NOT NULL,
    baseline        double precision,
    observed        double precision,
    ratio           double precision,
    opened_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    escalated_at    timestamptz,
    resolved_at     timestamptz,
    resolved_by     text CHECK (resolved_by IN ('auto', 'stale', 'manual')),
    firing_cycles   integer NOT NULL DEFAULT 1,
    normal_cycles   integer NOT NULL DEFAULT 0,
    idle_cycles     integer NOT NULL DEFAULT 0,
    acknowledged_at timestamptz,
    acknowledged_by name,
    ack_note        text,
    muted           boolean NOT NULL DEFAULT false,
    notify_pending  text,
    notified_at     timestamptz,
    notify_error    text,
    details         jsonb NOT NULL DEFAULT '{}'
) WITH (fillfactor = 70);
CREATE UNIQUE INDEX alerts_one_open_per_key
    ON nadia_bgw.alerts (alert_key) WHERE state = 'open';
CREATE INDEX alerts_opened_at ON nadia_bgw.alerts (opened_at);
CREATE INDEX alerts_notify_pending ON nadia_bgw.alerts (alert_id)
    WHERE notify_pending IS NOT NULL;
REVOKE ALL ON nadia_bgw.alerts FROM PUBLIC;
GRANT SELECT ON nadia_bgw.alerts TO nadia_bgw_reader;

CREATE VIEW nadia_bgw.open_alerts AS
    SELECT alert_id, kind, severity, object, metric, baseline, observed,
           ratio, opened_at, updated_at, acknowledged_at, muted, details
      FROM nadia_bgw.alerts
     WHERE state = 'open'
     ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
              opened_at;
REVOKE ALL ON nadia_bgw.open_alerts FROM PUBLIC;
GRANT SELECT ON nadia_bgw.open_alerts TO nadia_bgw_reader;

-- Mutes: a candidate alert that matches a live mute (every non-null
-- column equal) opens silently with muted = true and sends no NOTIFY.
CREATE TABLE nadia_bgw.alert_mutes (
    mute_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text,
    queryid     bigint,
    object      text,
    until       timestamptz,
    reason      text,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by  name NOT NULL DEFAULT CURRENT_USER,
    CHECK (kind IS NOT NULL OR queryid IS NOT NULL OR object IS NOT NULL)
);
REVOKE ALL ON nadia_bgw.alert_mutes FROM PUBLIC;
GRANT SELECT ON nadia_bgw.alert_mutes TO nadia_bgw_reader;

-- Learned baselines: an exponentially weighted mean and variance per
-- (scope, object, metric), updated from each new sample only, so that the
-- cost of a detection run does not grow with the length of the history.
CREATE TABLE nadia_bgw.baselines (
    scope       text NOT NULL,      -- 'statement', 'table', 'database'
    dbid        oid NOT NULL,
    objid       bigint NOT NULL,    -- queryid, relid or 0
    userid      oid NOT NULL,
    metric      text NOT NULL,
    mean        double precision NOT NULL,
    var         double precision NOT NULL DEFAULT 0,
    n           bigint NOT NULL DEFAULT 1,
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (scope, dbid, objid, userid, metric)
) WITH (fillfactor = 70);
REVOKE ALL ON nadia_bgw.baselines FROM PUBLIC;
GRANT SELECT ON nadia_bgw.baselines TO nadia_bgw_reader;

-- Where detection stands: the last sample folded into the baselines and
-- the number of detection runs (a warm-up guard for "new statement").
CREATE TABLE nadia_bgw.detector_state (
    id              integer PRIMARY KEY CHECK (id = 1),
    last_sample_id  bigint,
    last_sampled_at timestamptz,
    runs            bigint NOT NULL DEFAULT 0,
    last_run_at     timestamptz
);
INSERT INTO nadia_bgw.detector_state (id) VALUES (1);
REVOKE ALL ON nadia_bgw.detector_state FROM PUBLIC;
GRANT SELECT ON nadia_bgw.detector_state TO nadia_bgw_reader;

CREATE FUNCTION nadia_bgw.detect_regressions(
    OUT alert_id bigint,
    OUT event text,
    OUT kind text,
    OUT severity text,
    OUT object text,
    OUT metric text,
    OUT baseline double precision,
    OUT observed double precision)
RETURNS SETOF record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'nadia_bgw_detect_regressions';
REVOKE ALL ON FUNCTION nadia_bgw.detect_regressions() FROM PUBLIC;

-- The NOTIFY payload of an alert, as it would be sent for "event".
CREATE FUNCTION nadia_bgw.alert_payload(alert_id bigint,
                                        event text DEFAULT 'opened')
RETURNS text
LANGUAGE C STRICT STABLE
AS 'MODULE_PATHNAME', 'nadia_bgw_alert_payload';
REVOKE ALL ON FUNCTION nadia_bgw.alert_payload(bigint, text) FROM PUBLIC;

CREATE FUNCTION nadia_bgw.acknowledge_alert(alert_id bigint, note text DEFAULT NULL)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE nadia_bgw.alerts a
       SET acknowledged_at = now(), acknowledged_by = session_user, ack_note = note
     WHERE a.alert_id = acknowledge_alert.alert_id AND a.state = 'open'
    RETURNING true;
$$;
REVOKE ALL ON FUNCTION nadia_bgw.acknowledge_alert(bigint, text) FROM PUBLIC;

-- Close an alert by hand (for example after accepting a new normal with
-- nadia_bgw.reset_baselines); no NOTIFY is sent for it.
CREATE FUNCTION nadia_bgw.resolve_alert(alert_id bigint)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE nadia_bgw.alerts a
       SET state = 'resolved', resolved_at = now(), resolved_by = 'manual',
           updated_at = now(), notify_pending = NULL
     WHERE a.alert_id = resolve_alert.alert_id AND a.state = 'open'
    RETURNING true;
$$;
REVOKE ALL ON FUNCTION nadia_bgw.resolve_alert(bigint) FROM PUBLIC;

CREATE FUNCTION nadia_bgw.mute_alerts(kind text DEFAULT NULL,
                                      queryid bigint DEFAULT NULL,
                                      object text DEFAULT NULL,
                                      for_interval interval DEFAULT NULL,
                                      reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id bigint;
BEGIN
    IF kind IS NULL AND queryid IS NULL AND object IS NULL THEN
        RAISE EXCEPTION 'a mute needs a kind, a queryid or an object'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'To silence every alert, set nadia_bgw.notify_channel to a channel nobody listens on.';
    END IF;
    INSERT INTO nadia_bgw.alert_mutes (kind, queryid, object, until, reason)
    VALUES (mute_alerts.kind, mute_alerts.queryid, mute_alerts.object,
            now() + for_interval, mute_alerts.reason)
    RETURNING mute_id INTO id;
    -- open alerts that match stop notifying at once
    UPDATE nadia_bgw.alerts a
       SET muted = true, notify_pending = NULL
     WHERE a.state = 'open'
       AND (mute_alerts.kind IS NULL OR a.kind = mute_alerts.kind)
       AND (mute_alerts.queryid IS NULL OR a.queryid = mute_alerts.queryid)
       AND (mute_alerts.object IS NULL OR a.object = mute_alerts.object);
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw.mute_alerts(text, bigint, text, interval, text) FROM PUBLIC;

CREATE FUNCTION nadia_bgw.unmute_alerts(mute_id bigint)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    DELETE FROM nadia_bgw.alert_mutes m
     WHERE m.mute_id = unmute_alerts.mute_id
    RETURNING true;
$$;
REVOKE ALL ON FUNCTION nadia_bgw.unmute_alerts(bigint) FROM PUBLIC;

-- Forget learned baselines (all, or those of one scope / object), for
-- example after a deliberate change that makes the old normal obsolete.
CREATE FUNCTION nadia_bgw.reset_baselines(scope text DEFAULT NULL,
                                          objid bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH d AS (
        DELETE FROM nadia_bgw.baselines b
         WHERE (reset_baselines.scope IS NULL OR b.scope = reset_baselines.scope)
           AND (reset_baselines.objid IS NULL OR b.objid = reset_baselines.objid)
        RETURNING 1)
    SELECT count(*) FROM d;
$$;
REVOKE ALL ON FUNCTION nadia_bgw.reset_baselines(text, bigint) FROM PUBLIC;

-- The detectors read the newest samples of the raw history tables by
-- sampled_at.  Without an index that is a scan of the whole current raw
-- partition (up to a quarter of nadia_bgw.raw_retention of samples); with
-- one it costs the rows of the window only.  Partitioned indexes: the
-- sampler's future partitions get them too.
CREATE INDEX statement_samples_sampled_at ON nadia_bgw.statement_samples (sampled_at);
CREATE INDEX table_samples_sampled_at ON nadia_bgw.table_samples (sampled_at);
CREATE INDEX database_samples_sampled_at ON nadia_bgw.database_samples (sampled_at);
