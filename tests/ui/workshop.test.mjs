// Workshop mode in Chromium: two learners join by name in their own browser contexts, the
// instructor's board shows both progressing live, and a reset from the board reaches the learner's
// screen. Drives the real `gitops-lab workshop` and real sandboxes.
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

  await board.locator(`tr[data-learner="learner-1"] td[data-exercise="${EXERCISE}"] button`).click();
  await board.waitForSelector('#board-status');
  await ada.page.waitForSelector('text=Your instructor reset exercise', { timeout: 30_000 });
  await board.waitForFunction((sel) => /^0\//.test(document.querySelector(sel)?.textContent ?? ''),
    `tr[data-learner="learner-1"] td[data-exercise="${EXERCISE}"] .board-cell`, { timeout: 30_000 });
  assert.match(await cell('learner-2').textContent(), /^[1-9]\d*\//, "the other learner's progress is untouched");
});
