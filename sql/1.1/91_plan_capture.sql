
-- nadia_bgw 1.0 -> 1.1 -- the plan capture's store (docs/plans.md, "Capture").
--
-- The preloaded library counts each top-level execution per (database,
-- user, queryid, plan id) in shared memory, with the plan's masked text,
-- summary and nodes from its first execution and the nodes of its latest
-- sampled execution.  These two functions read that store; the "sample"
-- task drains it into plan history.  Superusers only: the store holds
-- every user's statements.  Without preloading both return nothing
-- (_plan_store_info() one row of zeros and a NULL created_at).

-- One row per plan, its counters cumulative since the entry was created
-- (never reset by reading); times in milliseconds.  with_text = false
-- leaves the four texts NULL (cheaper for a reader of counters only).
CREATE FUNCTION nadia_bgw._plan_store(with_text boolean DEFAULT true)
RETURNS TABLE (dbid oid, userid oid, queryid bigint, planid bigint,
               calls bigint, total_exec_time double precision,
               min_exec_time double precision, max_exec_time double precision,
               rows bigint, shared_blks_hit bigint, shared_blks_read bigint,
               sampled_calls bigint,
               first_seen timestamptz, last_seen timestamptz,
               sampled_at timestamptz,
               plan_text text, summary text, plan_nodes jsonb,
               sampled_nodes jsonb)
LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'nadia_bgw_plan_store';

-- The store's fill and its cumulative counters: entries and text bytes
-- against their caps, executions not tracked for want of an entry, plans
-- whose texts did not fit, plan trees hashed, and when the store was
-- created (a restart starts a new baseline).
CREATE FUNCTION nadia_bgw._plan_store_info(
    OUT entries integer, OUT max_entries integer,
    OUT text_bytes bigint, OUT max_text_bytes bigint,
    OUT not_tracked bigint, OUT texts_dropped bigint,
    OUT plan_ids_computed bigint, OUT created_at timestamptz)
RETURNS record
LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'nadia_bgw_plan_store_info';

REVOKE ALL ON FUNCTION nadia_bgw._plan_store(boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION nadia_bgw._plan_store_info() FROM PUBLIC;
