-- bench/plans/arm_footer.sql -- appended to every pgbench script of the
-- overhead part: the client's transaction counter (see arm_header.sql).
\set k :k + 1
