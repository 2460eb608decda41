-- quality_counts: the SQL side of the counted facts
-- (sql/1.1/99_quality_counts.sql, docs/quality.md "Counted facts"): which
-- facts are due at a given instant (time is an input), how an attempt is
-- recorded and copied into its fact, retention and privileges.  The
-- counting itself (the count worker) is tested by t/761_quality_counts.pl.
CREATE DATABASE regress_qcount ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c regress_qcount
SET client_min_messages = warning;
SET TimeZone = 'UTC';
CREATE EXTENSION nadia_bgw;

CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent);
CREATE INDEX ON child (parent_id);
CREATE TABLE t (v int);
ALTER TABLE t ADD CONSTRAINT t_pos CHECK (v > 0) NOT VALID;
ALTER TABLE child DISABLE TRIGGER ALL;
SELECT nadia_bgw._quality_checks('2030-01-01 00:00+00') AS changed;

-- every countable open fact is due: never counted
SELECT kind
  FROM nadia_bgw._quality_count_due('2030-01-01 00:01+00', '1 day', 10) d ORDER BY kind;
SELECT count(*) AS limited FROM nadia_bgw._quality_count_due('2030-01-01 00:01+00', '1 day', 1);

-- a done attempt: recorded, copied into the fact
SELECT nadia_bgw._quality_count_record(q.fact_id, '2030-01-01 00:02+00', '2030-01-01 00:02:05+00',
                                       3, true, 0, NULL, 12, 'done', NULL) > 0 AS recorded
  FROM nadia_bgw.quality_facts q WHERE q.kind = 'not_valid_check';
SELECT kind, counted_rows, count_exact, count_error_bound, counted_at
  FROM nadia_bgw.constraint_violations('2030-01-01', '2030-01-02') WHERE kind = 'not_valid_check';
SELECT kind, counted_rows, count_exact, count_error_bound, sample_percent, pages_read, outcome, error,
       ended_at - started_at = interval '5 seconds' AS took_5s
  FROM nadia_bgw.quality_counts;
-- not due again within the interval, due after it
SELECT kind FROM nadia_bgw._quality_count_due('2030-01-01 12:00+00', '1 day', 10) ORDER BY kind;
SELECT kind FROM nadia_bgw._quality_count_due('2030-01-02 00:02+00', '1 day', 10) ORDER BY kind;

-- an estimate, then a skipped-locked attempt: the fact keeps the last
-- done count, and skipped-locked does not wait for the interval
SELECT nadia_bgw._quality_count_record(q.fact_id, '2030-01-01 00:03+00', '2030-01-01 00:03:01+00',
                                       1200, false, 150, 1, 40, 'done', NULL) > 0 AS recorded
  FROM nadia_bgw.quality_facts q WHERE q.kind = 'disabled_fk_trigger';
SELECT nadia_bgw._quality_count_record(q.fact_id, '2030-01-01 00:04+00', '2030-01-01 00:04+00',
                                       NULL, NULL, NULL, NULL, 0, 'skipped-locked', '55P03: locked') > 0
  FROM nadia_bgw.quality_facts q WHERE q.kind = 'not_valid_check';
SELECT kind, counted_rows, count_exact, count_error_bound
  FROM nadia_bgw.referential_integrity('2030-01-01', '2030-01-02') WHERE kind = 'disabled_fk_trigger';
SELECT kind, counted_rows, counted_at FROM nadia_bgw.quality_facts WHERE kind = 'not_valid_check';
SELECT kind FROM nadia_bgw._quality_count_due('2030-01-01 12:00+00', '1 day', 10) ORDER BY kind;
-- a failed attempt counts against the interval
SELECT nadia_bgw._quality_count_record(q.fact_id, '2030-01-01 00:05+00', '2030-01-01 00:05+00',
                                       NULL, NULL, NULL, NULL, 0, 'failed', '42501: insufficient_privilege') > 0
  FROM nadia_bgw.quality_facts q WHERE q.kind = 'not_valid_check';
SELECT kind FROM nadia_bgw._quality_count_due('2030-01-01 12:00+00', '1 day', 10) ORDER BY kind;
-- only the four outcomes
\set VERBOSITY terse
SELECT nadia_bgw._quality_count_record(q.fact_id, '2030-01-01 00:05+00', '2030-01-01 00:05+00',
                                       NULL, NULL, NULL, NULL, 0, 'maybe', NULL)
  FROM nadia_bgw.quality_facts q WHERE q.kind = 'not_valid_check';
\set VERBOSITY default
-- the triggers enabled again: the disabled_fk_trigger fact resolves and is
-- due once more (rows loaded meanwhile stay), until counted after that
ALTER TABLE child ENABLE TRIGGER ALL;
SELECT nadia_bgw._quality_checks('2030-01-01 01:00+00') AS changed;
SELECT kind FROM nadia_bgw._quality_count_due('2030-01-01 01:01+00', '1 day', 10) ORDER BY kind;
SELECT nadia_bgw._quality_count_record(q.fact_id, '2030-01-01 01:02+00', '2030-01-01 01:02+00',
                                       0, true, 0, NULL, 1, 'done', NULL) > 0
  FROM nadia_bgw.quality_facts q WHERE q.kind = 'disabled_fk_trigger';
SELECT kind FROM nadia_bgw._quality_count_due('2030-01-01 01:03+00', '1 day', 10) ORDER BY kind;

-- a dropped constraint is never due
ALTER TABLE t DROP CONSTRAINT t_pos;
SELECT count(*) AS due_after_drop FROM nadia_bgw._quality_count_due('2030-02-01', '1 day', 10);

-- retention: attempts older than daily_retention go when one is recorded
SELECT nadia_bgw._quality_count_record(q.fact_id, '2032-01-01', '2032-01-01',
                                       0, true, 0, NULL, 1, 'done', NULL) > 0
  FROM nadia_bgw.quality_facts q WHERE q.kind = 'disabled_fk_trigger';
SELECT count(*) AS kept, min(started_at) FROM nadia_bgw.quality_counts;

-- privileges: the reader reads the history, PUBLIC nothing, neither calls
-- the worker's functions
CREATE ROLE regress_qcount_reader LOGIN IN ROLE nadia_bgw_reader;
CREATE ROLE regress_qcount_other LOGIN;
SELECT has_table_privilege('regress_qcount_reader', 'nadia_bgw.quality_counts', 'SELECT') AS reader_reads,
       has_table_privilege('regress_qcount_reader', 'nadia_bgw.quality_counts', 'INSERT') AS reader_writes,
       has_table_privilege('regress_qcount_other', 'nadia_bgw.quality_counts', 'SELECT') AS public_reads;
SELECT p.proname, has_function_privilege('regress_qcount_other', p.oid, 'EXECUTE') AS public_can,
       has_function_privilege('regress_qcount_reader', p.oid, 'EXECUTE') AS reader_can
  FROM pg_proc p
 WHERE p.pronamespace = 'nadia_bgw'::regnamespace
   AND p.proname IN ('_quality_count_due', '_quality_count_record')
 ORDER BY 1;

\c contrib_regression
DROP DATABASE regress_qcount;
DROP ROLE regress_qcount_reader, regress_qcount_other;
