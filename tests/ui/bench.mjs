// UI benchmarks (not tests): prints the figures recorded in docs/benchmarks.md.
//   node tests/ui/bench.mjs startup [runs]   gitops-lab web start → url printed → page interactive
//   node tests/ui/bench.mjs size             bytes shipped to the browser, raw and gzip
//   node tests/ui/bench.mjs tree [pods]      a Deployment of N pods: frame times and event→paint latency
// Needs the built binary (GITOPS_LAB_BIN or the debug build) and ui/dist.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { repo, startLab, startBrowser, command } from './lab.mjs';

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
    await page.locator('#cluster-status .phase', { hasText: 'Connected' }).waitFor({ timeout: 30_000 });
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
  const lab = await startLab();
  const graph = await command(lab, { type: 'graph' });
  if (graph.Err) {
    console.log(`skipped: the engine cannot build the live graph yet (${graph.Err.code})`);
    return lab.stop();
  }
  const chrome = await startBrowser();
  const page = await chrome.browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(lab.url);
  await page.locator('#cluster-status .phase', { hasText: 'Connected' }).waitFor({ timeout: 30_000 });
  // Record every frame's duration while the burst arrives.
  await page.evaluate(() => {
    window.frames_ = [];
    let last = performance.now();
    const tick = (now) => { window.frames_.push(now - last); last = now; requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  });
  const kubeconfig = join(lab.dataDir, 'sandbox', 'kubeconfig');
  const manifest = `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: burst, namespace: default}\nspec:\n  replicas: ${pods}\n  selector: {matchLabels: {app: burst}}\n  template:\n    metadata: {labels: {app: burst}}\n    spec: {containers: [{name: web, image: nginx}]}\n`;
  const applied = spawnSync('kubectl', ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], { input: manifest });
  if (applied.status !== 0) throw new Error(applied.stderr.toString());
  await page.waitForFunction((n) => Number(document.querySelector('.tree')?.dataset.pods ?? 0) >= n, pods, { timeout: 300_000, polling: 200 });
  await page.waitForTimeout(2000);
  const frames = await page.evaluate(() => window.frames_.slice(1));
  const latencies = await page.evaluate(() => Array.from(window.gitopsLab.treeLatencies()));
  const rows = await page.evaluate(() => Number(document.querySelector(".tree").dataset.pods));
  console.log(`${pods} pods: ${rows} pod rows in the tree; ${latencies.length} deltas painted`);
  console.log(`frame durations during the burst: ${summary(frames)}`);
  console.log(`delta received → painted: ${summary(latencies)}`);
  await chrome.stop();
  await lab.stop();
}

if (mode === 'startup') await startup(Number(count || 10));
else if (mode === 'size') size();
else if (mode === 'tree') await tree(Number(count || 1000));
else throw new Error(`unknown mode ${mode}: startup, size or tree`);
