# 50_maintenance.sh -- a churned table is planned from the samples and
# vacuumed by a job worker, without blocking anyone; the job's row in
# nadia_bgw.maintenance_history tells what happened.
set -euo pipefail

say "Maintenance settings (all reloadable; an empty window means any time)"
$PSQL -c "SELECT name, setting, unit FROM pg_settings
           WHERE name IN ('nadia_bgw.maintenance_window', 'nadia_bgw.maintenance_vacuum_ratio',
                          'nadia_bgw.maintenance_vacuum_min', 'nadia_bgw.maintenance_max_concurrent',
                          'nadia_bgw.maintenance_cost_delay', 'nadia_bgw.maintenance_lock_timeout')
           ORDER BY name"

say "Churn: fresh statistics, then re-score a quarter of the messages (autovacuum waits for 20% dead)"
$PSQL -c "ANALYZE interactions"
$PSQL -c "UPDATE interactions SET quality_score = 1 + (abs(hashtext(id::text)) % 5), priority_score = 0.90
           WHERE abs(hashtext(id::text)) % 4 = 0"

say "The next sample sees the dead tuples; nadia_bgw.maintenance_plan ranks the candidates"
$PSQL -c "SELECT nadia_bgw.take_sample() IS NOT NULL AS sampled" >/dev/null
$PSQL -c "SELECT rank, relname, action, state, reason, n_live_tup, n_dead_tup, vacuum_threshold
            FROM nadia_bgw.maintenance_plan ORDER BY rank LIMIT 5"

say "Worker cycles: each plans from its sample and starts job workers (capped per cycle; the cycle does not wait for them)"
before=$($PSQL -At -c "SELECT coalesce(max(id), 0) FROM nadia_bgw.maintenance_history")
vacuum_job="SELECT id FROM nadia_bgw.maintenance_history
             WHERE id > $before AND relname = 'interactions' AND action LIKE 'vacuum%'
             ORDER BY id DESC LIMIT 1"
for _ in $(seq 1 30); do
	$PSQL -Atq -c "SELECT nadia_bgw.wake(wait => true)" >/dev/null
	[ -n "$($PSQL -At -c "$vacuum_job")" ] && break
	sleep 0.5
done
$PSQL -c "SELECT id, relname, action, outcome FROM nadia_bgw.maintenance_history
           WHERE id > $before ORDER BY id"
$PSQL -c "SELECT pid, backend_type, wait_event, query FROM pg_stat_activity
           WHERE backend_type = 'nadia_bgw maintenance'"
# wait for the vacuum job to end
job=$($PSQL -At -c "$vacuum_job")
for _ in $(seq 1 600); do
	[ -n "$job" ] || break
	[ "$($PSQL -At -c "SELECT outcome NOT IN ('queued', 'running')
	                      FROM nadia_bgw.maintenance_history WHERE id = $job")" = t ] && break
	sleep 0.2
done

say "The vacuum job in nadia_bgw.maintenance_history"
$PSQL -x -c "SELECT id, relname, action, reason, outcome, error, planned_at, duration,
                    dead_tuples_before, dead_tuples_after, statement
               FROM nadia_bgw.maintenance_history
              WHERE id = ${job:-0}"
$PSQL -c "SELECT relname, n_dead_tup, last_vacuum, last_autovacuum
            FROM pg_stat_user_tables WHERE relname = 'interactions'"
