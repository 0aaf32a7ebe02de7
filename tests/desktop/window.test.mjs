// The desktop window, for real: the Tauri shell under Xvfb, driven through tauri-driver and
// WebKitWebDriver (the W3C WebDriver protocol, spoken here with fetch). It opens the window, reads
// the cluster status that the engine sent through Tauri IPC, opens exercise 2.1 from the navigator,
// checks its first step (the kubectl command, the run button) and saves a screenshot. Run it under
// a display: `xvfb-run -a node --test tests/desktop`.
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

async function webdriver(method, path, body, timeoutMs = 60_000) {
  const response = await fetch(`${base}${path}`, {
    method,
    signal: AbortSignal.timeout(timeoutMs),
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
    env: {
      ...process.env,
      GITOPS_LAB_DATA: dataDir,
      GITOPS_LAB_EXERCISES: join(repo, 'exercises'),
      GITOPS_LAB_LANG: 'en',
      LANG: 'en_US.UTF-8',
    },
  });
  driverExit = new Promise((done) => driver.once('exit', done));
  await eventually(() => fetch(`${base}/status`).then((r) => r.ok), 'tauri-driver', 20_000);
  const created = await webdriver('POST', '/session', {
    capabilities: { alwaysMatch: { 'tauri:options': { application } } },
  });
  session = created.sessionId;
});

after(async () => {
  // Ending the session closes the window (the shell stops its engine and sandbox on exit). Bounded,
  // so that a window that does not close fails the run instead of hanging it.
  if (session) await webdriver('DELETE', `/session/${session}`, undefined, 30_000).catch(() => {});
  driver?.kill('SIGTERM');
  const stopped = await Promise.race([driverExit, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
  if (stopped === 'timeout') driver.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

test('the window opens and shows the sandbox connected (the engine answers through Tauri IPC)', async () => {
  await eventually(async () => /Connected/.test(await textOf(await find('#cluster-status'))), 'the cluster status to read Connected');
  // The server's address is in the status message (its full text is in the DOM, shortened on screen).
  const message = await webdriver('GET', `/session/${session}/element/${await find('#cluster-status .message')}/property/textContent`);
  assert.match(message, /https:\/\/127\.0\.0\.1:\d+/);
  const where = await webdriver('POST', `/session/${session}/execute/sync`, { script: 'return location.protocol', args: [] });
  assert.equal(where, 'tauri:', 'the page is the embedded UI, not a web server');
});

test('the navigator lists the exercises and opens 2.1 with its kubectl command', async () => {
  const link = await eventually(async () => find('.navigator .exercise[data-id^="2.1"] a'), 'exercise 2.1 in the navigator');
  await click(link);
  const heading = await eventually(async () => textOf(await find('.step-view h2')), 'the exercise to open');
  assert.match(heading, /\S/);
  const kubectl = await eventually(async () => textOf(await find('.step .kubectl .command-line code')), 'the step\'s kubectl command');
  assert.match(kubectl, /^\$ kubectl /);
  // Run the step through IPC: answer the prediction, click the action, and see the Pod arrive in
  // the live tree by the engine's watch events (a Tauri channel).
  const radio = await find('.step .prediction input[type=radio]').catch(() => null);
  if (radio) {
    await click(radio);
    await click(await find('.step .prediction button[type=submit]'));
  }
  await click(await find('.step button.run'));
  await eventually(async () => textOf(await find('.tree-item[data-kind="Pod"][data-name="nginx"] .status')), 'the Pod in the live tree');
  await eventually(async () => find('.step .checks.all-met'), 'the step\'s checks to turn green');
  await new Promise((r) => setTimeout(r, 1000)); // WebKit's screenshot can show the previous frame
  mkdirSync(outDir, { recursive: true });
  const png = await webdriver('GET', `/session/${session}/screenshot`);
  writeFileSync(join(outDir, 'desktop.png'), Buffer.from(png, 'base64'));
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    mkdirSync(join(repo, 'docs', 'screenshots'), { recursive: true });
    writeFileSync(join(repo, 'docs', 'screenshots', 'desktop.png'), Buffer.from(png, 'base64'));
  }
});
