-- bench/plans/arm_header.sql -- prepended to every pgbench script of the
-- overhead part (bench/plans/run.sh).  Each client runs its transactions
-- in blocks of :block; block b of client c runs in arm (b + c) % 4:
--   0 nothing (the baseline)      1 nadia_bgw's plan capture
--   2 auto_explain                3 pg_qualstats
-- The switch is three SETs in the first transaction of a block (left out
-- of the figures); with 8 clients two clients are in each arm at any time,
-- so all four see the same machine at once.  :k counts the client's
-- transactions from 0 (pgbench's log numbers them from 1: k = number - 1),
-- the footer bench/plans/arm_footer.sql increments it.  The SETs are
-- literal (no :variables) so that the script also runs with -M prepared.
\if :k % :block = 0
\set arm (:k / :block + :client_id) % 4
\if :arm = 0
SET nadia_bgw.plan_capture = off;
SET auto_explain.log_min_duration = -1;
SET pg_qualstats.enabled = off;
\elif :arm = 1
SET nadia_bgw.plan_capture = on;
SET auto_explain.log_min_duration = -1;
SET pg_qualstats.enabled = off;
\elif :arm = 2
SET nadia_bgw.plan_capture = off;
SET auto_explain.log_min_duration = 0;
SET pg_qualstats.enabled = off;
\else
SET nadia_bgw.plan_capture = off;
SET auto_explain.log_min_duration = -1;
SET pg_qualstats.enabled = on;
\endif
\endif
