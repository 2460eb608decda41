-- pgbench: UPDATE-heavy review traffic on public.interactions.  Each
-- transaction re-scores every message of one user picked uniformly (about
-- ten rows at the benchmark's scale).  priority_score is indexed, so these
-- are not HOT updates: each leaves dead tuples that only VACUUM removes.
-- Needs -D uid0=<smallest user_id> -D users=<number of user ids>.
\set u random(0, :users - 1)
\set q random(1, 5)
UPDATE public.interactions
   SET quality_score = :q,
       priority_score = round((random() * 0.99)::numeric, 2),
       review_completed_at = now()
 WHERE user_id = :uid0 + :u;
