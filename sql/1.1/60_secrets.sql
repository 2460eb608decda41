
-- nadia_bgw 1.0 -> 1.1 -- another session's text is never ours to store.
--
-- 1.0 stored utility statements verbatim in nadia_bgw.statements (COPY ...
-- PROGRAM 'PGPASSWORD=...', CREATE SUBSCRIPTION ... CONNECTION with a
-- password, DO bodies, SET app.api_key = '...'), copied the raw
-- pg_stat_activity.query of other sessions into lock-wait and
-- long-transaction alerts (and into their NOTIFY payloads, which any role
-- can LISTEN to), and recorded error messages that can quote a data value
-- where nadia_bgw_reader reads them.  From 1.1 the worker stores only what
-- worker/statement_text.c lets through and SQLSTATEs for errors; this
-- script rewrites what 1.0 already stored, in place (the history stays).
-- See docs/security.md, section 2.

-- The text nadia_bgw may store for a statement text: PostgreSQL's
-- normalized text for an optimizable statement without literals, else the
-- command tag and object names (worker/statement_text.c).  Parallel
-- unsafe: it parses in a subtransaction, which a parallel worker cannot
-- start.
CREATE FUNCTION nadia_bgw._safe_statement_text(query text)
RETURNS text
LANGUAGE C STRICT STABLE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'nadia_bgw_safe_statement_text';
REVOKE ALL ON FUNCTION nadia_bgw._safe_statement_text(text) FROM PUBLIC;

-- "22P02: data exception (message in the server log)" for a SQLSTATE: what
-- the reader role sees of an error (worker/public_error.c).
CREATE FUNCTION nadia_bgw._public_error(sqlstate text)
RETURNS text
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'nadia_bgw_public_error';
REVOKE ALL ON FUNCTION nadia_bgw._public_error(text) FROM PUBLIC;

-- Statement texts stored by 1.0.  Rows already redacted by 1.0 ("<redacted
-- ALTER ROLE statement>") hold no secret and stay.  A text 1.0 cut at
-- nadia_bgw.query_text_max no longer parses and becomes "<SELECT
-- statement>": it cannot be checked.
UPDATE nadia_bgw.statements s
   SET query = n.safe, redacted = true
  FROM (SELECT stmt_id, nadia_bgw._safe_statement_text(query) AS safe
          FROM nadia_bgw.statements
         WHERE NOT redacted AND query IS NOT NULL) n
 WHERE s.stmt_id = n.stmt_id AND n.safe IS DISTINCT FROM s.query;

-- Alerts: the statement text is the one statement history holds for the
-- alert's query id (as the 1.1 detectors store it), or nothing; lock-wait
-- blockers lose the text 1.0 copied from pg_stat_activity.
UPDATE nadia_bgw.alerts a
   SET query = (SELECT st.query FROM nadia_bgw.statements st
                 WHERE st.queryid = a.queryid AND st.dbid = a.dbid
                   AND st.userid = a.userid)
 WHERE a.query IS NOT NULL;
UPDATE nadia_bgw.alerts a
   SET details = pg_catalog.jsonb_set(a.details, '{blockers}',
         (SELECT COALESCE(pg_catalog.jsonb_agg(b - 'query' ORDER BY o), '[]'::jsonb)
            FROM pg_catalog.jsonb_array_elements(a.details -> 'blockers')
                 WITH ORDINALITY AS e(b, o)))
 WHERE pg_catalog.jsonb_typeof(a.details -> 'blockers') = 'array';

-- Error texts readable by nadia_bgw_reader: "SQLSTATE: message" becomes
-- the SQLSTATE and its class.
UPDATE nadia_bgw.alerts
   SET notify_error = nadia_bgw._public_error(pg_catalog.left(notify_error, 5))
 WHERE notify_error ~ '^[0-9A-Z]{5}: ';
UPDATE nadia_bgw.rollup
   SET last_error = nadia_bgw._public_error(pg_catalog.left(last_error, 5))
 WHERE last_error ~ '^[0-9A-Z]{5}: ';
-- samples.outcome: a failed source's "error: SQLSTATE: message".
UPDATE nadia_bgw.samples s
   SET outcome = (SELECT pg_catalog.jsonb_object_agg(o.key,
                           CASE WHEN o.value #>> '{}' ~ '^error: [0-9A-Z]{5}: '
                                THEN pg_catalog.to_jsonb('error: ' || nadia_bgw._public_error(
                                         pg_catalog.substr(o.value #>> '{}', 8, 5)))
                                ELSE o.value END)
                    FROM pg_catalog.jsonb_each(s.outcome) o)
 WHERE s.failed_sources <> '{}' AND pg_catalog.jsonb_typeof(s.outcome) = 'object';

-- The worker's rollup task: every rollup of this database, each in a
-- subtransaction so that one failure does not stop the others.  The full
-- message goes to the server log; nadia_bgw.rollups (readable by
-- nadia_bgw_reader) shows the SQLSTATE only, since a message can quote an
-- application value ('invalid input syntax for type numeric: "card
-- 4111-..."').
CREATE OR REPLACE FUNCTION nadia_bgw._rollup_task()
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
            -- the worker has no client: this goes to the server log
            RAISE WARNING 'nadia_bgw: refresh of rollup "%" failed: %', rname, SQLERRM;
            UPDATE nadia_bgw.rollup
               SET last_error = nadia_bgw._public_error(SQLSTATE), failures = failures + 1
             WHERE id IN (SELECT id FROM nadia_bgw.rollup WHERE id = rid
                          FOR UPDATE SKIP LOCKED);
        END;
    END LOOP;
    RETURN total;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._rollup_task() FROM PUBLIC;

-- Alert details: 1.0 wrote "nadia_baseline_samples" (a rename by mistake
-- in a refactoring) where docs/alerts.md documents "baseline_samples".
UPDATE nadia_bgw.alerts
   SET details = (details - 'nadia_baseline_samples')
                 || pg_catalog.jsonb_build_object('baseline_samples',
                                                  details -> 'nadia_baseline_samples')
 WHERE details ? 'nadia_baseline_samples';
