# 10_worker.sh -- the worker is up, cycling, and reports in nadia_bgw.status.
set -euo pipefail

say "The worker as pg_stat_activity shows it"
$PSQL -c "SELECT pid, backend_type, application_name, datname
            FROM pg_stat_activity WHERE backend_type = 'nadia_bgw worker'"

say "Run a cycle now with nadia_bgw.wake(wait => true), then look at nadia_bgw.status"
$PSQL -c "SELECT nadia_bgw.wake(wait => true)"
$PSQL -c "SELECT task, outcome, runs, failures, round(last_duration_ms::numeric, 2) AS ms,
                 worker_state, cycles, next_cycle_at - last_cycle_start AS next_in
            FROM nadia_bgw.status"
