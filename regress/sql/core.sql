-- core: extension objects, privileges, GUC validation, status and wake.
-- The worker of this cluster serves database "postgres" (regress.conf), so
-- creating the extension here says so.
CREATE EXTENSION nadia_bgw;
-- the worker starts with the server; give it a moment to attach
DO $$
BEGIN
    FOR i IN 1..300 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM nadia_bgw.status WHERE worker_pid IS NOT NULL);
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;

-- the schema and everything in it is closed to PUBLIC
SELECT has_schema_privilege('public', 'nadia_bgw', 'USAGE') AS public_usage;
SELECT p.oid::regprocedure AS public_can_execute
  FROM pg_proc p
 WHERE p.pronamespace = 'nadia_bgw'::regnamespace
   AND has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY 1;
SELECT c.relname AS public_can_select
  FROM pg_class c
 WHERE c.relnamespace = 'nadia_bgw'::regnamespace
   AND c.relkind IN ('r', 'v', 'p', 'm')
   AND has_table_privilege('public', c.oid, 'SELECT')
 ORDER BY 1;

-- the reader role exists, cannot log in, and reads but does not act
SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = 'nadia_bgw_reader';
SELECT has_table_privilege('nadia_bgw_reader', 'nadia_bgw.status', 'SELECT') AS reader_status,
       has_table_privilege('nadia_bgw_reader', 'nadia_bgw.heartbeat', 'UPDATE') AS reader_update_heartbeat,
       has_function_privilege('nadia_bgw_reader', 'nadia_bgw.wake(boolean,integer)', 'EXECUTE') AS reader_wake;

CREATE ROLE regress_nadia_nobody;
CREATE ROLE regress_nadia_reader IN ROLE nadia_bgw_reader;
SET ROLE regress_nadia_nobody;
SELECT count(*) FROM nadia_bgw.status;
SELECT nadia_bgw.wake();
RESET ROLE;
SET ROLE regress_nadia_reader;
SELECT count(*) > 0 AS reader_sees_tasks FROM nadia_bgw.status;
SELECT nadia_bgw.wake();
UPDATE nadia_bgw.heartbeat SET beats = 0;
RESET ROLE;

-- the status view: one row per task, with the worker's columns
SELECT task, worker_pid IS NOT NULL AS worker_running
  FROM nadia_bgw.status ORDER BY task;
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute
 WHERE attrelid = 'nadia_bgw.status'::regclass AND attnum > 0
 ORDER BY attnum;

-- wake() with wait returns once a whole cycle ran after the request
SELECT cycles AS before FROM nadia_bgw.status LIMIT 1 \gset
SELECT nadia_bgw.wake(wait => true);
SELECT cycles > :before AS cycle_ran FROM nadia_bgw.status LIMIT 1;
-- that worker's database has no extension, so it waits and says so
SELECT DISTINCT worker_state FROM nadia_bgw.status;
SELECT nadia_bgw.wake(true, -1);

-- GUCs: bounds, check hooks, reserved prefix
SHOW nadia_bgw.interval;
SET nadia_bgw.interval = 10;
ALTER SYSTEM SET nadia_bgw.interval = 0;
ALTER SYSTEM SET nadia_bgw.interval = '2 days';
ALTER SYSTEM SET nadia_bgw.enabled = 'maybe';
ALTER SYSTEM SET nadia_bgw.database = '';
ALTER SYSTEM SET nadia_bgw.database = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';
SET nadia_bgw.no_such_setting = 1;
SELECT name, setting, unit, context, min_val, max_val
  FROM pg_settings WHERE name LIKE 'nadia\_bgw.%' ORDER BY name;

-- a non-superuser cannot set the testing hooks
SET ROLE regress_nadia_nobody;
SET nadia_bgw.debug_fail_task = 'heartbeat';
RESET ROLE;

DROP ROLE regress_nadia_nobody;
DROP ROLE regress_nadia_reader;
