-- TEMPORARY stand-in for the sampler's contract view, removed when branch
-- "sampler" is merged: the latest table statistics, read live.
CREATE VIEW nadia_bgw.table_stats_latest AS
SELECT s.relid, s.schemaname, s.relname, s.n_live_tup, s.n_dead_tup,
       s.n_mod_since_analyze, s.last_vacuum, s.last_autovacuum,
       s.last_analyze, s.last_autoanalyze,
       pg_catalog.age(c.relfrozenxid)::bigint AS frozenxid_age,
       NULL::bigint AS heap_bytes,
       NULL::bigint AS total_bytes
  FROM pg_catalog.pg_stat_user_tables s
  JOIN pg_catalog.pg_class c ON c.oid = s.relid;
REVOKE ALL ON nadia_bgw.table_stats_latest FROM PUBLIC;
GRANT SELECT ON nadia_bgw.table_stats_latest TO nadia_bgw_reader;
