// client.mjs -- drives nadia-mcp with the official MCP TypeScript SDK
// client (StdioClientTransport) for the nadia_bgw tests and benchmark.
//
//   node client.mjs tools  NADIA_MCP CONNINFO [SERVER_ARGS...]
//       initialize, list tools, call every tool (default arguments, then
//       the arguments in NADIA_MCP_CALLS if set: a JSON object name ->
//       array of argument objects), validate every structuredContent
//       against the tool's outputSchema with Ajv (the SDK validates too);
//       prints one JSON report on stdout.
//   node client.mjs bench  NADIA_MCP CONNINFO ROUNDS [SERVER_ARGS...]
//       call every tool ROUNDS times; report p50/p95/max latency per tool
//       (ms, measured here in the client) and the server's peak RSS.
//   node client.mjs start  NADIA_MCP CONNINFO [SERVER_ARGS...]
//       try to connect; report whether the server served, and its stderr.
//
// The report is JSON so that the Perl TAP tests decide pass or fail.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const [mode, command, conninfo, ...rest] = process.argv.slice(2);

function transportFor(extra) {
  const t = new StdioClientTransport({
    command,
    args: [...extra, conninfo],
    stderr: 'pipe',
  });
  const stderr = [];
  t.stderr.on('data', (d) => stderr.push(d.toString()));
  return { t, stderr };
}

function rssOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number((status.match(new RegExp(`${k}:\\s+(\\d+)`)) || [])[1]);
    return { rss_kb: kb('VmRSS'), hwm_kb: kb('VmHWM') };
  } catch {
    return null;
  }
}

// the SDK keeps the negotiated version to itself: note it on the way in
function watchVersion(t) {
  const origStart = t.start.bind(t);
  t.start = async () => {
    const handler = t.onmessage;
    t.onmessage = (m, extra) => {
      if (m?.result?.protocolVersion) t.negotiated = m.result.protocolVersion;
      handler(m, extra);
    };
    return origStart();
  };
}

async function connect(extra) {
  const { t, stderr } = transportFor(extra);
  watchVersion(t);
  const client = new Client({ name: 'nadia-test-client', version: '1.0.0' });
  await client.connect(t);
  return { client, t, stderr };
}

async function toolsMode(extra) {
  const report = { calls: [], errors: [] };
  const { client, t, stderr } = await connect(extra);
  report.server = client.getServerVersion();
  report.capabilities = client.getServerCapabilities();
  report.instructions = client.getInstructions();
  report.protocolVersion = t.negotiated ?? null;
  const listed = await client.listTools();
  report.tools = listed.tools;

  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  const extraCalls = process.env.NADIA_MCP_CALLS ? JSON.parse(process.env.NADIA_MCP_CALLS) : {};

  for (const tool of listed.tools) {
    const validate = tool.outputSchema ? ajv.compile(tool.outputSchema) : null;
    const argsList = [{}, ...(extraCalls[tool.name] || [])];
    for (const args of argsList) {
      const entry = { tool: tool.name, arguments: args };
      try {
        const result = await client.callTool({ name: tool.name, arguments: args });
        entry.isError = result.isError === true;
        entry.text = result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
        entry.structuredContent = result.structuredContent ?? null;
        entry.meta = result._meta ?? null;
        if (!entry.isError) {
          entry.valid = validate ? validate(result.structuredContent) : false;
          if (!entry.valid) entry.validationErrors = validate ? validate.errors : 'no outputSchema';
          // the text content must carry the same JSON
          try {
            entry.textMatches = JSON.stringify(JSON.parse(entry.text)) ===
              JSON.stringify(result.structuredContent);
          } catch {
            entry.textMatches = false;
          }
        }
      } catch (e) {
        entry.exception = { code: e.code ?? null, message: String(e.message ?? e) };
      }
      report.calls.push(entry);
    }
  }
  // a ping round trip and an unknown tool through the SDK
  await client.ping();
  report.ping = true;
  try {
    await client.callTool({ name: 'no_such_tool', arguments: {} });
    report.unknownTool = { code: null };
  } catch (e) {
    report.unknownTool = { code: e.code ?? null, message: String(e.message) };
  }
  report.serverPid = t.pid;
  report.rss = rssOf(t.pid);
  await client.close();
  report.stderr = stderr.join('');
  return report;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}

async function benchMode(rounds, extra) {
  const { client, t, stderr } = await connect(extra);
  const { tools } = await client.listTools();
  const per = {};
  let errors = 0;
  // one warm-up call each: connection caches and plans, as a long-lived server has
  for (const tool of tools) await client.callTool({ name: tool.name, arguments: {} });
  for (let r = 0; r < rounds; r++) {
    for (const tool of tools) {
      const t0 = performance.now();
      const res = await client.callTool({ name: tool.name, arguments: {} });
      const ms = performance.now() - t0;
      if (res.isError) errors++;
      (per[tool.name] ??= { ms: [], rows: 0, isError: false });
      per[tool.name].ms.push(ms);
      per[tool.name].rows = res.structuredContent?.row_count ?? 0;
      per[tool.name].isError ||= res.isError === true;
      if (res.isError) per[tool.name].error = res.content?.[0]?.text;
    }
  }
  const out = { rounds, errors, tools: {} };
  for (const [name, v] of Object.entries(per)) {
    const s = [...v.ms].sort((a, b) => a - b);
    out.tools[name] = {
      p50_ms: percentile(s, 50), p95_ms: percentile(s, 95), max_ms: s[s.length - 1],
      rows: v.rows, isError: v.isError, error: v.error,
    };
  }
  out.rss = rssOf(t.pid);
  await client.close();
  out.stderr = stderr.join('');
  return out;
}

async function startMode(extra) {
  const { t, stderr } = transportFor(extra);
  const client = new Client({ name: 'nadia-test-client', version: '1.0.0' });
  const exited = new Promise((resolve) => { t.onclose = () => resolve('closed'); });
  const report = { served: false };
  try {
    await Promise.race([
      client.connect(t),
      exited.then(() => { throw new Error('server exited'); }),
      new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 20000)),
    ]);
    await client.listTools();
    report.served = true;
    await client.close();
  } catch (e) {
    report.error = String(e.message ?? e);
  }
  // give stderr a moment to drain after the child exits
  await new Promise((r) => setTimeout(r, 200));
  report.stderr = stderr.join('');
  return report;
}

let report;
try {
  if (mode === 'tools') report = await toolsMode(rest);
  else if (mode === 'bench') report = await benchMode(Number(rest[0]), rest.slice(1));
  else if (mode === 'start') report = await startMode(rest);
  else throw new Error(`unknown mode ${mode}`);
} catch (e) {
  report = { fatal: String(e.stack ?? e) };
}
// exit only once the report is flushed: a pipe is written asynchronously
process.stdout.write(JSON.stringify(report) + '\n', () => process.exit(0));
