-- bench/plans/select_only.sql -- pgbench's built-in select-only script
-- (pgbench -S) as a file, so the arm header can go before it.
\set aid random(1, 100000 * :scale)
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
