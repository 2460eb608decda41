-- bench/rollup/writer_loop.sql -- server-side writer microbenchmark: n
-- single-row INSERT transactions (one COMMIT each, like pgbench's) from a
-- procedure, so the client round trip and the machine's scheduling noise
-- weigh less than in pgbench.  back = 0: rows now (hot); back > 0: rows
-- into old days (1 .. back days ago).
CREATE OR REPLACE PROCEDURE bench_writer_loop(n integer, back integer, INOUT us_per_row double precision DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
    i integer;
BEGIN
    FOR i IN 1 .. n LOOP
        INSERT INTO public.interactions
            (user_id, conversation_id, message_number, user_message, llm1_raw_response,
             llm2_bubbles, constitution_risk_score, constitution_recommendation,
             priority_score, llm1_model, llm2_model, llm1_cost_usd, llm2_cost_usd,
             customer_status, telegram_message_id, telegram_date, user_message_timestamp, created_at)
        VALUES
            (1000000000 + i % 20000, md5(i::text)::uuid, 1 + i % 30,
             'how much does the premium plan cost?', 'Sure! Our monthly plan is 29 USD.',
             ARRAY['Sure!', 'Our monthly plan is 29 USD.'], 0.10, 'approve',
             0.50, 'gemini-2.0-flash', 'gpt-4o-mini', 0.0003, 0.0005,
             'PROSPECT', i, now(), now(),
             CASE WHEN back = 0 THEN clock_timestamp()
                  ELSE current_date - (1 + i % back) + (i % 86400) * interval '1 second' END);
        COMMIT;
    END LOOP;
    us_per_row := extract(epoch FROM clock_timestamp() - t0) * 1000000 / n;
END
$$;
