// demo/mcp_print.js -- prints an MCP session for people: each message the
// client sent (demo/steps/*.sh write them one JSON-RPC message a line) and
// the server's answer to it, tool results as one line per row (a row's
// multi-line text fields as indented blocks); explain_query's plans and
// missing_indexes' advice are printed with their figures in words.
//
//   node demo/mcp_print.js SENT.jsonl ANSWERS.jsonl
const fs = require('fs');
const sent = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map(JSON.parse);
const got = fs.readFileSync(process.argv[3], 'utf8').trim().split('\n').map(JSON.parse);
const byId = Object.fromEntries(got.map((a) => [a.id, a]));
const cut = (s, n) => (s.length > n ? s.slice(0, n) + ' ...' : s);

const pct = (x) => (x == null ? '?' : (100 * x).toFixed(1) + '%');
const block = (title, text) => {
  console.log(`      ${title}:`);
  for (const line of text.split('\n')) console.log('        ' + line);
};
let lastQuery = null;

// explain_query: one plan a row; the statement's text once, then per plan
// its figures, its text and the nodes whose estimates were furthest off
function printPlan(row) {
  if (row.query !== lastQuery) {
    console.log(`    statement ${row.queryid} (${row.username}): ${row.query.replace(/\s+/g, ' ')}`);
    lastQuery = row.query;
  }
  console.log(`    - plan ${row.planid}: ${row.calls} calls (${pct(row.share_of_calls)} of calls, ` +
              `${pct(row.share_of_time)} of time), mean ${row.mean_exec_time_ms} ms; ${row.summary}`);
  if (row.plan_text) block('plan_text', row.plan_text);
  if (row.worst_nodes && row.worst_nodes.length) block('worst_nodes', JSON.stringify(row.worst_nodes));
}

// missing_indexes: the advice first, its evidence on one line
function printAdvice(row) {
  if (row.source !== 'advice') {
    console.log(`    [${row.source}] ${row.schemaname}.${row.relname}: ${row.seq_scan} seq scans, ` +
                `${row.avg_rows_per_seq_scan} rows per scan`);
    return;
  }
  console.log(`    [advice${row.verified ? ', verified' : ', NOT verified: ' + row.why_not}] ${row.create_statement}`);
  console.log(`      serves ${row.queryids.length} statement(s); estimated gain ${row.est_gain_ms} ms ` +
              `(${pct(row.gain_ratio)} of their time), size ${row.index_bytes} bytes, ` +
              `table writes ${row.writes_per_hour} per hour`);
}

function printRow(row) {
  if ('plan_text' in row && 'planid' in row) return printPlan(row);
  if ('create_statement' in row && 'source' in row) return printAdvice(row);
  const blocks = [];
  const flat = {};
  for (const [k, v] of Object.entries(row)) {
    if (typeof v === 'string' && v.includes('\n')) blocks.push([k, v]);
    else flat[k] = v;
  }
  console.log('    ' + cut(JSON.stringify(flat), 300));
  for (const [k, v] of blocks) block(k, v);
}

for (const m of sent) {
  console.log(`\n>>> ${m.method}${m.params?.name ? ' ' + m.params.name + ' ' + JSON.stringify(m.params.arguments) : ''}`);
  if (m.id === undefined) { console.log('    (a notification: no answer)'); continue; }
  const a = byId[m.id];
  if (!a) { console.log('<<< (no answer)'); continue; }
  if (a.error) { console.log(`<<< error ${a.error.code}: ${a.error.message}`); continue; }
  const r = a.result;
  if (m.method === 'initialize') {
    console.log(`<<< protocolVersion ${r.protocolVersion}, server ${r.serverInfo.name} ${r.serverInfo.version}`);
  } else if (m.method === 'tools/list') {
    console.log(`<<< ${r.tools.length} tools:`);
    for (const t of r.tools) console.log(`    ${t.name.padEnd(24)} ${t.title}`);
  } else if (r.isError) {
    console.log(`<<< isError: ${r.content[0].text}`);
  } else if (r.structuredContent && Array.isArray(r.structuredContent.rows)) {
    const sc = r.structuredContent;
    console.log(`<<< ${sc.row_count ?? sc.rows.length} row(s)${sc.note ? ' (' + sc.note + ')' : ''}`);
    for (const row of sc.rows) printRow(row);
  } else {
    console.log('<<< ' + cut(JSON.stringify(r.structuredContent ?? r.content), 2000));
  }
}
