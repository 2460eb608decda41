
-- nadia_bgw 1.0 -> 1.1 -- the cluster each source's baseline belongs to.
--
-- pg_upgrade carries every table across, the unlogged *_state tables of
-- the databases and cluster sources included (with the old cluster's
-- cumulative counters), while the new cluster's statistics start again.
-- The sampler stores pg_control's system identifier with each source's
-- baseline; when it differs (pg_upgrade makes a new cluster) the source
-- takes a new baseline and records 'state_lost', as after a crash.  NULL
-- (an install updated from 1.0): the next sample fills it in.
ALTER TABLE nadia_bgw.source_state ADD COLUMN system_identifier bigint;
