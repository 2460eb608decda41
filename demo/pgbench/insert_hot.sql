-- pgbench: one new message now (the hot head of the table), as the bot
-- stores it: default id and created_at, review pending.
\set uid random_exponential(1000000000, 1000019999, 5.0)
\set msg random(1, 40)
\set risk random(0, 99)
\set c1 random(1, 40)
\set c2 random(2, 12)
\set tg :client_id * 1000000000 + random(1, 999999999)
INSERT INTO public.interactions
    (user_id, conversation_id, message_number, user_message, llm1_raw_response,
     llm2_bubbles, constitution_risk_score, constitution_recommendation,
     priority_score, llm1_model, llm2_model, llm1_cost_usd, llm2_cost_usd,
     customer_status, telegram_message_id, telegram_date, user_message_timestamp)
VALUES
    (:uid, md5(:uid::text || current_date::text)::uuid, :msg,
     'how much does the premium plan cost?', 'Sure! Our monthly plan is 29 USD.',
     ARRAY['Sure!', 'Our monthly plan is 29 USD.'], :risk / 100.0, 'approve',
     0.50, 'gemini-2.0-flash', 'gpt-4o-mini', :c1 / 10000.0, :c2 / 10000.0,
     'PROSPECT', :tg, now(), now());
