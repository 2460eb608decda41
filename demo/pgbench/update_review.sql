-- pgbench: the UPDATE-heavy side of the review UI.  A reviewer takes the
-- most urgent pending message and approves it with a score; another edits
-- the score of a recent message of some user.
\set q random(1, 5)
\set uid random_exponential(1000000000, 1000019999, 5.0)
\set q2 random(1, 5)
UPDATE public.interactions
   SET review_status = 'approved', quality_score = :q,
       review_started_at = coalesce(review_started_at, now()),
       review_completed_at = now()
 WHERE id = (SELECT id FROM public.interactions
              WHERE review_status = 'pending'
              ORDER BY priority_score DESC, created_at
              LIMIT 1 FOR UPDATE SKIP LOCKED);
UPDATE public.interactions
   SET quality_score = :q2, edit_tags = ARRAY['tone']
 WHERE id = (SELECT id FROM public.interactions
              WHERE user_id = :uid
              ORDER BY created_at DESC LIMIT 1);
