// The diff, GitOps and CI screens in real Chromium against a fresh sandbox, only by clicking and
// typing: apply a ConfigMap, then see a changed file's three-way view (each field's outcome and the
// engine's reason); refuse a malformed manifest in the GitOps editor before anything is committed,
// commit a valid one, sync it and see each resource Synced; run the CI bump and see its stages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startConnected, command, missing, screenshot } from './lab.mjs';

let lab;
let chrome;
let page;
before(async () => {
  ({ lab, chrome, page } = await startConnected());
});
after(async () => {
  await chrome?.stop();
  if (lab) assert.equal(await lab.stop(), 0);
});

const configMap = (data) => [
  'apiVersion: v1',
  'kind: ConfigMap',
  'metadata:',
  '  name: greeting',
  '  namespace: default',
  'data:',
  ...Object.entries(data).map(([key, value]) => `  ${key}: "${value}"`),
  '',
].join('\n');

test('the three-way view shows what apply adds, overwrites and deletes, and why', async () => {
  await page.goto(`${lab.origin}/#/diff`);
  const screen = page.locator('.diff-screen');
  await screen.locator('textarea').fill(configMap({ colour: 'blue', size: 'small' }));
  await screen.locator('button.primary').click();
  await screen.locator('pre.output').waitFor({ timeout: 30_000 });
  assert.match(await screen.locator('pre.output').innerText(), /configmap\/greeting created/);

  // The file changes one value, drops one key and adds one: the three-way view explains each.
  await screen.locator('textarea').fill(configMap({ colour: 'green', shape: 'round' }));
  await screen.getByRole('button', { name: 'Diff', exact: true }).click();
  const object = screen.locator('.object-diff[data-object="configmap/greeting"]');
  await object.waitFor({ timeout: 30_000 });
  assert.match(await object.locator('h3 .badge').innerText(), /changed/);
  const row = (path) => object.locator(`tr.field[data-path="${path}"]`);
  const expected = { 'data.colour': 'overwrites', 'data.size': 'deletes', 'data.shape': 'adds' };
  for (const [path, outcome] of Object.entries(expected)) {
    assert.equal(await row(path).locator('.badge').innerText(), outcome, path);
    assert.match(await row(path).locator('.reason').innerText(), /\w+ \w+ \w+/, `${path} has the engine's reason`);
  }
  assert.match(await row('data.size').innerText(), /small/, 'the deleted key shows its last-applied value');
  await object.locator('table.three-way').scrollIntoViewIfNeeded();
  await screenshot(page, 'diff-three-way');

  await screen.getByRole('tab', { name: 'Live | after apply' }).click();
  await object.locator('table.side-by-side tr.changed, table.side-by-side tr.added').first().waitFor();
  await screen.getByRole('tab', { name: 'Live | after apply' }).press('ArrowRight').catch(() => {});
});

test('the GitOps editor refuses a malformed manifest, commits a valid one, and a sync shows it Synced', async (t) => {
  const reason = await missing(lab, { type: 'repos' });
  if (reason) return t.skip(reason);
  await page.goto(`${lab.origin}/#/gitops`);
  const screen = page.locator('section.gitops');
  const commits = screen.locator('ol.commits li');
  await commits.first().waitFor({ timeout: 30_000 });
  const before = await commits.count();
  const editor = screen.locator('form.editor-form');
  await editor.locator('input[list="repo-files"]').fill('greeting.yaml');
  await editor.locator('textarea').fill('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\n  labels: [unclosed\n');
  await editor.locator('input[required]').fill('Add a greeting');
  await editor.locator('button[type=submit]').click();
  const refusal = editor.locator('.error-box');
  await refusal.waitFor({ timeout: 20_000 });
  assert.match(await refusal.innerText(), /greeting\.yaml.*\d/s, 'the refusal names the file and the line');
  await page.waitForTimeout(500);
  assert.equal(await commits.count(), before, 'nothing was committed');

  await editor.locator('textarea').fill(configMap({ colour: 'from git' }).replace('namespace: default', 'namespace: sample-app'));
  await editor.locator('button[type=submit]').click();
  await editor.locator('p.ok', { hasText: 'Committed' }).waitFor({ timeout: 20_000 });
  await page.waitForFunction(([selector, n]) => document.querySelectorAll(selector).length > n, ['section.gitops ol.commits li', before]);
  assert.match(await commits.first().innerText(), /Add a greeting/);

  // The sync loop: the settings start at the chapter's config repository and its top directory
  // (the engine's suggestion before any loop is configured); save them, then Sync now.
  const settings = screen.locator('.sync form');
  await page.waitForFunction(() => document.querySelector('section.gitops .sync form input.mono')?.value === 'config');
  assert.equal(await settings.getByLabel('Repository').inputValue(), 'config');
  assert.equal(await settings.getByLabel('Directory').inputValue(), '.');
  await settings.getByRole('button', { name: 'Save' }).click();
  await page.waitForTimeout(500);
  await screen.getByRole('button', { name: 'Sync now' }).click();
  const resources = screen.locator('table.sync-resources');
  await resources.locator('tr', { hasText: 'configmap/greeting' }).waitFor({ timeout: 60_000 })
    .catch(async (error) => { throw new Error(`sync shows:\n${await screen.locator('.sync').innerText()}`, { cause: error }); });
  const rows = await resources.locator('tr').allInnerTexts();
  assert.ok(rows.length >= 2, `several resources: ${rows.join(' / ')}`);
  for (const text of rows) assert.match(text, /synced/, text);
  await screen.locator('ol.sync-history li').first().waitFor({ timeout: 10_000 });
  await resources.scrollIntoViewIfNeeded();
  await screenshot(page, 'gitops');
});

test('the CI screen shows the bump as stages', async (t) => {
  const reason = await missing(lab, { type: 'syncStatus' });
  if (reason) return t.skip(reason);
  await page.goto(`${lab.origin}/#/ci`);
  const screen = page.locator('section.ci');
  await screen.getByRole('button', { name: 'Run the CI bump' }).click();
  const stages = screen.locator('ol.stages li.stage');
  await stages.first().waitFor({ timeout: 30_000 }).catch(async (error) => {
    throw new Error(`the CI screen shows:\n${await screen.innerText()}`, { cause: error });
  });
  const names = await stages.locator('strong').allInnerTexts();
  assert.deepEqual(names.slice(0, 2), ['commit', 'version']);
  await screenshot(page, 'ci');
});
