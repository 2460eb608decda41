
-- nadia_bgw 1.0 -> 1.1 -- counted quality facts: violating and orphaned rows
-- (docs/quality.md, "Counted facts"; issue 16, item 1b).
--
-- The catalog facts of 97_quality_checks.sql say a constraint is NOT VALID
-- or a foreign key's triggers are disabled; the count worker
-- (worker/quality/quality_count.c, started by the maintenance task) counts
-- the rows that break them.  This fragment holds its history, the choice
-- of what to count next, and the recording of one attempt.  The count
-- itself runs in C, as the table's owner, in a read-only transaction: no
-- SQL of the extension ever evaluates a constraint's expression.

-- One row per count attempt, whatever its outcome.  Never a value from
-- the counted rows: numbers, OIDs and the SQLSTATE of a failure.
CREATE TABLE nadia_bgw.quality_counts (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- the fact (nadia_bgw.quality_facts.fact_id; no foreign key: the
    -- facts' retention deletes old episodes, the counts keep theirs)
    fact_id           bigint NOT NULL,
    kind              text NOT NULL,
    relid             oid NOT NULL,
    objid             oid NOT NULL,
    started_at        timestamptz NOT NULL,
    ended_at          timestamptz NOT NULL,
    -- violating (CHECK, NOT NULL) or orphaned (foreign key) rows; NULL
    -- unless done
    counted_rows      bigint,
    count_exact       boolean,
    -- 95 % half-width of an estimate, 0 when exact
    count_error_bound bigint,
    -- percentage of the table's blocks an estimate drew (each block
    -- independently, as TABLESAMPLE SYSTEM does), NULL when exact
    sample_percent    real,
    -- blocks of the counted table the attempt visited (all of them when
    -- exact, the drawn ones for an estimate)
    pages_read        bigint,
    outcome           text NOT NULL
                      CHECK (outcome IN ('done', 'skipped-locked', 'timeout', 'failed')),
    -- a failure's SQLSTATE and a message that quotes no data
    error             text,
    CHECK (outcome <> 'done' OR (counted_rows IS NOT NULL AND count_exact IS NOT NULL)),
    CHECK (ended_at >= started_at)
);
CREATE INDEX quality_counts_fact ON nadia_bgw.quality_counts (fact_id, started_at);
CREATE INDEX quality_counts_started ON nadia_bgw.quality_counts (started_at);

REVOKE ALL ON nadia_bgw.quality_counts FROM PUBLIC;
GRANT SELECT ON nadia_bgw.quality_counts TO nadia_bgw_reader;

-- The facts to count now, at most p_limit, the never counted first, then
-- the longest uncounted:
--   - the open not_valid_check, not_valid_not_null, not_valid_foreign_key
--     and disabled_fk_trigger facts whose last attempt (a skipped-locked
--     one does not count: it retries at the next cycle) started more than
--     p_interval ago, or that have none;
--   - a disabled_fk_trigger fact resolved (the triggers enabled again)
--     that has no attempt since it resolved, while its foreign key exists:
--     the rows loaded while the triggers were off are counted once more.
CREATE FUNCTION nadia_bgw._quality_count_due(p_now timestamptz, p_interval interval,
                                             p_limit integer)
RETURNS TABLE (fact_id bigint, kind text, objid oid, relid oid)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT q.fact_id, q.kind, q.objid, q.relid
      FROM nadia_bgw.quality_facts q
      LEFT JOIN LATERAL (
           SELECT max(c.started_at) AS last_try
             FROM nadia_bgw.quality_counts c
            WHERE c.fact_id = q.fact_id AND c.outcome <> 'skipped-locked') l ON true
     WHERE EXISTS (SELECT 1 FROM pg_constraint k WHERE k.oid = q.objid)
       AND ((q.resolved_at IS NULL
             AND q.kind IN ('not_valid_check', 'not_valid_not_null',
                            'not_valid_foreign_key', 'disabled_fk_trigger')
             AND (l.last_try IS NULL OR l.last_try <= p_now - p_interval))
            OR (q.resolved_at IS NOT NULL AND q.kind = 'disabled_fk_trigger'
                AND q.resolved_at > p_now - nadia_bgw.retention('daily')
                AND (l.last_try IS NULL OR l.last_try < q.resolved_at)))
     ORDER BY l.last_try NULLS FIRST, q.fact_id
     LIMIT p_limit
$$;

-- Record one attempt; a done one becomes the fact's counted_* columns
-- (what constraint_violations() and referential_integrity() show).  Also
-- the retention of the counts: like the facts, nadia_bgw.daily_retention.
-- Returns the attempt's id.
CREATE FUNCTION nadia_bgw._quality_count_record(
    p_fact_id bigint, p_started timestamptz, p_ended timestamptz,
    p_counted bigint, p_exact boolean, p_bound bigint, p_percent real,
    p_pages bigint, p_outcome text, p_error text)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO nadia_bgw.quality_counts (fact_id, kind, relid, objid, started_at, ended_at,
                                          counted_rows, count_exact, count_error_bound,
                                          sample_percent, pages_read, outcome, error)
    SELECT q.fact_id, q.kind, q.relid, q.objid, p_started, greatest(p_ended, p_started),
           p_counted, p_exact, p_bound, p_percent, p_pages, p_outcome, p_error
      FROM nadia_bgw.quality_facts q
     WHERE q.fact_id = p_fact_id
    RETURNING id INTO v_id;

    IF p_outcome = 'done' THEN
        UPDATE nadia_bgw.quality_facts q
           SET counted_rows = p_counted, count_exact = p_exact,
               count_error_bound = p_bound, counted_at = p_ended
         WHERE q.fact_id = p_fact_id;
    END IF;

    DELETE FROM nadia_bgw.quality_counts c
     WHERE c.started_at < p_ended - nadia_bgw.retention('daily');
    RETURN v_id;
END
$$;

REVOKE ALL ON FUNCTION nadia_bgw._quality_count_due(timestamptz, interval, integer),
    nadia_bgw._quality_count_record(bigint, timestamptz, timestamptz, bigint, boolean,
                                    bigint, real, bigint, text, text)
FROM PUBLIC;
