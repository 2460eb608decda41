-- alerts: the alert life cycle, the SQL API, the NOTIFY payload and the
-- GUCs of regression detection.  The "debug" detector (nadia_bgw.debug_alert)
-- stands in for a real regression so that each step is deterministic;
-- real detectors are exercised by the TAP tests t/4xx.
CREATE EXTENSION nadia_bgw;
-- only the debug detector's alerts matter here
CREATE FUNCTION detect() RETURNS TABLE (alert_id bigint, event text, severity text,
                                        object text, baseline float8, observed float8)
LANGUAGE sql AS $$
    SELECT alert_id, event, severity, object, baseline, observed
      FROM nadia_bgw.detect_regressions() WHERE kind = 'debug'
$$;

-- nothing to report: no alert
SELECT * FROM detect();
SELECT count(*) FROM nadia_bgw.alerts;

-- a condition opens one alert ...
SET nadia_bgw.debug_alert = 'slow:warning:40:10';
SELECT * FROM detect();
-- ... and later runs update it instead of opening another
SELECT * FROM detect();
SELECT * FROM detect();
SELECT alert_id, kind, state, severity, object, metric, baseline, observed, ratio,
       firing_cycles, normal_cycles, notify_pending, notified_at IS NOT NULL AS notified
  FROM nadia_bgw.alerts;

-- a rise in severity escalates it (once per new peak)
SET nadia_bgw.debug_alert = 'slow:critical:400:10';
SELECT * FROM detect();
SELECT * FROM detect();
SET nadia_bgw.debug_alert = 'slow:warning:40:10';
SELECT * FROM detect();
SELECT severity, peak_severity, escalated_at IS NOT NULL AS escalated
  FROM nadia_bgw.alerts WHERE alert_id = 1;

-- back to normal: resolved after alert_resolve_cycles normal runs, and a
-- firing run in between starts the count again
RESET nadia_bgw.debug_alert;
SELECT * FROM detect();
SELECT * FROM detect();
SET nadia_bgw.debug_alert = 'slow:warning:40:10';
SELECT * FROM detect();
RESET nadia_bgw.debug_alert;
SET nadia_bgw.alert_resolve_cycles = 2;
SELECT * FROM detect();
SELECT * FROM detect();
SELECT state, resolved_by, resolved_at IS NOT NULL AS has_resolved_at, normal_cycles
  FROM nadia_bgw.alerts WHERE alert_id = 1;
RESET nadia_bgw.alert_resolve_cycles;
-- the same condition again is a new alert
SET nadia_bgw.debug_alert = 'slow:warning:40:10';
SELECT * FROM detect();
RESET nadia_bgw.debug_alert;
SELECT alert_id, state FROM nadia_bgw.alerts ORDER BY alert_id;
SELECT alert_id, kind, severity, object, metric, baseline, observed, ratio, muted, details
  FROM nadia_bgw.open_alerts;

-- acknowledge and resolve by hand
SELECT nadia_bgw.acknowledge_alert(2, 'looking into it');
SELECT nadia_bgw.acknowledge_alert(1);
SELECT acknowledged_by = session_user AS by_me, ack_note FROM nadia_bgw.alerts WHERE alert_id = 2;
SELECT nadia_bgw.resolve_alert(2);
SELECT state, resolved_by FROM nadia_bgw.alerts WHERE alert_id = 2;

-- mutes: a matching condition opens silently
SELECT nadia_bgw.mute_alerts();
SELECT nadia_bgw.mute_alerts(kind => 'debug', for_interval => '1 hour', reason => 'test');
SET nadia_bgw.debug_alert = 'quiet:warning:40:10';
SELECT * FROM detect();
SELECT alert_id, muted, notify_pending, notified_at IS NULL AS never_notified
  FROM nadia_bgw.alerts WHERE alert_key = 'debug:quiet';
-- an expired mute no longer applies
SELECT nadia_bgw.unmute_alerts(1);
SELECT nadia_bgw.unmute_alerts(1);
SELECT nadia_bgw.mute_alerts(kind => 'debug', for_interval => '-1 second');
SET nadia_bgw.debug_alert = 'loud:warning:40:10';
SELECT * FROM detect();
SELECT muted, notify_pending, notified_at IS NOT NULL AS notified
  FROM nadia_bgw.alerts WHERE alert_key = 'debug:loud';
-- muting stops an open alert from notifying
SELECT nadia_bgw.mute_alerts(object => 'debug object loud');
SELECT muted FROM nadia_bgw.alerts WHERE alert_key = 'debug:loud';
SELECT kind, queryid, object, until IS NOT NULL AS has_until, reason
  FROM nadia_bgw.alert_mutes ORDER BY mute_id;
RESET nadia_bgw.debug_alert;

-- a failed NOTIFY keeps the alert and retries at the next run
SET nadia_bgw.debug_fail_notify = on;
SET nadia_bgw.debug_alert = 'flaky:critical:5:1';
SELECT * FROM detect();
SELECT state, notify_pending, notify_error, notified_at IS NULL AS never_notified
  FROM nadia_bgw.alerts WHERE alert_key = 'debug:flaky';
RESET nadia_bgw.debug_fail_notify;
SELECT * FROM detect();
SELECT state, notify_pending, notify_error, notified_at IS NOT NULL AS notified
  FROM nadia_bgw.alerts WHERE alert_key = 'debug:flaky';
RESET nadia_bgw.debug_alert;

-- the payload: versioned JSON with the documented fields
SELECT p ? 'version' AND p ? 'alert_id' AND p ? 'event' AND p ? 'state'
       AND p ? 'kind' AND p ? 'severity' AND p ? 'object' AND p ? 'metric'
       AND p ? 'baseline' AND p ? 'observed' AND p ? 'ratio' AND p ? 'time'
       AS has_fields,
       p->'version' AS version, p->>'event' AS event, p->>'kind' AS kind,
       p->'object'->>'name' AS object, p->'ratio' AS ratio, p->'truncated' AS truncated
  FROM (SELECT nadia_bgw.alert_payload(alert_id, 'opened')::jsonb AS p
          FROM nadia_bgw.alerts WHERE alert_key = 'debug:flaky') s;
SELECT nadia_bgw.alert_payload(12345);

-- statement texts are never sent (any role can LISTEN); huge names and
-- details are dropped (details first, then all but the identifying
-- fields): the payload stays under 8000 bytes and is valid JSON, whatever
-- the characters; of the details only figures and names are sent
INSERT INTO nadia_bgw.alerts (alert_key, kind, severity, peak_severity, object,
                              object_type, datname, queryid, query, metric,
                              baseline, observed, ratio, details)
VALUES ('t:ascii', 'query_latency', 'warning', 'warning', 'query ' || repeat('x, ', 34000), 'statement',
        'db', 42, 'SELECT ' || repeat('x, ', 34000), 'mean_exec_time_ms', 1, 3, 3, '{}'),
       ('t:utf8', 'query_latency', 'warning', 'warning', repeat('é€', 35000), 'statement',
        'db', 43, repeat('é€', 35000), 'mean_exec_time_ms', 1, 3, 3, '{}'),
       ('t:escapes', 'query_latency', 'warning', 'warning', repeat(E'"\\\x01', 35000), 'statement',
        'db', 44, repeat(E'"\\\x01', 35000), 'mean_exec_time_ms', 1, 3, 3, '{}'),
       ('t:details', 'lock_wait', 'warning', 'warning', 'backend 1', 'backend',
        'db', NULL, NULL, 'lock_wait_seconds', 5, 9, 1.8,
        jsonb_build_object('blockers', (SELECT jsonb_agg(g) FROM generate_series(1, 20000) g))),
       ('t:filtered', 'long_transaction', 'warning', 'warning', 'backend 2', 'backend',
        'db', 45, 'SELECT ''secret''', 'transaction_seconds', 60, 90, 1.5,
        '{"pid": 2, "user": "u", "application_name": "app secret", "query": "secret",
          "blockers": [{"pid": 3, "query": "secret", "state": "active"}]}');
SELECT alert_key, octet_length(p) < 8000 AS under_limit,
       p::jsonb->'truncated' AS truncated,
       p::jsonb ? 'object' AS has_object,
       p::jsonb ? 'details' AS has_details,
       p LIKE '%secret%' OR coalesce(p::jsonb->'object' ? 'query', false) AS has_text
  FROM (SELECT alert_key, nadia_bgw.alert_payload(alert_id, 'opened') AS p
          FROM nadia_bgw.alerts WHERE alert_key LIKE 't:%') s
 ORDER BY alert_key;
SELECT nadia_bgw.alert_payload(alert_id)::jsonb->'details' AS sent_details
  FROM nadia_bgw.alerts WHERE alert_key = 't:filtered';
-- nadia_bgw.payload_query_bytes is kept for 1.0 configurations, and ignored
SET nadia_bgw.payload_query_bytes = 6000;
SELECT nadia_bgw.alert_payload(alert_id)::jsonb->'object' ? 'query' AS has_query
  FROM nadia_bgw.alerts WHERE alert_key = 't:filtered';
RESET nadia_bgw.payload_query_bytes;

-- GUCs: check hook on the channel, bounds on thresholds
SHOW nadia_bgw.notify_channel;
SET nadia_bgw.notify_channel = '';
SET nadia_bgw.notify_channel = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';
SET nadia_bgw.notify_channel = 'ops_alerts';
RESET nadia_bgw.notify_channel;
SET nadia_bgw.latency_ratio = 1;
SET nadia_bgw.connections_share = 2;
SET nadia_bgw.alert_resolve_cycles = 0;
SET nadia_bgw.retained_wal = '2GB';
SHOW nadia_bgw.retained_wal;
RESET nadia_bgw.retained_wal;
SET nadia_bgw.debug_alert = 'nonsense';
SELECT * FROM detect();
SET nadia_bgw.debug_alert = 'x:fatal:1';
SELECT * FROM detect();
RESET nadia_bgw.debug_alert;

-- privileges: readers read alerts, only superusers act
CREATE ROLE regress_alert_reader IN ROLE nadia_bgw_reader;
CREATE ROLE regress_alert_nobody;
SET ROLE regress_alert_reader;
SELECT count(*) > 0 AS reader_sees_alerts FROM nadia_bgw.alerts;
SELECT count(*) >= 0 AS reader_sees_open FROM nadia_bgw.open_alerts;
SELECT * FROM nadia_bgw.detect_regressions();
SELECT nadia_bgw.acknowledge_alert(1);
SELECT nadia_bgw.mute_alerts(kind => 'debug');
UPDATE nadia_bgw.alerts SET state = 'resolved';
RESET ROLE;
SET ROLE regress_alert_nobody;
SELECT count(*) FROM nadia_bgw.alerts;
RESET ROLE;
DROP ROLE regress_alert_reader;
DROP ROLE regress_alert_nobody;

DROP FUNCTION detect();
DROP EXTENSION nadia_bgw;
