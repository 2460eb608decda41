-- quality_checks: the catalog facts of constraints and integrity
-- (sql/1.1/97_quality_checks.sql, docs/quality.md "Constraints and
-- integrity").  _quality_checks() is called with explicit instants (time is
-- an input); each fact is created, seen, fixed and seen resolved, and the
-- readers are read over ranges around those instants.  The invalid index
-- is a real one: a CREATE UNIQUE INDEX CONCURRENTLY that fails on
-- duplicate values (pg_regress runs each statement outside a transaction
-- block).  A database of its own.
CREATE DATABASE regress_quality ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c regress_quality
SET client_min_messages = warning;
SET TimeZone = 'UTC';
CREATE EXTENSION nadia_bgw;

-- an application with no fault: every foreign key indexed (in any order,
-- or by a longer index), every constraint valid
CREATE SCHEMA app;
CREATE TABLE app.customers (id int PRIMARY KEY, region int, code int,
                            UNIQUE (region, code));
CREATE TABLE app.orders (id int PRIMARY KEY, customer_id int REFERENCES app.customers,
                         region int, code int, amount int CHECK (amount >= 0),
                         FOREIGN KEY (region, code) REFERENCES app.customers (region, code));
CREATE INDEX orders_customer ON app.orders (customer_id, amount);
CREATE INDEX orders_code_region ON app.orders (code, region);
INSERT INTO app.customers VALUES (1, 1, 1), (2, 1, 2);
INSERT INTO app.orders VALUES (1, 1, 1, 1, 10), (2, 2, 1, 2, 20);

SELECT nadia_bgw._quality_checks('2030-01-01 00:00+00') AS changed;
SELECT count(*) AS facts FROM nadia_bgw.quality_facts;
SELECT first_checked_at, checked_at FROM nadia_bgw.quality_checks_state;

-- the faults, one of each kind; "Weird Name" needs quoting
CREATE TABLE app."Weird Name" (id int PRIMARY KEY, "Customer Id" int, other int);
ALTER TABLE app."Weird Name" ADD CONSTRAINT weird_customer
    FOREIGN KEY ("Customer Id", other) REFERENCES app.customers (region, code) NOT VALID;
ALTER TABLE app.orders ADD CONSTRAINT orders_small CHECK (amount < 1000) NOT VALID;
CREATE TABLE app.items (id int PRIMARY KEY, order_id int REFERENCES app.orders);
-- usable-looking indexes that are not: partial, expression, INCLUDE-only,
-- a GIN-free world still has brin
CREATE INDEX items_partial ON app.items (order_id) WHERE order_id > 0;
CREATE INDEX items_expr ON app.items ((order_id + 0));
CREATE INDEX items_include ON app.items (id) INCLUDE (order_id);
CREATE INDEX items_brin ON app.items USING brin (order_id);
CREATE UNIQUE INDEX CONCURRENTLY orders_region ON app.orders (region);
CREATE FUNCTION app.noop() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER orders_audit AFTER INSERT ON app.orders FOR EACH ROW EXECUTE FUNCTION app.noop();
ALTER TABLE app.orders DISABLE TRIGGER orders_audit;
-- a bulk load with every trigger of the table off: its foreign keys'
-- internal triggers too
CREATE TABLE app.loaded (id int PRIMARY KEY, customer_id int REFERENCES app.customers);
CREATE INDEX loaded_customer ON app.loaded (customer_id);
ALTER TABLE app.loaded DISABLE TRIGGER ALL;
-- the schemas that are not the application's are never looked at
CREATE TABLE public.elsewhere (id int, customer_id int REFERENCES app.customers);

SELECT nadia_bgw._quality_checks('2030-01-01 00:01+00') AS changed;
SELECT kind, schemaname, relname, objname, columns, ref_schemaname, ref_relname, detail,
       first_seen, last_seen, resolved_at
  FROM nadia_bgw.quality_facts ORDER BY kind, relname, objname;

-- a check with nothing new writes nothing but the instant
SELECT nadia_bgw._quality_checks('2030-01-01 00:02+00') AS changed;
SELECT count(*) AS facts, count(*) FILTER (WHERE last_seen IS NULL) AS open
  FROM nadia_bgw.quality_facts;

-- the readers: open facts show the latest check as last_seen
SELECT kind, relname, objname, detail, first_seen, last_seen, resolved_at, counted_rows,
       count_exact, count_error_bound, counted_at
  FROM nadia_bgw.constraint_violations('2030-01-01 00:00+00', '2030-01-01 01:00+00');
SELECT kind, relname, objname, columns, ref_relname, detail, first_seen, last_seen, resolved_at
  FROM nadia_bgw.referential_integrity('2030-01-01 00:00+00', '2030-01-01 01:00+00');

-- a rename: the open row follows it, no new episode
ALTER INDEX app.orders_region RENAME TO orders_region_old;
SELECT nadia_bgw._quality_checks('2030-01-01 00:03+00') AS changed;
SELECT fact_id = (SELECT min(fact_id) FROM nadia_bgw.quality_facts WHERE kind = 'invalid_index') AS same_row,
       objname, detail
  FROM nadia_bgw.quality_facts WHERE kind = 'invalid_index';

-- every fault fixed
ALTER TABLE app."Weird Name" DROP CONSTRAINT weird_customer;
ALTER TABLE app.orders VALIDATE CONSTRAINT orders_small;
CREATE INDEX items_order ON app.items (order_id);
DROP INDEX app.orders_region_old;
ALTER TABLE app.orders ENABLE TRIGGER orders_audit;
ALTER TABLE app.loaded ENABLE TRIGGER ALL;
SELECT nadia_bgw._quality_checks('2030-01-01 00:10+00') AS changed;
SELECT kind, objname, first_seen, last_seen, resolved_at
  FROM nadia_bgw.quality_facts ORDER BY kind, objname;

-- a fault back again is a new episode
ALTER TABLE app.orders DISABLE TRIGGER orders_audit;
SELECT nadia_bgw._quality_checks('2030-01-01 00:20+00') AS changed;
SELECT kind, objname, first_seen, last_seen, resolved_at
  FROM nadia_bgw.quality_facts WHERE kind = 'disabled_trigger' ORDER BY fact_id;

-- ranges: before anything, during the faults, between the episodes, after
SELECT 'before' AS range, count(*) FROM nadia_bgw.constraint_violations('2029-12-31', '2030-01-01 00:00:30+00')
UNION ALL
SELECT 'during', count(*) FROM nadia_bgw.constraint_violations('2030-01-01 00:05+00', '2030-01-01 00:05+00')
UNION ALL
SELECT 'at the fix', count(*) FROM nadia_bgw.constraint_violations('2030-01-01 00:10+00', '2030-01-01 00:15+00')
UNION ALL
SELECT 'after', count(*) FROM nadia_bgw.constraint_violations('2030-01-01 00:20+00', '2030-01-02')
UNION ALL
SELECT 'fk during', count(*) FROM nadia_bgw.referential_integrity('2030-01-01 00:05+00', '2030-01-01 00:06+00')
UNION ALL
SELECT 'fk after', count(*) FROM nadia_bgw.referential_integrity('2030-01-01 00:10+00', '2030-01-02');
-- the defaults read the last day: the year-2030 facts are not in it
SELECT count(*) AS default_range FROM nadia_bgw.constraint_violations();

-- a foreign key of a partitioned table: one fact for the table, not one
-- per partition; its suggested index cannot be built CONCURRENTLY
CREATE TABLE app.events (id int, customer_id int) PARTITION BY RANGE (id);
CREATE TABLE app.events_1 PARTITION OF app.events FOR VALUES FROM (0) TO (100);
CREATE TABLE app.events_2 PARTITION OF app.events FOR VALUES FROM (100) TO (200);
ALTER TABLE app.events ADD FOREIGN KEY (customer_id) REFERENCES app.customers;
SELECT nadia_bgw._quality_checks('2030-01-01 00:30+00') AS changed;
SELECT kind, relname, objname, detail
  FROM nadia_bgw.referential_integrity('2030-01-01 00:30+00', '2030-01-01 00:30+00');

-- a scoped check (the worker's: the relations whose catalog entries
-- changed since its last check).  An empty list reads nothing and moves
-- only the instant
SELECT nadia_bgw._quality_checks('2030-01-01 00:40+00', '{}') AS changed;
SELECT checked_at, scope_relations FROM nadia_bgw.quality_checks_state;
-- the scope of a table takes in the tables whose foreign keys reference
-- it and, for a partitioned one, its partitions; of an index, its table
SELECT s::regclass AS customers_scope
  FROM unnest(nadia_bgw._quality_checks_scope(ARRAY['app.customers'::regclass])) s ORDER BY s::regclass::text;
SELECT s::regclass AS index_scope
  FROM unnest(nadia_bgw._quality_checks_scope(ARRAY['app.orders_customer'::regclass])) s ORDER BY s::regclass::text;
-- a change is seen only when its relation is in the list: items' foreign
-- key references orders, not customers
ALTER TABLE app.items DISABLE TRIGGER ALL;
SELECT nadia_bgw._quality_checks('2030-01-01 00:41+00', ARRAY['app.customers'::regclass]) AS changed;
SELECT nadia_bgw._quality_checks('2030-01-01 00:42+00', ARRAY['app.orders'::regclass]) AS changed;
SELECT kind, relname, objname, first_seen FROM nadia_bgw.quality_facts
 WHERE relname = 'items' AND resolved_at IS NULL;
SELECT checked_at, scope_relations FROM nadia_bgw.quality_checks_state;
-- a dropped table's facts resolve when its OID is in the list; the open
-- facts of relations outside the list stay open
ALTER TABLE app.items ENABLE TRIGGER ALL;
SELECT 'app.events'::regclass::oid AS events_oid \gset
DROP TABLE app.events;
SELECT nadia_bgw._quality_checks('2030-01-01 00:43+00', ARRAY[:events_oid, 'app.items'::regclass]::oid[]) AS changed;
SELECT kind, relname, objname, resolved_at FROM nadia_bgw.quality_facts
 WHERE relname IN ('events', 'items') ORDER BY fact_id;
SELECT count(*) AS open_elsewhere FROM nadia_bgw.quality_facts WHERE resolved_at IS NULL;

-- the reader calls the readers; it reads no application table through
-- them (nor directly), and PUBLIC reaches none of it
CREATE ROLE regress_quality_reader LOGIN IN ROLE nadia_bgw_reader;
CREATE ROLE regress_quality_other LOGIN;
SET ROLE regress_quality_reader;
SELECT count(*) > 0 AS reader_ok FROM nadia_bgw.constraint_violations('2030-01-01', '2030-01-02');
SELECT count(*) > 0 AS reader_ok FROM nadia_bgw.referential_integrity('2030-01-01', '2030-01-02');
SELECT count(*) > 0 AS reader_ok FROM nadia_bgw.quality_facts;
SELECT * FROM app.orders;
SELECT nadia_bgw._quality_checks('2030-01-02');
RESET ROLE;
SELECT has_table_privilege('regress_quality_reader', 'app.orders', 'SELECT') AS reader_reads_app;
SELECT p.proname, has_function_privilege('regress_quality_other', p.oid, 'EXECUTE') AS public_can,
       has_function_privilege('regress_quality_reader', p.oid, 'EXECUTE') AS reader_can
  FROM pg_proc p
 WHERE p.pronamespace = 'nadia_bgw'::regnamespace
   AND p.proname IN ('_quality_checks', '_quality_checks_scope', '_quality_catalog_facts', '_quality_facts_in',
                     'constraint_violations', 'referential_integrity')
 ORDER BY 1;
SELECT has_table_privilege('regress_quality_other', 'nadia_bgw.quality_facts', 'SELECT') AS public_reads;

\c contrib_regression
DROP DATABASE regress_quality;
DROP ROLE regress_quality_reader, regress_quality_other;
