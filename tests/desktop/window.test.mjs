// The desktop window, for real: the Tauri shell under Xvfb, driven through tauri-driver and
// WebKitWebDriver (the W3C WebDriver protocol, spoken here with fetch). It opens the window, reads
// the cluster status, navigates to an exercise (or, before exercises exist, to a screen) and saves
// a screenshot. Run it under a display: `xvfb-run -a node --test tests/desktop`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const targetDir = process.env.CARGO_TARGET_DIR || join(repo, 'target');
const application = process.env.GITOPS_LAB_DESKTOP_BIN || join(targetDir, 'debug', 'gitops-lab-desktop');
const outDir = process.env.GITOPS_LAB_TEST_OUT || join(tmpdir(), 'gitops-lab-ui-tests');

let driver;
let driverExit;
let base;
let session;
let dataDir;

function freePort() {
  return new Promise((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

async function webdriver(method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${JSON.stringify(answer.value)}`);
  return answer.value;
}

const find = (css) => webdriver('POST', `/session/${session}/element`, { using: 'css selector', value: css })
  .then((found) => Object.values(found)[0]);
const textOf = (element) => webdriver('GET', `/session/${session}/element/${element}/text`);
const click = (element) => webdriver('POST', `/session/${session}/element/${element}/click`, {});

/** Polls until `probe` returns a truthy value (WebDriver has no event to wait on). */
async function eventually(probe, what, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

before(async () => {
  assert.ok(existsSync(application), `the desktop shell is not built at ${application}: run scripts/test`);
  assert.ok(process.env.DISPLAY, 'no display: run this under xvfb-run');
  dataDir = mkdtempSync(join(tmpdir(), 'gitops-lab-desktop-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  driver = spawn('tauri-driver', ['--port', String(port), '--native-port', String(await freePort())], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GITOPS_LAB_DATA: dataDir, GITOPS_LAB_LANG: 'en', LANG: 'en_US.UTF-8' },
  });
  driverExit = new Promise((done) => driver.once('exit', done));
  await eventually(() => fetch(`${base}/status`).then((r) => r.ok), 'tauri-driver', 20_000);
  const created = await webdriver('POST', '/session', {
    capabilities: { alwaysMatch: { 'tauri:options': { application } } },
  });
  session = created.sessionId;
});

after(async () => {
  if (session) await webdriver('DELETE', `/session/${session}`).catch(() => {});
  driver?.kill('SIGTERM');
  await driverExit;
  rmSync(dataDir, { recursive: true, force: true });
});

test('the window opens and shows the sandbox connected', async () => {
  const status = await eventually(async () => {
    const text = await textOf(await find('#cluster-status'));
    return /Connected/.test(text) && text;
  }, 'the cluster status to read Connected');
  assert.match(status, /https:\/\/127\.0\.0\.1:\d+/);
});

test('the navigator leads to an exercise (or a screen before exercises exist)', async () => {
  const exercises = await webdriver('POST', `/session/${session}/elements`, { using: 'css selector', value: '.navigator .exercise a' });
  if (exercises.length > 0) {
    await click(Object.values(exercises[0])[0]);
    const heading = await eventually(async () => textOf(await find('.step-view h2')), 'the exercise to open');
    assert.ok(heading.trim().length > 0);
  } else {
    await click(await find('.navigator .screens a[href="#/diff"]'));
    const heading = await eventually(async () => textOf(await find('.diff-screen h2')), 'the diff screen');
    assert.equal(heading, 'Diff and apply');
  }
  mkdirSync(outDir, { recursive: true });
  const png = await webdriver('GET', `/session/${session}/screenshot`);
  writeFileSync(join(outDir, 'desktop.png'), Buffer.from(png, 'base64'));
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    mkdirSync(join(repo, 'docs', 'screenshots'), { recursive: true });
    writeFileSync(join(repo, 'docs', 'screenshots', 'desktop.png'), Buffer.from(png, 'base64'));
  }
});
