
-- nadia_bgw 1.0 -> 1.1 -- concurrency slots of nadia-mcp that only the
-- reader role can take.
--
-- In 1.0 nadia-mcp's limit on concurrent tool calls (per database, over all
-- its processes) was pg_try_advisory_xact_lock(1312899145, 1..N).  Any
-- role, even one with no grant at all, can take those keys with
-- pg_advisory_lock() and keep them: every tool then answers "rate limited"
-- forever.  Advisory locks cannot be restricted, and pg_locks, which every
-- role can read, shows the keys in use.
--
-- A slot is now one of the views nadia_bgw.mcp_slot_1 .. mcp_slot_16 (16 is
-- MCP_MAX_SLOTS in mcp/nadia_mcp.h, the largest --max-concurrent), taken
-- with LOCK TABLE ... IN SHARE UPDATE EXCLUSIVE MODE NOWAIT:
--
--  - that mode conflicts with itself, so a slot is held by one call;
--  - it is a transaction-level lock: freed when the tool's transaction
--    ends, also when the client or its backend dies;
--  - LOCK TABLE checks privileges before it queues or locks (for this mode:
--    UPDATE, DELETE or TRUNCATE on the view, or MAINTAIN on 17+), so only
--    nadia_bgw_reader (granted UPDATE below), the owner and superusers
--    can take a slot; any other role gets "permission denied" without ever
--    holding it.  Weaker modes anyone can get on a relation it may not
--    read (ACCESS SHARE, e.g. through PREPARE) do not conflict with it;
--  - the views select a constant and cannot be written through (no base
--    relation, no rule, no INSTEAD OF trigger): UPDATE on them writes
--    nothing, which nadia-mcp's privilege check knows (docs/mcp.md).
--
-- The reader also gets SELECT on them, like on every nadia_bgw view (the
-- view shows its slot number, nothing else).

DO $$
BEGIN
    FOR s IN 1 .. 16 LOOP
        EXECUTE format('CREATE VIEW nadia_bgw.%I AS SELECT %s AS slot', 'mcp_slot_' || s, s);
        EXECUTE format('REVOKE ALL ON nadia_bgw.%I FROM PUBLIC', 'mcp_slot_' || s);
        EXECUTE format('GRANT SELECT, UPDATE ON nadia_bgw.%I TO nadia_bgw_reader', 'mcp_slot_' || s);
        EXECUTE format('COMMENT ON VIEW nadia_bgw.%I IS %L', 'mcp_slot_' || s,
                       'concurrency slot of nadia-mcp: a tool call holds it with LOCK TABLE ... IN SHARE UPDATE EXCLUSIVE MODE (see nadia_bgw.mcp_take_slot)');
    END LOOP;
END
$$;

-- Take the first free slot among 1..max_slots for the current transaction
-- and return its number, or NULL when all are taken.  SECURITY INVOKER on
-- purpose: LOCK checks the caller's privileges, which is what keeps other
-- roles out.  Each attempt is a subtransaction (the exception block); a
-- lock taken in it stays with the transaction when it succeeds.
CREATE FUNCTION nadia_bgw.mcp_take_slot(max_slots integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF max_slots IS NULL OR max_slots < 1 OR max_slots > 16 THEN
        RAISE EXCEPTION 'max_slots must be between 1 and 16, not %', max_slots
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'nadia_bgw has 16 concurrency slots (nadia_bgw.mcp_slot_1 .. mcp_slot_16).';
    END IF;
    FOR s IN 1 .. max_slots LOOP
        BEGIN
            EXECUTE format('LOCK TABLE nadia_bgw.%I IN SHARE UPDATE EXCLUSIVE MODE NOWAIT',
                           'mcp_slot_' || s);
            RETURN s;
        EXCEPTION WHEN lock_not_available THEN
            NULL;               -- held by another call: try the next one
        END;
    END LOOP;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw.mcp_take_slot(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nadia_bgw.mcp_take_slot(integer) TO nadia_bgw_reader;
