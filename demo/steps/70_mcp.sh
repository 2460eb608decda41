# 70_mcp.sh -- nadia-mcp, the stdio MCP server: the least-privilege role,
# the start-up check, then an MCP session (initialize, tools/list, and the
# slow_queries, alerts and NADIA rollup tools) as a client sends it.
set -euo pipefail

. "$ROOT/demo/mcp_calls.sh"   # MCP, CONN, mcp_role

say "The MCP login role: a member of nadia_bgw_reader and nothing else"
mcp_role
echo "CREATE ROLE nadia_mcp LOGIN IN ROLE nadia_bgw_reader;"

# the NADIA rollups of the rollup step, when there, are exposed to their tools
if [ "$($PSQL -At -c "SELECT to_regclass('nadia_bgw.rollups') IS NOT NULL")" = t ]; then
	$PSQL -At -F ' -> ' <<'SQL'
SELECT e.tool, nadia_bgw.mcp_expose_rollup(e.tool, e.rollup)
  FROM (VALUES ('llm_cost_tracking', 'llm_cost_daily'), ('review_queue_stats', 'review_queue_daily'),
               ('user_activity_patterns', 'user_activity_hourly'),
               ('recovery_system_stats', 'recovered_daily')) e (tool, rollup)
 WHERE to_regclass(e.rollup) IS NOT NULL
   AND EXISTS (SELECT 1 FROM nadia_bgw.rollups r WHERE to_regclass(r.name) = to_regclass(e.rollup));
SQL
fi

say "nadia-mcp refuses a connection string that can do more (here: the superuser)"
"$MCP" --check "host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=postgres" 2>&1 | head -4 || true
say "... and accepts the reader role"
"$MCP" --check "$CONN"

$PSQL -qAt -c "SELECT nadia_bgw.wake(wait => true, timeout_ms => 120000)" >/dev/null

say "An MCP session over stdio: one JSON-RPC message a line in, one answer a line out"
cat >"$DEMO_DIR/mcp_session.jsonl" <<'JSON'
{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"demo","version":"1"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
{"jsonrpc":"2.0","id":2,"method":"tools/list"}
{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"slow_queries","arguments":{"limit":3,"since":"1h"}}}
{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"alerts","arguments":{"state":"all","limit":3}}}
{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"llm_cost_tracking","arguments":{"since":"3d","limit":3}}}
{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"slow_queries","arguments":{"sql":"DELETE FROM interactions"}}}
JSON
echo '$ nadia-mcp "'"$CONN"'" < session.jsonl'
"$MCP" "$CONN" <"$DEMO_DIR/mcp_session.jsonl" 2>"$DEMO_DIR/mcp_stderr.log" >"$DEMO_DIR/mcp_answers.jsonl"

# print the answers for people: node is there (the MCP tests use it)
node "$ROOT/demo/mcp_print.js" "$DEMO_DIR/mcp_session.jsonl" "$DEMO_DIR/mcp_answers.jsonl"
