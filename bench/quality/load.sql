-- bench/quality/load.sql -- the counted-checks bench's data (bench/quality/
-- counted.sh): public.interactions as demo/schema.sql defines it, :rows
-- rows fed on standard input by bench/quality/rows.sql, and public.users,
-- the table its NOT VALID foreign key references.
--
--   psql -v rows=N -v users=N -v fts=0|1 -f load.sql < rows
--
-- The table is emptied and filled in one transaction with COPY ... FREEZE:
-- with wal_level = minimal (the bench's load phase) nothing of it is
-- written to WAL, and its rows are frozen and all-visible from the start,
-- so no later scan sets their hint bits (dirtying every page) and no
-- insert-triggered autovacuum comes to freeze them during the
-- measurements.  The indexes are built afterwards, as a bulk load does;
-- the full-text GIN index only with fts=1 (the workload does not use it,
-- and at 10M rows its build alone would take most of the bench's time).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
BEGIN;
\ir ../../demo/schema.sql
-- the indexes are rebuilt after the load, from their definitions
CREATE TEMP TABLE bench_index_defs ON COMMIT PRESERVE ROWS AS
SELECT pg_get_indexdef(i.indexrelid) AS def, a.amname
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
 WHERE i.indrelid = 'public.interactions'::regclass AND NOT i.indisprimary;
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT indexrelid::regclass AS idx FROM pg_index
            WHERE indrelid = 'public.interactions'::regclass AND NOT indisprimary LOOP
    EXECUTE format('DROP INDEX %s', r.idx);
  END LOOP;
END $$;
ALTER TABLE public.interactions DROP CONSTRAINT interactions_pkey;
-- made by the bench before (the demo's generator needs its row type):
-- emptied in this transaction, as COPY FREEZE requires
TRUNCATE public.interactions;
\copy public.interactions (id, user_id, conversation_id, message_number, user_message, llm1_raw_response, llm2_bubbles, constitution_risk_score, constitution_flags, constitution_recommendation, review_status, priority_score, llm1_model, llm2_model, llm1_cost_usd, llm2_cost_usd, quality_score, edit_tags, cta_data, customer_status, telegram_message_id, telegram_date, is_recovered_message, user_message_timestamp, review_started_at, review_completed_at, created_at) FROM pstdin WITH (FREEZE)
COMMIT;

ALTER TABLE public.interactions ADD CONSTRAINT interactions_pkey PRIMARY KEY (id);
SELECT def FROM bench_index_defs WHERE amname <> 'gin' OR :fts = 1 \gexec

-- the users the messages come from: the demo's 20,000 ids (the pgbench
-- scripts draw from 1000000000 .. 1000019999)
CREATE TABLE public.users (
    user_id         BIGINT PRIMARY KEY,
    first_seen_at   TIMESTAMPTZ NOT NULL,
    customer_status VARCHAR(20) NOT NULL DEFAULT 'PROSPECT'
);
INSERT INTO public.users
SELECT 1000000000 + u, now() - interval '120 days' + u * interval '5 minutes', 'PROSPECT'
  FROM generate_series(0, :users - 1) u;

-- The two constraints the counted checks count, added NOT VALID as an
-- operator adds them to a big table: the rows already there are not
-- checked, new rows are.  "An approved message carries its quality score";
-- "a message's user exists".
ALTER TABLE public.interactions ADD CONSTRAINT interactions_approved_scored
    CHECK (review_status <> 'approved' OR quality_score IS NOT NULL) NOT VALID;
ALTER TABLE public.interactions ADD CONSTRAINT interactions_user_fk
    FOREIGN KEY (user_id) REFERENCES public.users (user_id) NOT VALID;
VACUUM ANALYZE public.interactions;
VACUUM ANALYZE public.users;
