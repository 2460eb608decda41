-- bench/quality/rows.sql -- the rows of the counted-checks bench
-- (bench/quality/counted.sh), written to standard output in COPY's text
-- format for bench/quality/load.sql.  Shaped like the demo's rows
-- (demo/generator.sql: its messages and answers, given as :messages and
-- :answers, text arrays the bench takes from nadia_demo.rows(); the same
-- models, costs, users with a heavy head, 90 days of created_at in row
-- order) but made with a few cheap hashes per row instead of twenty, so
-- that 10M rows take a few minutes.
--
--   psql -v rows=N -v users=N -v violates='PRED(g)' -v orphan='PRED(g)' \
--        -v messages='{...}' -v answers='{...}' -f rows.sql
--
-- :violates and :orphan are predicates of the row number g, given by the
-- bench (which counts the truth with the same ones): a violating row is
-- approved without a quality score (it breaks interactions_approved_scored),
-- an orphan's user_id is 2000000000 + g, which no user has.
\set ON_ERROR_STOP on
COPY (
SELECT md5('bench:' || g)::uuid,
       x.user_id,
       md5(x.user_id::text || ':' || (g / 25)::text)::uuid,
       1 + (g % 40)::integer,
       (:'messages'::text[])[1 + x.h % cardinality(:'messages'::text[])],
       (:'answers'::text[])[1 + x.h / 20 % cardinality(:'answers'::text[])],
       CASE x.h / 120 % 3 WHEN 0 THEN ARRAY['Sure!', 'Here is the information you asked for.']
                          WHEN 1 THEN ARRAY['Claro 😊', 'Te explico cómo funciona.', '¿Algo más?']
                          ELSE ARRAY['Let me check that for you.'] END,
       x.risk,
       CASE WHEN x.risk > 0.9 THEN ARRAY['pricing_promise']
            WHEN x.risk > 0.8 THEN ARRAY['medical_advice'] ELSE '{}'::text[] END,
       CASE WHEN x.risk > 0.9 THEN 'escalate' WHEN x.risk > 0.7 THEN 'review' ELSE 'approve' END,
       x.status,
       round(0.1 + (x.h / 360 % 90) / 100.0, 2),
       (ARRAY['gemini-2.0-flash', 'gemini-2.0-flash', 'gpt-4o-mini', 'claude-3-5-haiku'])[1 + x.h / 7 % 4],
       CASE WHEN x.h / 11 % 10 < 7 THEN 'gpt-4o-mini' ELSE 'gemini-2.0-flash' END,
       round(0.0001 + (x.h / 13 % 40) / 10000.0, 4),
       round(0.0002 + (x.h / 17 % 10) / 10000.0, 4),
       CASE WHEN x.status IN ('approved', 'rejected') AND NOT x.violates THEN 1 + x.h / 19 % 5 END,
       CASE WHEN x.status = 'approved' AND x.h / 23 % 4 = 0 THEN ARRAY['tone']
            WHEN x.status = 'rejected' THEN ARRAY['wrong_info'] ELSE '{}'::text[] END,
       CASE WHEN x.h / 29 % 7 = 0
            THEN jsonb_build_object('type', 'trial', 'offer', 'monthly', 'shown_at_message', 1 + g % 10) END,
       (ARRAY['PROSPECT', 'PROSPECT', 'PROSPECT', 'LEAD_QUALIFIED', 'CUSTOMER', 'CHURNED',
              'LEAD_EXHAUSTED'])[1 + x.h / 31 % 7],
       4200000000 + g,
       x.created_at,
       false,
       x.created_at - interval '2 seconds',
       CASE WHEN x.status <> 'pending' THEN x.created_at + interval '10 minutes' END,
       CASE WHEN x.status IN ('approved', 'rejected') THEN x.created_at + interval '15 minutes' END,
       x.created_at
  FROM generate_series(1::bigint, :rows) g
 CROSS JOIN LATERAL (
       SELECT (hashint8(g) & 2147483647) AS h,
              (:violates) AS violates,
              CASE WHEN (:orphan) THEN 2000000000 + g
                   ELSE 1000000000 + floor(pow((hashint8(g + 7777777) & 2147483647) / 2147483648.0, 2.5)
                                           * :users)::bigint END AS user_id,
              round(((hashint8(g) & 2147483647) % 100) / 100.0, 2) AS risk,
              -- 90 days, oldest first, in row order (an append-only table)
              now() - interval '90 days' * (1 - g::float8 / :rows) AS created_at,
              -- the newest 0.5% still pending review; 12% of the rest rejected
              CASE WHEN (:violates) THEN 'approved'
                   WHEN g > :rows * 0.995 THEN 'pending'
                   WHEN (hashint8(g) & 2147483647) / 37 % 100 < 12 THEN 'rejected'
                   ELSE 'approved' END AS status
       ) x
) TO STDOUT;
