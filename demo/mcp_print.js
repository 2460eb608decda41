// demo/mcp_print.js -- prints an MCP session for people: each message the
// client sent (demo/steps/*.sh write them one JSON-RPC message a line) and
// the server's answer to it, tool results as one line per row.  A row's
// multi-line text fields (a plan's text) are printed as indented blocks.
//
//   node demo/mcp_print.js SENT.jsonl ANSWERS.jsonl
const fs = require('fs');
const sent = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map(JSON.parse);
const got = fs.readFileSync(process.argv[3], 'utf8').trim().split('\n').map(JSON.parse);
const byId = Object.fromEntries(got.map((a) => [a.id, a]));
const cut = (s, n) => (s.length > n ? s.slice(0, n) + ' ...' : s);

function printRow(row) {
  const blocks = [];
  const flat = {};
  for (const [k, v] of Object.entries(row)) {
    if (typeof v === 'string' && v.includes('\n')) blocks.push([k, v]);
    else flat[k] = v;
  }
  console.log('    ' + cut(JSON.stringify(flat), 300));
  for (const [k, v] of blocks) {
    console.log(`      ${k}:`);
    for (const line of v.split('\n')) console.log('        ' + line);
  }
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
