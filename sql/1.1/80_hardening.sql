
-- nadia_bgw 1.0 -> 1.1 -- a pinned search_path for every function of
-- ours that runs SQL in the caller's session.
--
-- The worker pins search_path = pg_catalog, pg_temp for its own session
-- (worker/session.c), but take_sample(), maintain_history(),
-- detect_regressions() and alert_payload() run the same C code in the
-- session of whoever calls them, a superuser unless a DBA granted them.
-- That session may have its search_path from the database's owner
-- (ALTER DATABASE ... SET search_path = evil, pg_catalog): an unqualified
-- function or operator of our SQL (text = text) would then run the
-- owner's code as that superuser.  SECURITY DEFINER functions of 1.0
-- already pin it; regress/t/011_search_path.pl checks that every
-- SECURITY DEFINER function and every one of these does.
ALTER FUNCTION nadia_bgw.take_sample() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION nadia_bgw.maintain_history(timestamptz) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION nadia_bgw.detect_regressions() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION nadia_bgw.alert_payload(bigint, text) SET search_path = pg_catalog, pg_temp;
