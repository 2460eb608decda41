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

// the data quality tools: one line a row, the figures a DBA reads
const num = (x, d = 2) => (x == null ? '?' : Number(x).toFixed(d));
const day = (t) => (t == null ? 'null' : t.slice(0, 10));
const time = (t) => (t == null ? 'null' : t.slice(11, 19));
function printQuality(row) {
  // constraint_violations, referential_integrity
  if ('detail' in row && 'open' in row) {
    const ref = row.ref_relname ? ` -> ${row.ref_schemaname}.${row.ref_relname}` : '';
    const cols = row.columns ? ` (${row.columns.join(', ')})` : '';
    // only NOT VALID constraints and disabled foreign key triggers are counted
    const countable = row.kind.startsWith('not_valid') || row.kind === 'disabled_fk_trigger';
    const counted = row.counted_at != null
      ? `; ${row.counted_rows} rows${row.count_exact ? ' (exact)' : ` (estimate ± ${row.count_error_bound})`} at ${time(row.counted_at)}`
      : countable ? '; rows not counted' : '';
    console.log(`    [${row.kind}${row.open ? '' : ', resolved ' + time(row.resolved_at)}] ` +
                `${row.schemaname}.${row.relname} ${row.objname}${cols}${ref}${counted}`);
    console.log(`      fix: ${row.detail}`);
  } else if ('top_freq' in row) { // data_distribution
    const flags = ['skew', 'null_frac_drift', 'n_distinct_drift'].filter((f) => row[f]);
    console.log(`    ${row.schemaname}.${row.relname}.${row.attname}: ${row.reltuples} rows, ` +
                `most common value's share ${num(row.top_freq, 3)}, ${row.n_distinct_abs} distinct, ` +
                `null_frac ${row.null_frac}, analyzed ${time(row.analyzed_at)}; flags: ${flags.join(', ') || 'none'}`);
  } else if ('expected_low' in row) { // data_anomalies
    const group = row.group_hash ? ` group ${row.group_hash.slice(0, 12)} (${row.group_columns.join(', ')})` : '';
    console.log(`    ${row.source} ${row.metric}${group}, bucket ${day(row.bucket_start)}: observed ${num(row.observed)}, ` +
                `expected ${num(row.expected_low)} .. ${num(row.expected_high)} (median ${num(row.median)}, ` +
                `${row.seasons} seasons), ${row.direction}, score ${num(row.score, 1)}`);
  } else { // capacity_forecast
    console.log(`    [${row.kind}] ${row.object}: ${row.current_value} of ${row.limit_value} ${row.unit}, ` +
                `${num(row.slope_7d, 0)} a day (7 days, R² ${num(row.fit_7d, 3)}, ${row.points_7d} points) ` +
                `-> ${row.days_to_limit == null ? 'no date' : num(row.days_to_limit, 1) + ' days to the limit'} (${row.basis})`);
  }
}
const QUALITY_TOOLS = ['constraint_violations', 'referential_integrity', 'data_distribution',
                       'data_anomalies', 'capacity_forecast'];

function printRow(row, tool) {
  if ('plan_text' in row && 'planid' in row) return printPlan(row);
  if ('create_statement' in row && 'source' in row) return printAdvice(row);
  if (QUALITY_TOOLS.includes(tool)) return printQuality(row);
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
    for (const row of sc.rows) printRow(row, m.params.name);
  } else {
    console.log('<<< ' + cut(JSON.stringify(r.structuredContent ?? r.content), 2000));
  }
}
