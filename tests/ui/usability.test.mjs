// Usable and accessible, checked in real Chromium against a fresh sandbox: axe-core on every main
// screen in both themes and both languages (a serious or critical violation fails), no screen
// scrolling sideways at 1280×800 and 1920×1080, a step's action reached and run with the keyboard
// only, and a prediction's choice registering at the first click.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { startConnected, command } from './lab.mjs';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let lab;
let chrome;
let context;
let page;
let exercises = [];
before(async () => {
  ({ lab, chrome, context, page } = await startConnected());
  exercises = (await command(lab, { type: 'listExercises' })).Ok?.data ?? [];
  // The GitOps screen's resource table (the widest one) needs a sync run to show.
  await command(lab, { type: 'syncConfigure', repo: 'config', path: '.', prune: false, auto: false });
  await command(lab, { type: 'syncNow' });
});
after(async () => {
  await chrome?.stop();
  if (lab) assert.equal(await lab.stop(), 0);
});

const first = () => exercises.find((e) => e.id.startsWith('2.1'))?.id ?? exercises[0]?.id;

/** The main screens: a route and what shows once it has rendered the engine's answer. */
const screens = () => [
  { name: 'home', hash: '#/', ready: '.home h2' },
  { name: 'exercise', hash: `#/exercise/${first()}`, ready: `.step-view[data-exercise="${first()}"] .step h3` },
  { name: 'diff', hash: '#/diff', ready: '.diff-screen textarea' },
  { name: 'gitops', hash: '#/gitops', ready: 'section.gitops table.sync-resources tr' },
  { name: 'ci', hash: '#/ci', ready: 'section.ci h2' },
];

/** Opens a screen fresh (a reload, so the language and theme chosen are read again). */
async function open(screen) {
  await page.goto(`${lab.origin}/${screen.hash}`);
  await page.reload();
  await page.locator(screen.ready).first().waitFor({ timeout: 30_000 });
}

/** Runs axe-core on the page; returns the serious and critical violations, one line each. */
async function axe() {
  // Evaluated through the DevTools protocol: the page's CSP (rightly) refuses an injected script tag.
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(' ')} — ${n.failureSummary.replace(/\s+/g, ' ')}`));
}

const liveTabs = ['tree', 'events', 'logs', 'yaml', 'terminal', 'ports'];

test('axe-core finds no serious or critical violation on any screen, in both themes and languages', async () => {
  const found = [];
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const language of ['en', 'zh-CN']) {
      await page.evaluate((tag) => localStorage.setItem('gitops-lab.language', tag), language);
      for (const screen of screens()) {
        await open(screen);
        assert.equal(await page.locator('html').getAttribute('lang'), language);
        found.push(...(await axe()).map((line) => `${screen.name} ${scheme} ${language}: ${line}`));
      }
      // The live panel's tabs, each once per theme and language (on the home screen).
      for (const tab of liveTabs) {
        await page.locator(`#tab-${tab}`).click();
        found.push(...(await axe()).map((line) => `live ${tab} ${scheme} ${language}: ${line}`));
      }
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.evaluate(() => localStorage.setItem('gitops-lab.language', 'en'));
  assert.deepEqual([...new Set(found)], []);
});

test('no screen scrolls sideways at 1280×800 or 1920×1080', async () => {
  const wide = [];
  for (const [width, height] of [[1280, 800], [1920, 1080]]) {
    await page.setViewportSize({ width, height });
    for (const screen of screens()) {
      await open(screen);
      const sizes = await page.evaluate(() => {
        const measure = (el) => el && { scroll: el.scrollWidth, client: el.clientWidth };
        return { page: measure(document.scrollingElement), main: measure(document.querySelector('main')) };
      });
      for (const [part, size] of Object.entries(sizes)) {
        if (size.scroll > size.client) wide.push(`${screen.name} at ${width}×${height}: ${part} is ${size.scroll} px wide in ${size.client} px`);
      }
    }
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  assert.deepEqual(wide, []);
});

test('a step\'s question is answered and its action run with the keyboard only', async () => {
  const id = first();
  await open({ hash: `#/exercise/${id}`, ready: `.step-view[data-exercise="${id}"] .step button.run` });
  const focused = (selector) => page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector);
  /** Presses Tab until the focus is on `selector`; fails after 60 presses. */
  const tabTo = async (selector) => {
    for (let presses = 0; presses < 60; presses += 1) {
      if (await focused(selector)) return;
      await page.keyboard.press('Tab');
    }
    assert.fail(`Tab never reached ${selector}`);
  };
  // From the top of the page: the skip link moves the focus into the content, the screen stays.
  await page.keyboard.press('Tab');
  assert.ok(await focused('a.skip'));
  await page.keyboard.press('Enter');
  assert.ok(await focused('main'));
  assert.ok(page.url().endsWith(`#/exercise/${id}`), 'the skip link keeps the screen');
  // The question: Space picks the focused choice, Enter on the answer button sends it.
  await tabTo('.step .prediction input[type=radio]');
  await page.keyboard.press('Space');
  await tabTo('.step .prediction button[type=submit]');
  await page.keyboard.press('Enter');
  await page.locator('.step .prediction [role=status]').waitFor({ timeout: 10_000 });
  // The action, with a visible focus ring; the focus stays on it while it runs.
  await tabTo('.step button.run');
  assert.notEqual(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), 'none');
  await page.keyboard.press('Enter');
  await page.locator('.step .outcome').waitFor({ timeout: 60_000 }).catch(async (error) => {
    throw new Error(`after Enter on the action:\n${(await page.locator('.step').innerText()).slice(-1500)}`, { cause: error });
  });
  assert.equal(await page.locator('.step > .error-box').count(), 0);
  assert.ok(await focused('.step button.run'), 'the focus is still on the action');
});

test('a prediction\'s choice registers at the first click, and survives the exercise\'s reply', async (t) => {
  // Exercise 2.2's third step asks a question: open another exercise first, then this one, and
  // choose at once (the reply of the opening may arrive after the click).
  const target = exercises.find((e) => e.id.startsWith('2.2-'));
  if (!target) return t.skip('exercise 2.2 is not in the engine\'s list');
  await command(lab, { type: 'goToStep', exercise: target.id, step: 2 });
  for (let round = 0; round < 3; round += 1) {
    await open({ hash: `#/exercise/${first()}`, ready: `.step-view[data-exercise="${first()}"] .step h3` });
    await page.goto(`${lab.origin}/#/exercise/${target.id}`);
    const question = page.locator(`.step-view[data-exercise="${target.id}"] .step .prediction`);
    await question.waitFor({ timeout: 30_000 });
    const radios = question.locator('input[type=radio]');
    const choice = round % (await radios.count());
    await radios.nth(choice).click();
    await page.waitForTimeout(300);
    assert.ok(await radios.nth(choice).isChecked(), `round ${round}: the clicked choice is checked`);
    assert.ok(await question.locator('button[type=submit]').isEnabled(), `round ${round}: the answer button is enabled`);
  }
  const question = page.locator(`.step-view[data-exercise="${target.id}"] .step .prediction`);
  await question.locator('button[type=submit]').click();
  await question.locator('[role=status]').waitFor({ timeout: 10_000 });
});
