# demo/mcp_calls.sh -- sourced by demo steps: mcp NAME ARGUMENTS-JSON ...
# runs one MCP session with nadia-mcp as the reader role nadia_mcp
# (initialize, then a tools/call per pair) and prints the calls and their
# answers for people (demo/mcp_print.js).  The session's messages and
# answers are kept in $DEMO_DIR/<MCP_FILES>_calls.jsonl and _answers.jsonl
# (MCP_FILES defaults to "mcp"), stderr appended to $DEMO_DIR/mcp_stderr.log.
# mcp_role creates that role when it is missing.

MCP="$BINDIR/nadia-mcp"
CONN="host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=nadia_mcp"

mcp() {
	local id=2 files="$DEMO_DIR/${MCP_FILES:-mcp}"
	while [ $# -gt 1 ]; do
		echo "{\"jsonrpc\":\"2.0\",\"id\":$id,\"method\":\"tools/call\",\"params\":{\"name\":\"$1\",\"arguments\":$2}}"
		id=$((id + 1))
		shift 2
	done >"${files}_calls.jsonl"
	{
		echo '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"demo","version":"1"}}}'
		echo '{"jsonrpc":"2.0","method":"notifications/initialized"}'
		cat "${files}_calls.jsonl"
	} | "$MCP" "$CONN" 2>>"$DEMO_DIR/mcp_stderr.log" >"${files}_answers.jsonl"
	node "$ROOT/demo/mcp_print.js" "${files}_calls.jsonl" "${files}_answers.jsonl"
}

# the MCP login role: a member of nadia_bgw_reader and nothing else
mcp_role() {
	$PSQL -q <<'SQL'
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nadia_mcp') THEN
        CREATE ROLE nadia_mcp LOGIN IN ROLE nadia_bgw_reader;
    END IF;
END $$;
SQL
}
