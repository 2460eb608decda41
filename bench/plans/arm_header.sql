-- bench/plans/arm_header.sql -- prepended to every pgbench script of the
-- overhead part (bench/plans/run.sh).  Each client runs its transactions
-- in blocks of :block; block b of client c runs in arm (b + c) % 4:
--   0 nothing (the baseline)      1 nadia_bgw's plan capture
--   2 auto_explain                3 pg_qualstats
-- The switch is three SETs in the first transaction of a block (left out
-- of the figures); with 8 clients two clients are in each arm at any time,
-- so all four see the same machine at once.  :k counts the client's
-- transactions from 0 (pgbench's log numbers them from 1: k = number - 1),
-- the footer bench/plans/arm_footer.sql increments it.
\if :k % :block = 0
\set arm (:k / :block + :client_id) % 4
\set cap 0
\set ae -1
\set qs 0
\if :arm = 1
\set cap 1
\elif :arm = 2
\set ae 0
\elif :arm = 3
\set qs 1
\endif
SET nadia_bgw.plan_capture = :cap;
SET auto_explain.log_min_duration = :ae;
SET pg_qualstats.enabled = :qs;
\endif
