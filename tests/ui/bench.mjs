// UI benchmarks (not tests): prints the figures recorded in docs/benchmarks.md.
//   node tests/ui/bench.mjs startup [runs]   gitops-lab web start → url printed → page interactive
//   node tests/ui/bench.mjs size             bytes shipped to the browser, raw and gzip
//   node tests/ui/bench.mjs tree [pods]      a Deployment of N pods: frame times and event→paint latency
//     BENCH_PROFILE=1 also takes Chromium's CPU profile of the page during the burst (CDP Profiler,
//     0.5 ms sampling), prints the functions with the most self time and saves the .cpuprofile.
//     BENCH_TRACE=1 records a Chromium trace of the burst instead and prints the renderer main
//     thread's own busy time and where the long tasks (over 50 ms) spent it (script, style, layout,
//     paint, garbage collection); the trace is saved as JSON (open it in chrome://tracing).
// Needs the built binary (GITOPS_LAB_BIN or the debug build) and ui/dist.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { repo, startLab, startBrowser, command, connected, outDir } from './lab.mjs';

const [mode = 'startup', count] = process.argv.slice(2);
const quantile = (values, q) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))];
const summary = (values) => `median ${quantile(values, 0.5).toFixed(0)} ms, p95 ${quantile(values, 0.95).toFixed(0)} ms, max ${Math.max(...values).toFixed(0)} ms`;

async function startup(runs) {
  const chrome = await startBrowser();
  const toUrl = [];
  const toInteractive = [];
  const toConnected = [];
  for (let run = 0; run < runs; run += 1) {
    const lab = await startLab();
    const page = await chrome.browser.newPage();
    const loaded = Date.now();
    await page.goto(lab.url);
    await page.locator('#language').waitFor({ timeout: 30_000 });
    toInteractive.push(lab.startupMs + (Date.now() - loaded));
    await connected(page);
    toConnected.push(lab.startupMs + (Date.now() - loaded));
    toUrl.push(lab.startupMs);
    await page.close();
    await lab.stop();
  }
  await chrome.stop();
  console.log(`gitops-lab web start → url printed (${runs} runs): ${summary(toUrl)}`);
  console.log(`gitops-lab web start → page interactive (UI mounted) (${runs} runs): ${summary(toInteractive)}`);
  console.log(`gitops-lab web start → sandbox connected on the page (${runs} runs): ${summary(toConnected)}`);
}

function size() {
  const dist = join(repo, 'ui', 'dist');
  let raw = 0;
  let gzip = 0;
  for (const name of readdirSync(dist).filter((n) => !n.startsWith('.'))) {
    const bytes = readFileSync(join(dist, name));
    const packed = gzipSync(bytes, { level: 9 }).length;
    raw += statSync(join(dist, name)).size;
    gzip += packed;
    console.log(`${name.padEnd(24)} ${String(bytes.length).padStart(9)} B raw ${String(packed).padStart(8)} B gzip`);
  }
  console.log(`total shipped: ${(raw / 1024).toFixed(0)} KiB raw, ${(gzip / 1024).toFixed(0)} KiB gzip`);
}

async function tree(pods) {
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  const lab = await startLab();
  const graph = await command(lab, { type: 'graph' });
  if (graph.Err) {
    console.log(`skipped: the engine cannot build the live graph yet (${graph.Err.code})`);
    return lab.stop();
  }
  const chrome = await startBrowser();
  const page = await chrome.browser.newPage({ viewport: { width: 1280, height: 800 } });
  // The engine's events by type, as the page receives them (graph deltas, resets, resyncs, ...).
  const received = new Map();
  page.on('websocket', (socket) => socket.on('framereceived', ({ payload }) => {
    const type = String(payload).match(/^\{"type":"(\w+)"/)?.[1] ?? '?';
    received.set(type, (received.get(type) ?? 0) + 1);
  }));
  await page.goto(lab.url);
  await connected(page);
  // Record every frame's duration while the burst arrives.
  await page.evaluate(() => {
    window.frames_ = [];
    let last = performance.now();
    const tick = (now) => { window.frames_.push(now - last); last = now; requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    // Rows put into the DOM (new or moved by the keyed list) during the burst.
    window.rowsMounted_ = 0;
    new MutationObserver((records) => {
      for (const r of records) for (const n of r.addedNodes) if (n.classList?.contains('tree-item')) window.rowsMounted_ += 1;
    }).observe(document.body, { childList: true, subtree: true });
  });
  const profiler = process.env.BENCH_PROFILE ? await startProfile(page) : null;
  if (process.env.BENCH_TRACE) await chrome.browser.startTracing(page, { categories: TRACE_CATEGORIES });
  const kubeconfig = join(lab.dataDir, 'sandbox', 'kubeconfig');
  const manifest = `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: burst, namespace: default}\nspec:\n  replicas: ${pods}\n  selector: {matchLabels: {app: burst}}\n  template:\n    metadata: {labels: {app: burst}}\n    spec: {containers: [{name: web, image: nginx}]}\n`;
  const applied = spawnSync('kubectl', ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], { input: manifest });
  if (applied.status !== 0) throw new Error(applied.stderr.toString());
  await page.waitForFunction((n) => Number(document.querySelector('.tree')?.dataset.pods ?? 0) >= n, pods, { timeout: 300_000, polling: 200 });
  await page.waitForTimeout(2000);
  const frames = await page.evaluate(() => window.frames_.slice(1));
  const latencies = await page.evaluate(() => Array.from(window.gitopsLab.treeLatencies()));
  const rows = await page.evaluate(() => Number(document.querySelector(".tree").dataset.pods));
  const mounted = await page.evaluate(() => window.rowsMounted_);
  if (profiler) await stopProfile(profiler);
  if (process.env.BENCH_TRACE) readTrace(await chrome.browser.stopTracing());
  console.log(`${pods} pods: ${rows} pod rows in the tree; ${latencies.length} deltas painted; ${mounted} rows put into the DOM`);
  console.log(`events received: ${[...received].map(([t, n]) => `${t} ${n}`).join(', ')}`);
  console.log(`frame durations during the burst: ${summary(frames)}`);
  console.log(`delta received → painted: ${summary(latencies)}`);
  console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (at the start: ${load})`);
  await chrome.stop();
  await lab.stop();
}

async function startProfile(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
  await cdp.send('Profiler.start');
  return cdp;
}

// Self time per function (wasm functions by name when the module has a name section), the top 15.
async function stopProfile(cdp) {
  const { profile } = await cdp.send('Profiler.stop');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `tree-${Date.now()}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  const groups = new Map();
  const deltas = profile.timeDeltas;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id).callFrame;
    const name = `${frame.functionName || '(anonymous)'} ${frame.url ? frame.url.split('/').pop() : ''}`.trim();
    const ms = (deltas[i + 1] ?? 0) / 1000;
    self.set(name, (self.get(name) ?? 0) + ms);
    // (program) is the renderer's own work outside script: style, layout, paint, parsing.
    const group = frame.url.endsWith('.wasm') ? 'the UI (wasm)' : frame.url ? 'JS glue' : name.startsWith('(') ? name : 'DOM and browser calls';
    groups.set(group, (groups.get(group) ?? 0) + ms);
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const split = [...groups].sort((a, b) => b[1] - a[1]).map(([g, ms]) => `${g} ${ms.toFixed(0)} ms`).join(', ');
  console.log(`CPU profile (${file}): ${total.toFixed(0)} ms sampled: ${split}; most self time:`);
  for (const [name, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    console.log(`  ${ms.toFixed(0).padStart(7)} ms  ${name}`);
  }
}

const TRACE_CATEGORIES = ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'blink.user_timing'];
// What a main-thread task is made of, by trace event name (nested events are summed under each
// name, so the columns overlap: FunctionCall includes the wasm it runs).
const TRACE_PARTS = ['FireAnimationFrame', 'EventDispatch', 'FunctionCall', 'TimerFire', 'UpdateLayoutTree', 'Layout',
  'PrePaint', 'Paint', 'Layerize', 'Commit', 'HitTest', 'MinorGC', 'MajorGC', 'V8.GC_SCAVENGER', 'ParseHTML'];

// The renderer main thread's busy time during the burst, and the make-up of its long tasks.
function readTrace(buffer) {
  const { traceEvents: events } = JSON.parse(buffer.toString());
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `tree-${Date.now()}.trace.json`);
  writeFileSync(file, buffer);
  const main = events.find((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  if (!main) return console.log(`trace (${file}): no renderer main thread found`);
  const mine = events.filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X' && e.dur !== undefined);
  const tasks = mine.filter((e) => e.name === 'RunTask' || e.name === 'ThreadControllerImpl::RunTask').sort((a, b) => a.ts - b.ts);
  // Tasks never nest on this thread; keep the outermost ones only.
  const top = tasks.filter((t, i) => !tasks.slice(Math.max(0, i - 3), i).some((o) => o.ts <= t.ts && t.ts + t.dur <= o.ts + o.dur));
  const busy = top.reduce((sum, t) => sum + t.dur, 0) / 1000;
  // Thread time (tdur) leaves out the time the thread waited for a core: the load-robust figure.
  const cpu = top.reduce((sum, t) => sum + (t.tdur ?? t.dur), 0) / 1000;
  const span = top.length ? (top.at(-1).ts + top.at(-1).dur - top[0].ts) / 1000 : 0;
  console.log(`trace (${file}): main thread busy ${busy.toFixed(0)} ms (on a core ${cpu.toFixed(0)} ms) of ${span.toFixed(0)} ms in ${top.length} tasks`);
  const parts = (within) => {
    const sums = new Map();
    for (const e of mine) {
      if (!TRACE_PARTS.includes(e.name) || !within(e)) continue;
      sums.set(e.name, (sums.get(e.name) ?? 0) + e.dur / 1000);
    }
    return [...sums].sort((a, b) => b[1] - a[1]).map(([n, ms]) => `${n} ${ms.toFixed(0)}`).join(', ');
  };
  console.log(`  all tasks (ms, overlapping): ${parts(() => true)}`);
  const long = top.filter((t) => t.dur > 50_000);
  const inLong = (e) => long.some((t) => t.ts <= e.ts && e.ts < t.ts + t.dur);
  console.log(`  ${long.length} tasks over 50 ms, ${(long.reduce((s, t) => s + t.dur, 0) / 1000).toFixed(0)} ms: ${parts(inLong)}`);
  for (const t of long.sort((a, b) => b.dur - a.dur).slice(0, 5)) {
    console.log(`    ${(t.dur / 1000).toFixed(0)} ms: ${parts((e) => t.ts <= e.ts && e.ts < t.ts + t.dur)}`);
  }
  const marks = mine.filter((e) => e.name.startsWith('tree:')).length;
  if (marks) console.log(`  ${marks} tree: measures`);
}

if (mode === 'startup') await startup(Number(count || 10));
else if (mode === 'size') size();
else if (mode === 'tree') await tree(Number(count || 1000));
else throw new Error(`unknown mode ${mode}: startup, size or tree`);
