-- demo/generator.sql -- deterministic, seeded generator of NADIA interactions.
--
-- Every value of row number i is a function of (seed, i) through
-- hashint8extended(), never random(): the same seed, day range and time zone
-- give the same rows on every machine, and any slice of rows can be made on
-- its own (the benchmarks regenerate "1,000 more rows of day D" this way).
--
--   nadia_demo.rows(seed, first_i, n, day, tz)   SETOF interactions: n rows of
--                                                local day "day" in zone tz
--   CALL nadia_demo.generate(days, rows_per_day, seed, last_day, tz)
--                                                bulk load days x rows_per_day
--                                                (indexes rebuilt after the load
--                                                when the table started empty)
--
-- Requires demo/schema.sql first.  Idempotent.

CREATE SCHEMA IF NOT EXISTS nadia_demo;

-- Uniform double in [0, 1) for row i and stream k: 53 bits of a 64-bit hash.
CREATE OR REPLACE FUNCTION nadia_demo.u(seed bigint, i bigint, k integer)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT (pg_catalog.hashint8extended(i, seed * 1000 + k)
            & 9007199254740991)::double precision / 9007199254740992.0
$$;

-- Time of day in seconds with a daily rhythm: most traffic between 08:00
-- and 23:00 (a bell around 15:00), a steady trickle at night.
CREATE OR REPLACE FUNCTION nadia_demo.second_of_day(a double precision,
                                                    b double precision,
                                                    c double precision,
                                                    d double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN a < 0.8
                THEN least(86399.0, greatest(0.0,
                         (15.0 + (b + c + d - 1.5) * 6.0) * 3600.0))
                ELSE b * 86399.0
           END
$$;

CREATE OR REPLACE FUNCTION nadia_demo.rows(seed bigint,
                                           first_i bigint,
                                           n bigint,
                                           day date,
                                           tz text DEFAULT pg_catalog.current_setting('TimeZone'))
RETURNS SETOF public.interactions
LANGUAGE sql STABLE
AS $$
SELECT
    -- id: stable per (seed, i), so a regenerated slice has the same keys
    pg_catalog.md5(seed::text || ':' || g.i::text)::uuid,
    r.user_id,
    pg_catalog.md5(seed::text || ':' || r.user_id::text || ':' || day::text
                   || ':' || (floor(r.u3 * 3))::text)::uuid,
    1 + floor(r.u4 * r.u4 * 40)::integer,
    (ARRAY['hola, quería saber el precio del plan mensual',
           'how much does the premium plan cost?',
           'can I pay with card or only transfer?',
           'no entiendo cómo funciona la sesión de prueba',
           'I booked a session but did not get a confirmation',
           'is there a discount for students?',
           'quiero cancelar mi suscripción',
           'the app keeps logging me out',
           'what time is the live class today?',
           'me puedes mandar el link otra vez?',
           'thanks, that helped a lot',
           'I am not sure this is for me',
           'can I talk to a human please',
           'do you have a plan for couples?',
           'my payment failed twice',
           'send me the invoice for last month',
           'cuánto dura el programa completo?',
           'I want to upgrade to the annual plan',
           'the video does not load on my phone',
           'ok perfect, see you tomorrow'])[1 + floor(r.u5 * 20)::integer]
        || CASE WHEN r.u6 < 0.3 THEN ' ' || (ARRAY['please', 'asap', 'thanks', ':)',
                                                    'gracias', 'again?', 'now'])[1 + floor(r.u7 * 7)::integer]
                ELSE '' END,
    'Sure! ' || (ARRAY['Here is the information you asked for.',
                       'Let me check that for you.',
                       'Our monthly plan is 29 USD and the annual one 249 USD.',
                       'I have forwarded your request to the team.',
                       'You can find the link in your inbox.',
                       'Claro, te explico cómo funciona.'])[1 + floor(r.u8 * 6)::integer],
    CASE WHEN r.u9 < 0.5
         THEN ARRAY['Sure!', 'Here is the information you asked for.']
         WHEN r.u9 < 0.8
         THEN ARRAY['Claro 😊', 'Te explico cómo funciona.', '¿Algo más?']
         ELSE ARRAY['Let me check that for you.'] END,
    round((r.u10 * r.u10)::numeric, 2),
    CASE WHEN r.u10 > 0.9 THEN ARRAY['pricing_promise']
         WHEN r.u10 > 0.8 THEN ARRAY['medical_advice']
         ELSE '{}'::text[] END,
    CASE WHEN r.u10 > 0.9 THEN 'escalate'
         WHEN r.u10 > 0.7 THEN 'review'
         ELSE 'approve' END,
    r.review_status,
    round((0.1 + 0.9 * r.u11)::numeric, 2),
    r.llm1_model,
    CASE WHEN r.u12 < 0.7 THEN 'gpt-4o-mini' ELSE 'gemini-2.0-flash' END,
    CASE r.llm1_model
        WHEN 'gemini-2.0-flash' THEN round((0.0001 + 0.0009 * r.u13)::numeric, 4)
        WHEN 'gpt-4o-mini' THEN round((0.0003 + 0.0017 * r.u13)::numeric, 4)
        ELSE round((0.0010 + 0.0030 * r.u13)::numeric, 4) END,
    -- a few second passes were skipped (cost unknown): exercises COALESCE
    CASE WHEN r.u14 < 0.03 THEN NULL
         ELSE round((0.0002 + 0.0010 * r.u14)::numeric, 4) END,
    CASE WHEN r.review_status IN ('approved', 'rejected')
         THEN 1 + least(4, floor((1 - r.u15 * r.u15) * 5))::integer
         END,
    CASE WHEN r.review_status = 'approved' AND r.u16 < 0.25
         THEN ARRAY['tone']
         WHEN r.review_status = 'approved' AND r.u16 < 0.35
         THEN ARRAY['tone', 'too_long']
         WHEN r.review_status = 'rejected'
         THEN ARRAY['wrong_info']
         ELSE '{}'::text[] END,
    CASE WHEN r.u17 < 0.15
         THEN pg_catalog.jsonb_build_object(
                'type', (ARRAY['trial', 'checkout', 'booking'])[1 + floor(r.u18 * 3)::integer],
                'offer', (ARRAY['monthly', 'annual', 'session'])[1 + floor(r.u19 * 3)::integer],
                'shown_at_message', 1 + floor(r.u4 * 10)::integer)
         END,
    (ARRAY['PROSPECT', 'PROSPECT', 'PROSPECT', 'LEAD_QUALIFIED',
           'CUSTOMER', 'CHURNED', 'LEAD_EXHAUSTED'])[1 + floor(r.u20 * 7)::integer],
    (seed * 100000000 + g.i),
    r.user_ts,
    r.recovered,
    r.user_ts,
    CASE WHEN r.review_status <> 'pending'
         THEN r.created_at + (60 + r.u21 * r.u21 * 7200) * interval '1 second' END,
    CASE WHEN r.review_status IN ('approved', 'rejected')
         THEN r.created_at + (120 + r.u21 * r.u21 * 7200 + r.u22 * 600) * interval '1 second' END,
    r.created_at
FROM pg_catalog.generate_series(first_i, first_i + n - 1) AS g(i)
CROSS JOIN LATERAL (
    SELECT nadia_demo.u(seed, g.i, 3) AS u3, nadia_demo.u(seed, g.i, 4) AS u4,
           nadia_demo.u(seed, g.i, 5) AS u5, nadia_demo.u(seed, g.i, 6) AS u6,
           nadia_demo.u(seed, g.i, 7) AS u7, nadia_demo.u(seed, g.i, 8) AS u8,
           nadia_demo.u(seed, g.i, 9) AS u9, nadia_demo.u(seed, g.i, 10) AS u10,
           nadia_demo.u(seed, g.i, 11) AS u11, nadia_demo.u(seed, g.i, 12) AS u12,
           nadia_demo.u(seed, g.i, 13) AS u13, nadia_demo.u(seed, g.i, 14) AS u14,
           nadia_demo.u(seed, g.i, 15) AS u15, nadia_demo.u(seed, g.i, 16) AS u16,
           nadia_demo.u(seed, g.i, 17) AS u17, nadia_demo.u(seed, g.i, 18) AS u18,
           nadia_demo.u(seed, g.i, 19) AS u19, nadia_demo.u(seed, g.i, 20) AS u20,
           nadia_demo.u(seed, g.i, 21) AS u21, nadia_demo.u(seed, g.i, 22) AS u22
) AS r0
CROSS JOIN LATERAL (
    SELECT r0.*,
           -- users: 20,000 with a heavy head (a few very chatty users)
           1000000000 + floor(pow(nadia_demo.u(seed, g.i, 1), 2.5) * 20000)::bigint AS user_id,
           ((day::timestamp
             + nadia_demo.second_of_day(nadia_demo.u(seed, g.i, 2), r0.u3, r0.u5, r0.u8)
               * interval '1 second') AT TIME ZONE tz) AS created_at,
           (ARRAY['gemini-2.0-flash', 'gemini-2.0-flash', 'gpt-4o-mini',
                  'claude-3-5-haiku'])[1 + floor(r0.u12 * 4)::integer] AS llm1_model,
           -- 2% arrive late, recovered after an outage: the user wrote
           -- them up to 12 hours before the bot stored them
           (r0.u6 > 0.98) AS recovered
) AS r1
CROSS JOIN LATERAL (
    SELECT r1.*,
           CASE WHEN r1.recovered
                THEN r1.created_at - (600 + r0.u7 * 42600) * interval '1 second'
                ELSE r1.created_at - (1 + r0.u7 * 4) * interval '1 second' END AS user_ts,
           -- older days are reviewed; the last two days still have a queue
           CASE WHEN day >= (pg_catalog.now() AT TIME ZONE tz)::date - 1 AND r0.u11 < 0.6
                THEN (CASE WHEN r0.u22 < 0.1 THEN 'reviewing' ELSE 'pending' END)
                WHEN r0.u22 < 0.12 THEN 'rejected'
                ELSE 'approved' END AS review_status
) AS r
$$;

-- Bulk load: "days" local days ending with last_day (default yesterday),
-- rows_per_day rows each, one transaction per day.  When the table is empty
-- its secondary indexes are dropped first and rebuilt at the end, which is
-- several times faster than maintaining them row by row.
CREATE OR REPLACE PROCEDURE nadia_demo.generate(days integer,
                                                rows_per_day integer,
                                                seed bigint DEFAULT 42,
                                                last_day date DEFAULT NULL,
                                                tz text DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    zone    text := coalesce(tz, pg_catalog.current_setting('TimeZone'));
    lastd   date := coalesce(last_day, (pg_catalog.now() AT TIME ZONE zone)::date - 1);
    defs    text[] := '{}';
    pkey    text;
    idx     record;
    d       integer;
    def     text;
BEGIN
    IF days < 1 OR rows_per_day < 1 THEN
        RAISE EXCEPTION 'days and rows_per_day must be positive';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.interactions) THEN
        FOR idx IN
            SELECT i.indexrelid::regclass AS name,
                   pg_catalog.pg_get_indexdef(i.indexrelid) AS def
              FROM pg_catalog.pg_index i
             WHERE i.indrelid = 'public.interactions'::regclass
               AND NOT i.indisprimary
        LOOP
            defs := defs || idx.def;
            EXECUTE format('DROP INDEX %s', idx.name);
        END LOOP;
        SELECT format('ALTER TABLE public.interactions ADD CONSTRAINT %I %s',
                      c.conname, pg_catalog.pg_get_constraintdef(c.oid))
          INTO pkey
          FROM pg_catalog.pg_constraint c
         WHERE c.conrelid = 'public.interactions'::regclass AND c.contype = 'p';
        IF pkey IS NOT NULL THEN
            EXECUTE format('ALTER TABLE public.interactions DROP CONSTRAINT %I',
                           (SELECT conname FROM pg_catalog.pg_constraint
                             WHERE conrelid = 'public.interactions'::regclass
                               AND contype = 'p'));
            defs := pkey || defs;
        END IF;
    END IF;
    COMMIT;

    FOR d IN 0 .. days - 1 LOOP
        INSERT INTO public.interactions
        SELECT * FROM nadia_demo.rows(seed, d::bigint * rows_per_day,
                                      rows_per_day,
                                      lastd - (days - 1) + d, zone);
        COMMIT;
    END LOOP;

    FOREACH def IN ARRAY defs LOOP
        EXECUTE def;
        COMMIT;
    END LOOP;
    ANALYZE public.interactions;
END
$$;
