-- pgbench: the review UI opens a user's recent history (served by
-- idx_interactions_user_created).  Used by the alerts demo and the
-- regressions benchmark as the hot query whose index gets dropped.
\set uid random_exponential(1000000000, 1000019999, 5.0)
SELECT id, created_at, review_status, quality_score
  FROM public.interactions
 WHERE user_id = :uid
 ORDER BY created_at DESC
 LIMIT 20;
