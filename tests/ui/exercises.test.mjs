// The acceptance flow, only by clicking: exercise 2.1 (apply the Pod, see it Running in the
// tree, open the port-forward link and find "Hello Kubernetes", run `ls` in the terminal), then
// exercise 2.2's three-way diff with its explanation. Each part skips, saying why, while the engine
// answers `not-available` for what it needs (features land on main one by one).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startConnected, command, missing, screenshot } from './lab.mjs';

let lab;
let chrome;
let context;
let page;
let exercises = [];

before(async () => {
  ({ lab, chrome, context, page } = await startConnected());
  const answer = await command(lab, { type: 'listExercises' });
  exercises = answer.Ok?.data ?? [];
});
after(async () => {
  await chrome?.stop();
  if (lab) assert.equal(await lab.stop(), 0);
});

const find = (prefix) => exercises.find((e) => e.id.startsWith(prefix));
const waitingFor = async (prefix, commands) => {
  if (!find(prefix)) return `exercise ${prefix} is not in the engine's list yet`;
  for (const body of commands) {
    const reason = await missing(lab, body);
    if (reason) return reason;
  }
  return false;
};

/** Plays every step of the open exercise by clicking: answer, run, wait for the checks. */
async function playSteps(id, onStep = async () => {}) {
  await page.goto(`${lab.origin}/#/exercise/${id}`);
  // The step view of this exercise (not the one open before, which must never stand in for it).
  await page.locator(`.step-view[data-exercise="${id}"] h2`).waitFor({ timeout: 30_000 });
  const steps = await page.locator('.stepper li').count();
  for (let index = 0; index < steps; index += 1) {
    const step = page.locator('.step');
    assert.match(await step.locator('h3').innerText(), new RegExp(`^Step ${index + 1}:`), `${id} shows step ${index + 1}`);
    const prediction = step.locator('.prediction');
    if (await prediction.count() && !(await prediction.locator('[role=status]').count())) {
      // One click on a choice must register: the answer button turns enabled at once.
      await prediction.locator('input[type=radio]').first().click();
      await prediction.locator('button[type=submit]:enabled').waitFor({ timeout: 2000 }).catch((error) => {
        throw new Error(`step ${index + 1} of ${id}: the chosen answer did not register`, { cause: error });
      });
      await prediction.locator('button[type=submit]').click();
      await prediction.locator('[role=status]').waitFor({ timeout: 10_000 });
    }
    const run = step.locator('button.run');
    if (await run.count()) {
      await run.click();
      await step.locator('.outcome, .error-box').first().waitFor({ timeout: 60_000 });
      assert.equal(await step.locator(':scope > .error-box').count(), 0, `step ${index + 1} of ${id} failed`);
    }
    if (await step.locator('.check').count()) {
      await step.locator('.checks.all-met').waitFor({ timeout: 60_000 }).catch(async (error) => {
        throw new Error(`step ${index + 1} of ${id}: checks not met:\n${await step.locator('.checks').innerText()}\n${await step.locator('.outcome').innerText().catch(() => '')}`, { cause: error });
      });
    }
    await onStep(index, step);
    if (index + 1 < steps) await page.locator('.step-nav button.primary').click();
  }
}

test('exercise 2.1 is completed only by clicking', async (t) => {
  const reason = await waitingFor('2.1', [{ type: 'graph' }, { type: 'portForwards' }]);
  if (reason) return t.skip(reason);
  const id = find('2.1').id;
  const seen = { running: false, page: false, terminal: false };
  await playSteps(id, async (index, step) => {
    if (index === 0) {
      // The Pod appears in the live tree and turns Running there.
      await page.locator('#tab-tree').click();
      const pod = page.locator('.tree-item[data-kind="Pod"][data-name="nginx"]');
      await pod.locator('.status', { hasText: 'Running' }).waitFor({ timeout: 30_000 });
      seen.running = true;
      await step.locator('.checks').scrollIntoViewIfNeeded();
      await page.waitForTimeout(1000); // let the arrival animation finish for the picture
      await screenshot(page, 'exercise-2.1');
    }
    const link = step.locator('.outcome .pf-link');
    if (await link.count()) {
      const [served] = await Promise.all([context.waitForEvent('page'), link.first().click()]);
      await served.waitForLoadState();
      assert.match(await served.content(), /Hello Kubernetes/);
      await screenshot(served, 'port-forward-page');
      await served.close();
      seen.page = true;
    }
    if (await step.locator('.outcome button', { hasText: 'Open the terminal' }).count()) {
      // The action opened a shell in the container: the terminal tab shows it; run ls there.
      const rows = page.locator('.terminal .xterm-rows');
      await rows.waitFor({ timeout: 20_000 });
      // Type once the shell has printed its prompt.
      await page.waitForFunction(() => /[#$] ?\s*$/m.test(document.querySelector('.terminal .xterm-rows')?.innerText ?? ''), null, { timeout: 20_000 });
      await page.locator('.terminal textarea').focus();
      await page.keyboard.type('ls /usr/share/nginx/html\n');
      await page.waitForFunction(() => /index\.html/.test(document.querySelector('.terminal .xterm-rows')?.innerText ?? ''), null, { timeout: 20_000 })
        .catch(async (error) => { throw new Error(`terminal shows:\n${await rows.innerText()}`, { cause: error }); });
      await screenshot(page, 'terminal');
      seen.terminal = true;
    }
  });
  assert.deepEqual(seen, { running: true, page: true, terminal: true });
  const done = await command(lab, { type: 'listExercises' });
  assert.equal(done.Ok.data.find((e) => e.id === id).status, 'completed');
  await page.reload();
  await page.locator(`.navigator .exercise[data-id="${id}"] .mark.ok`).waitFor({ timeout: 30_000 });
});

test('exercise 2.2 shows the change in the three-way view with its explanation', async (t) => {
  const reason = await waitingFor('2.2', [{ type: 'diff', source: 'x.yaml', manifest: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n' }]);
  if (reason) return t.skip(reason);
  let seen = false;
  await playSteps(find('2.2').id, async (_, step) => {
    if (!seen && await step.locator('.diff-result').count()) {
      seen = true;
      // The annotation the previous step changed, from sales to marketing, with the engine's reason.
      const row = step.locator('.three-way tr.field[data-path="metadata.annotations.organization"]');
      await row.waitFor({ timeout: 10_000 }).catch(async (error) => {
        throw new Error(`the three-way view shows:\n${await step.locator('.diff-result').innerText()}`, { cause: error });
      });
      assert.match(await row.innerText(), /sales[\s\S]*marketing/, 'live sales, file marketing');
      assert.ok((await row.locator('.reason').innerText()).trim().length > 0, 'the change is explained');
      await row.scrollIntoViewIfNeeded();
      await screenshot(page, 'three-way-diff');
    }
  });
  assert.ok(seen, 'a step of exercise 2.2 showed the three-way view');
});
