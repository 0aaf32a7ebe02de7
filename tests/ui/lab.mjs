// Test support: starts the real `gitops-lab web` on a free port with a fresh data directory, and a
// real Chromium through playwright-core (never a downloaded browser). Each helper waits on the
// processes it starts, so nothing outlives a test.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The gitops-lab binary: $GITOPS_LAB_BIN, else the debug build in the target directory. */
export function labBinary() {
  const bin = process.env.GITOPS_LAB_BIN || join(process.env.CARGO_TARGET_DIR || join(repo, 'target'), 'debug', 'gitops-lab');
  if (!existsSync(bin)) throw new Error(`gitops-lab is not built at ${bin}: run scripts/test (or cargo build -p gitops-lab)`);
  return bin;
}

/** Where screenshots go: $GITOPS_LAB_TEST_OUT, else a temporary folder. */
export const outDir = process.env.GITOPS_LAB_TEST_OUT || join(tmpdir(), 'gitops-lab-ui-tests');
mkdirSync(outDir, { recursive: true });

/** Starts web mode; resolves once it printed its url. */
export async function startLab(extraArgs = []) {
  const dataDir = mkdtempSync(join(tmpdir(), 'gitops-lab-web-'));
  const started = Date.now();
  const child = spawn(labBinary(), ['web', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GITOPS_LAB_LANG: 'en' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
  const url = await new Promise((done, fail) => {
    let stdout = '';
    const timer = setTimeout(() => fail(new Error(`no url within 60 s; stderr:\n${stderr}`)), 60_000);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = stdout.match(/^url: (\S+)$/m);
      if (match) { clearTimeout(timer); done(match[1]); }
    });
    exited.then(({ code }) => { clearTimeout(timer); fail(new Error(`gitops-lab web exited (${code}) before printing its url:\n${stderr}`)); });
  });
  const address = new URL(url);
  return {
    url,
    token: address.searchParams.get('token'),
    origin: address.origin,
    port: Number(address.port),
    startupMs: Date.now() - started,
    dataDir,
    stderr: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      const { code } = await exited;
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

/** Launches Chromium (playwright gives it a fresh temporary profile). */
export async function startBrowser() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  return { browser, stop: () => browser.close() };
}

/** A page at 1280×800 in the light theme, in a fresh context; an uncaught error in the page fails the test. */
export async function openPage(chrome) {
  const context = await chrome.browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
  const page = await context.newPage();
  page.on('pageerror', (error) => { throw error; });
  return { context, page };
}

/** Waits until the page's cluster bar says the cluster is connected (the page in English). */
export async function connected(page, timeout = 30_000) {
  await page.locator('#cluster-status .phase', { hasText: 'Connected' }).waitFor({ timeout });
}

/**
 * What most suites begin with: a fresh lab, Chromium, and the lab's page open and connected.
 * Whatever was started is stopped again if a later part fails, so a failed start leaves nothing behind.
 */
export async function startConnected() {
  const lab = await startLab();
  let chrome;
  try {
    chrome = await startBrowser();
    const { context, page } = await openPage(chrome);
    await page.goto(lab.url);
    await connected(page, 60_000);
    return { lab, chrome, context, page };
  } catch (error) {
    await chrome?.stop();
    await lab.stop();
    throw error;
  }
}

/** Sends a command to the engine through the API, as the page would (cookie-less: bearer token). */
export async function command(lab, body) {
  const response = await fetch(`${lab.origin}/api/command`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${lab.token}` },
    body: JSON.stringify(body),
  });
  return response.json();
}

/** Whether the engine can do a command yet (features land one by one); the reason when it cannot. */
export async function missing(lab, body) {
  const answer = await command(lab, body);
  return answer.Err?.code === 'not-available' ? `the engine cannot do "${body.type}" yet` : false;
}

/** Saves a screenshot of the page to the output folder and, with UPDATE_SCREENSHOTS=1, to docs/screenshots. */
export async function screenshot(page, name) {
  const file = join(outDir, `${name}.png`);
  await page.screenshot({ path: file });
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    const docs = join(repo, 'docs', 'screenshots');
    mkdirSync(docs, { recursive: true });
    await page.screenshot({ path: join(docs, `${name}.png`) });
  }
  return file;
}
