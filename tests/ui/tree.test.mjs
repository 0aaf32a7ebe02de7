// The resource tree with 350 pods in real Chromium against a fresh sandbox: the tree is windowed
// (only the rows in view are in the DOM), yet each rendered row states its level and its place among
// its siblings for screen readers, and the arrow keys walk the whole list without losing the focus,
// also when the focused row has been scrolled out of the window.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startConnected, screenshot } from './lab.mjs';

const PODS = 350;
let lab;
let chrome;
let page;

before(async () => {
  ({ lab, chrome, page } = await startConnected());
  const manifest = ['apiVersion: apps/v1', 'kind: Deployment', 'metadata: {name: many, namespace: default}', 'spec:',
    `  replicas: ${PODS}`, '  selector: {matchLabels: {app: many}}', '  template:', '    metadata: {labels: {app: many}}',
    '    spec: {containers: [{name: web, image: nginx}]}', ''].join('\n');
  const kubeconfig = join(lab.dataDir, 'sandbox', 'kubeconfig');
  const applied = spawnSync('kubectl', ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], { input: manifest });
  assert.equal(applied.status, 0, applied.stderr.toString());
  await page.locator('#tab-tree').click();
  await page.waitForFunction((n) => Number(document.querySelector('.tree')?.dataset.pods ?? 0) >= n, PODS,
    { timeout: 180_000, polling: 200 });
});

after(async () => {
  await chrome?.stop();
  if (lab) assert.equal(await lab.stop(), 0);
});

/** The row holding the focus: its id, kind, level and place, and whether it is in the scroller's view. */
const focused = () => page.evaluate(() => {
  const row = document.activeElement?.closest('[role="treeitem"]');
  if (!row || !document.activeElement.classList.contains('tree-button')) return null;
  const view = row.closest('.tree-scroll').getBoundingClientRect();
  const box = row.getBoundingClientRect();
  return {
    id: row.dataset.id,
    kind: row.dataset.kind,
    name: row.dataset.name,
    level: Number(row.getAttribute('aria-level')),
    posinset: Number(row.getAttribute('aria-posinset')),
    setsize: Number(row.getAttribute('aria-setsize')),
    inView: box.top >= view.top - 1 && box.bottom <= view.bottom + 1,
  };
});

/** Waits until the focused row is the pod at `posinset`, then returns it. */
async function focusedPod(posinset) {
  await page.waitForFunction((at) => {
    const row = document.activeElement?.closest('[role="treeitem"]');
    return row?.dataset.kind === 'Pod' && Number(row.getAttribute('aria-posinset')) === at;
  }, posinset, { timeout: 5_000 }).catch(() => {});
  return focused();
}

test('a windowed tree renders a slice, and every rendered row states its place in the whole tree', async () => {
  const rendered = await page.locator('.tree > [role="treeitem"]').count();
  assert.ok(rendered < 120, `only the rows in view are rendered (${rendered} of ${PODS + 2})`);
  const rows = await page.locator('.tree > [role="treeitem"]').evaluateAll((items) => items.map((item) => ({
    kind: item.dataset.kind,
    level: Number(item.getAttribute('aria-level')),
    posinset: Number(item.getAttribute('aria-posinset')),
    setsize: Number(item.getAttribute('aria-setsize')),
  })));
  const deployment = rows.find((row) => row.kind === 'Deployment');
  assert.equal(deployment?.level, 1, 'the Deployment is a root');
  assert.equal(rows.find((row) => row.kind === 'ReplicaSet')?.level, 2, 'its ReplicaSet is one level down');
  const pods = rows.filter((row) => row.kind === 'Pod');
  assert.ok(pods.length > 10);
  pods.forEach((pod, i) => {
    assert.deepEqual([pod.level, pod.posinset, pod.setsize], [3, i + 1, PODS], `pod row ${i}`);
  });
});

test('the arrow keys walk all the pods, keeping the focus on the row with the right aria-posinset', async () => {
  await page.locator('.tree-item[data-kind="Pod"] > .tree-button').first().focus();
  const first = await focused();
  assert.deepEqual([first.kind, first.level, first.posinset, first.setsize], ['Pod', 3, 1, PODS]);
  const names = [first.name];
  for (let at = 2; at <= PODS; at += 1) {
    await page.keyboard.press('ArrowDown');
    if (at % 10 !== 0 && at !== PODS) continue;
    const row = await focusedPod(at);
    assert.ok(row, `the focus is on a tree row after ${at - 1} presses`);
    assert.deepEqual([row.kind, row.level, row.posinset, row.setsize], ['Pod', 3, at, PODS], `press ${at - 1}`);
    assert.ok(row.inView, `row ${at} is scrolled into view`);
    names.push(row.name);
  }
  assert.deepEqual(names, [...names].sort(), 'the pods come in name order');
  await screenshot(page, 'tree-keyboard');
  await page.keyboard.press('ArrowUp');
  assert.equal((await focusedPod(PODS - 1))?.posinset, PODS - 1);
  await page.keyboard.press('Home');
  await page.waitForFunction(() => document.activeElement?.closest('[role="treeitem"]')?.getAttribute('aria-level') === '1');
  const top = await focused();
  assert.deepEqual([top.level, top.posinset, top.inView], [1, 1, true], 'Home goes to the first row');
});

test('the focused row stays focused when it is scrolled out of the window, and the keys go on from it', async () => {
  await page.locator('.tree-item[data-kind="Pod"] > .tree-button').first().focus();
  const row = await focusedPod(1);
  assert.equal(row?.posinset, 1);
  // Scroll the list to its end with the mouse wheel's equivalent: the first pod leaves the window.
  await page.locator('.tree-scroll').evaluate((scroller) => { scroller.scrollTop = scroller.scrollHeight; });
  await page.waitForFunction((last) => document.querySelector(`.tree [data-kind="Pod"][aria-posinset="${last}"]`), PODS);
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
  const still = await focused();
  assert.equal(still?.id, row.id, 'the focus did not fall back to the page');
  assert.equal(still.inView, false, 'the row is out of view, kept rendered only for the focus');
  // Scrolled to the end, the window reaches the end: the list is as tall as its rows and the last row
  // ends where the list ends (a moment of a shorter list during the re-render used to pull the
  // scroll back, and the window settled 20 rows short).
  const [height, rows, lastBottom, listBottom] = await page.locator('.tree').evaluate((list) => [
    list.offsetHeight, Number(list.dataset.rows) * 32,
    list.lastElementChild.getBoundingClientRect().bottom, list.getBoundingClientRect().bottom]);
  assert.equal(height, rows, 'the list is as tall as its rows');
  assert.ok(Math.abs(lastBottom - listBottom) < 1, `the last row ends with the list (${lastBottom} vs ${listBottom})`);
  await page.keyboard.press('ArrowDown');
  const next = await focusedPod(2);
  assert.deepEqual([next?.posinset, next?.inView], [2, true], 'the next row is focused and scrolled into view');
});
