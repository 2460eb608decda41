-- pgbench: a late message recovered after an outage, stored into an old day
-- (1 to 89 days back): the writes that land below a rollup's invalidation
-- threshold.
\set uid random_exponential(1000000000, 1000019999, 5.0)
\set back random(1, 89)
\set sec random(0, 86399)
\set c1 random(1, 40)
\set c2 random(2, 12)
INSERT INTO public.interactions
    (user_id, conversation_id, message_number, user_message, llm1_raw_response,
     llm2_bubbles, constitution_risk_score, constitution_recommendation,
     review_status, priority_score, llm1_model, llm2_model, llm1_cost_usd,
     llm2_cost_usd, quality_score, customer_status, is_recovered_message,
     user_message_timestamp, created_at)
VALUES
    (:uid, md5(:uid::text || :back::text)::uuid, 1,
     'me puedes mandar el link otra vez?', 'Claro, te explico cómo funciona.',
     ARRAY['Claro', 'Aquí está el link'], 0.10, 'approve', 'approved', 0.30,
     'gpt-4o-mini', 'gpt-4o-mini', :c1 / 10000.0, :c2 / 10000.0, 4, 'PROSPECT',
     true,
     current_date - :back + :sec * interval '1 second' - interval '5 minutes',
     current_date - :back + :sec * interval '1 second');
