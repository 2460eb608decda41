# 80_plans.sh -- plans in history: the review UI's per-user history lookup
# loses its index, the capture records the new plan, and an MCP client
# finds the slow statement (query_stats), its plans (explain_query: the
# old index scan and the new sequential scan, each with its share of calls
# and time) and the index that fixes it (missing_indexes: the worker's
# advice, checked by what-if planning with hypopg when it is installed).
# The advice is created, and explain_query shows the lookup back on an
# index.  Needs the NADIA data (20_data.sh) and the MCP role (70_mcp.sh).
set -euo pipefail

SCRIPT=$ROOT/demo/pgbench/user_history.sql
CALLS=${DEMO_PLAN_CALLS:-40}

if [ "$($PSQL -At -c "SELECT to_regclass('public.interactions') IS NOT NULL")" != t ]; then
	say "Plans: skipped (the NADIA data of 20_data.sh is not loaded)"
	exit 0
fi

# this step drives the worker's cycles (workload, then wake()), with the
# index advice at every cycle; the settings are restored at the end
$PSQL -qAt -c "ALTER SYSTEM SET nadia_bgw.interval = '1h'" -c "ALTER SYSTEM SET nadia_bgw.advice_interval = 0" \
	-c "SELECT pg_reload_conf()" >/dev/null
trap '$PSQL -qAt -c "ALTER SYSTEM RESET nadia_bgw.interval" -c "ALTER SYSTEM RESET nadia_bgw.advice_interval" \
	-c "SELECT pg_reload_conf()" >/dev/null' EXIT
# the lookups run as the application's role: the advice plans a statement
# again as the role that ran it, never as a superuser (it refuses those)
$PSQL -q <<'SQL'
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nadia_app') THEN
        CREATE ROLE nadia_app LOGIN;
    END IF;
END $$;
GRANT SELECT ON public.interactions TO nadia_app;
SQL
cycle() {
	pgbench -U nadia_app -n -t "$CALLS" -f "$SCRIPT" >/dev/null 2>&1
	$PSQL -qAt -c "SELECT pg_stat_force_next_flush()" -c "SELECT nadia_bgw.wake(wait => true, timeout_ms => 120000)" >/dev/null
}
# mcp NAME ARGUMENTS-JSON...: one MCP session, printed (demo/mcp_calls.sh)
MCP_FILES=plans
. "$ROOT/demo/mcp_calls.sh"

if [ "$($PSQL -At -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'hypopg'")" = 1 ]; then
	$PSQL -q -c "CREATE EXTENSION IF NOT EXISTS hypopg"
	HYPOPG="hypopg is installed: each candidate index is checked by what-if planning, as the statement's own role"
else
	HYPOPG="hypopg is not installed: the advice is not verified by what-if planning (install postgresql-15-hypopg)"
fi

say "Plans in history: the review UI's per-user history lookup runs $CALLS times per cycle, on its index"
for _ in 1 2; do cycle; done
# plan_stats(): a plan's figures, also for a statement with one plan, whose
# history has no plan rows (docs/plans.md, "Reading plans")
$PSQL -c "SELECT s.planid, s.summary, s.calls
            FROM nadia_bgw.plan_stats(now() - interval '1 hour') s
            JOIN nadia_bgw.plans p USING (queryid, dbid, userid, planid)
            JOIN nadia_bgw.statements st USING (queryid, dbid, userid)
           WHERE st.query LIKE 'SELECT id, created_at, review_status, quality_score%'
           ORDER BY p.first_seen"

say "DROP INDEX idx_interactions_user_created: the lookup becomes a slow statement with a new plan"
$PSQL -c "DROP INDEX idx_interactions_user_created"
for _ in 1 2; do cycle; done
QUERYID=$($PSQL -At -c "SELECT queryid FROM nadia_bgw.statements
                         WHERE query LIKE 'SELECT id, created_at, review_status, quality_score%' LIMIT 1")
echo "$HYPOPG"

say "An MCP client: the slow statement, its plans from history, and the index advice"
mcp query_stats '{"query_pattern":"review_status, quality_score","since":"1h","limit":3}' \
	explain_query "{\"queryid\":\"$QUERYID\",\"since\":\"1h\"}" \
	missing_indexes '{"since":"1h"}'

CREATE=$($PSQL -At -c "SELECT create_statement FROM nadia_bgw.index_advice
                        WHERE relname = 'interactions' AND verified
                        ORDER BY est_gain_ms DESC NULLS LAST LIMIT 1" 2>/dev/null || true)
if [ -z "$CREATE" ]; then
	say "No verified advice for interactions: recreating the original index"
	CREATE="CREATE INDEX idx_interactions_user_created ON public.interactions (user_id, created_at DESC)"
else
	say "Creating the advised index"
fi
echo "$CREATE"
$PSQL -c "$CREATE"
for _ in 1 2; do cycle; done

say "explain_query again: the lookup is back on an index (the plans of the last hour, each with its share of calls and time)"
mcp explain_query "{\"queryid\":\"$QUERYID\",\"since\":\"1h\"}"

