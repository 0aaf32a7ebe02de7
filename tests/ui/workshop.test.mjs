// Workshop mode in Chromium: two learners join by name in their own browser contexts, the
// instructor's board shows both progressing live, and a reset from the board reaches the learner's
// screen; removing a learner from the board. Drives the real `gitops-lab workshop` and real sandboxes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { labBinary, startBrowser, screenshot } from './lab.mjs';

const EXERCISE = '2.1-nginx-pod';
let workshop;
let chromium;

/** Starts the workshop; resolves with its instructor and join urls once printed. */
async function startWorkshop() {
  const dataDir = mkdtempSync(joinPath(tmpdir(), 'gitops-lab-workshop-'));
  const child = spawn(labBinary(), ['workshop', '--listen', '127.0.0.1:0', '--exercises', EXERCISE, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GITOPS_LAB_LANG: 'en' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise((done) => child.once('exit', (code) => done(code)));
  const urls = await new Promise((done, fail) => {
    let stdout = '';
    const timer = setTimeout(() => fail(new Error(`no urls within 60 s; stderr:\n${stderr}`)), 60_000);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const instructor = stdout.match(/^instructor: (\S+)$/m);
      const joinUrl = stdout.match(/^join: (\S+)$/m);
      if (instructor && joinUrl) { clearTimeout(timer); done({ instructor: instructor[1], join: joinUrl[1] }); }
    });
    exited.then((code) => { clearTimeout(timer); fail(new Error(`gitops-lab workshop exited (${code}):\n${stderr}`)); });
  });
  return {
    ...urls,
    origin: new URL(urls.join).origin,
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

/** A learner's command through the API with their personal link's token. */
async function command(token, body) {
  const response = await fetch(`${workshop.origin}/api/command`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  assert.ok(answer.Ok, `${body.type}: ${JSON.stringify(answer)}`);
  return answer.Ok;
}

/** Joins in a fresh browser context by typing the name; returns the page and the token. */
async function join(name) {
  const context = await chromium.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(workshop.join);
  await page.fill('#name', '');
  await page.click('button[type=submit]');
  await page.waitForSelector('#join-error');
  assert.match(await page.textContent('#join-error'), /type your name/);
  await page.fill('#name', name);
  await page.click('button[type=submit]');
  const link = await page.textContent('#personal-link');
  const token = new URL(link).searchParams.get('token');
  assert.equal(await page.getAttribute('#kubeconfig', 'href'), '/api/kubeconfig', 'the welcome page offers the kubeconfig');
  await page.click('#open-lab');
  await page.waitForSelector('.navigator, nav', { timeout: 60_000 });
  return { page, token };
}

before(async () => {
  workshop = await startWorkshop();
  chromium = await startBrowser();
});
after(async () => {
  await chromium?.stop();
  assert.equal(await workshop?.stop(), 0, 'gitops-lab workshop exits 0 on SIGTERM');
});

test('two learners progress live on the board and a reset reaches the learner', async () => {
  const ada = await join('Ada');
  const lei = await join('李雷');
  const board = await (await chromium.browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await board.goto(workshop.instructor);
  await board.waitForSelector('tr[data-learner="learner-2"]');
  const cell = (learner) => board.locator(`tr[data-learner="${learner}"] td[data-exercise="${EXERCISE}"] .board-cell`);

  for (const learner of [ada, lei]) {
    await command(learner.token, { type: 'openExercise', id: EXERCISE });
    await command(learner.token, { type: 'predict', exercise: EXERCISE, step: 0, choice: 1 });
    await command(learner.token, { type: 'runStep', exercise: EXERCISE, step: 0 });
  }
  // The board polls: both rows show steps done without a reload (the steps after the first have
  // no checks of their own to wait for, so several may be done at once).
  for (const learner of ['learner-1', 'learner-2']) {
    await board.waitForFunction((sel) => /^[1-9]\d*\//.test(document.querySelector(sel)?.textContent ?? ''),
      `tr[data-learner="${learner}"] td[data-exercise="${EXERCISE}"] .board-cell`, { timeout: 60_000 });
  }
  await screenshot(board, 'workshop-board');

  // Ada has the exercise open, its first step done, when the instructor resets it.
  await ada.page.goto(`${workshop.origin}/#/exercise/${EXERCISE}`);
  const firstStep = ada.page.locator(`.step-view[data-exercise="${EXERCISE}"] .stepper li`).first();
  await firstStep.and(ada.page.locator('li.done')).waitFor({ timeout: 30_000 });
  await board.locator(`tr[data-learner="learner-1"] td[data-exercise="${EXERCISE}"] button`).click();
  await board.waitForSelector('#board-status');
  await ada.page.waitForSelector('text=Your instructor reset exercise', { timeout: 30_000 });
  // Her screen opens the exercise again from its first step, not done, its checks following the
  // cluster afresh (the pod is gone, so the first step's checks are unmet).
  await ada.page.locator(`.step-view[data-exercise="${EXERCISE}"] .stepper li:first-child:not(.done)`).waitFor({ timeout: 30_000 });
  await ada.page.locator('.step .checks:not(.all-met) .check').first().waitFor({ timeout: 30_000 });
  assert.match(await ada.page.locator('.step h3').innerText(), /^Step 1:/);
  await board.waitForFunction((sel) => /^0\//.test(document.querySelector(sel)?.textContent ?? ''),
    `tr[data-learner="learner-1"] td[data-exercise="${EXERCISE}"] .board-cell`, { timeout: 30_000 });
  assert.match(await cell('learner-2').textContent(), /^[1-9]\d*\//, "the other learner's progress is untouched");
});

/** Joins through the API (no browser of their own); returns the learner's id and token. */
async function joinByApi(name) {
  const response = await fetch(`${workshop.origin}/api/join`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }),
  });
  const answer = await response.json();
  assert.equal(response.status, 200, JSON.stringify(answer));
  return answer;
}

test("the board shows a learner's live tree, read-only, and only theirs", async () => {
  const grace = await joinByApi('Grace');
  const ken = await joinByApi('Ken');
  // Ken's own pod, which must never show in Grace's tree.
  await command(ken.token, {
    type: 'apply', source: 'ken.yaml',
    manifest: 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: kens-pod\nspec:\n  containers:\n  - name: c\n    image: busybox\n    command: ["sleep", "3600"]\n',
  });
  const board = await (await chromium.browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await board.goto(workshop.instructor);
  const row = `tr[data-learner="${grace.id}"]`;
  await board.waitForSelector(`${row} .board-look`);
  // Opened before the pod exists: the poll brings it in without another click.
  await command(grace.token, { type: 'openExercise', id: EXERCISE });
  await board.locator(`${row} .board-look`).click();
  await board.waitForSelector('#board-tree h2');
  assert.match(await board.textContent('#board-tree h2'), /Grace's resources \(read-only/);
  await command(grace.token, { type: 'predict', exercise: EXERCISE, step: 0, choice: 1 });
  await command(grace.token, { type: 'runStep', exercise: EXERCISE, step: 0 });
  const pod = '#board-tree [role=treeitem][data-kind="Pod"][data-name="nginx"]';
  await board.waitForSelector(pod, { timeout: 30_000 });
  assert.equal(await board.locator('#board-tree [data-name="kens-pod"]').count(), 0, "another learner's pod is not shown");
  // Read-only: no actions, no buttons inside the tree; the row is in the Tab order and says its level.
  assert.equal(await board.locator('#board-tree [role=tree] button, #board-tree [role=tree] input').count(), 0);
  assert.equal(await board.getAttribute(pod, 'aria-level'), '1');
  await board.focus(pod);
  await board.keyboard.press('End');
  assert.equal(await board.evaluate(() => document.activeElement?.getAttribute('role')), 'treeitem');
  // Both languages: the panel follows the language switch.
  await board.click('#language');
  await board.waitForFunction(() => /Grace 的资源（只读/.test(document.querySelector('#board-tree h2')?.textContent ?? ''));
  await screenshot(board, 'workshop-board-tree');
  // Ken's tree, opened from the same board, has his pod and not Grace's.
  await board.locator(`tr[data-learner="${ken.id}"] .board-look`).click();
  await board.waitForSelector('#board-tree [data-name="kens-pod"]', { timeout: 30_000 });
  assert.equal(await board.locator('#board-tree [data-name="nginx"]').count(), 0, "Grace's pod is not in Ken's tree");
  // A learner's token cannot read the tree API.
  const refused = await fetch(`${workshop.origin}/api/board/tree?learner=${grace.id}`, { headers: { authorization: `Bearer ${ken.token}` } });
  assert.equal(refused.status, 403);
});

test('the instructor removes a learner from the board: the row goes, their link says why', async () => {
  const mia = await joinByApi('Mia');
  const noah = await joinByApi('Noah');
  await command(mia.token, { type: 'openExercise', id: EXERCISE });
  const board = await (await chromium.browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await board.goto(workshop.instructor);
  const row = `tr[data-learner="${mia.id}"]`;
  await board.waitForSelector(`${row} .board-remove`);
  // Dismissing the question removes nothing.
  board.once('dialog', (dialog) => dialog.dismiss());
  await board.locator(`${row} .board-remove`).click();
  assert.equal((await fetch(`${workshop.origin}/api/me`, { headers: { authorization: `Bearer ${mia.token}` } })).status, 200);
  board.once('dialog', (dialog) => {
    assert.match(dialog.message(), /Remove Mia from the workshop\?/);
    dialog.accept();
  });
  await board.locator(`${row} .board-remove`).click();
  await board.waitForSelector('#board-status');
  assert.match(await board.textContent('#board-status'), /Removed Mia/);
  await board.waitForSelector(row, { state: 'detached', timeout: 30_000 });
  await board.waitForSelector(`tr[data-learner="${noah.id}"]`);
  const refused = await fetch(`${workshop.origin}/api/me`, { headers: { authorization: `Bearer ${mia.token}` } });
  assert.equal(refused.status, 401);
  assert.match(await refused.text(), /removed you from the workshop/);
  // Her personal link, opened in a browser, shows the same sentence.
  const page = await (await chromium.browser.newContext()).newPage();
  await page.goto(mia.link);
  assert.match(await page.textContent('body'), /removed you from the workshop/);
});
