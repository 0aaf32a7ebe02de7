// The page in real Chromium against a fresh sandbox: it loads, shows the cluster, switches
// language (remembered), and every screen renders the engine's answers or its errors in place.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startLab, startBrowser, openPage, connected, screenshot } from './lab.mjs';

let lab;
let chrome;
let page;
before(async () => {
  lab = await startLab();
  chrome = await startBrowser();
  ({ page } = await openPage(chrome));
});
after(async () => {
  await chrome?.stop();
  if (lab) assert.equal(await lab.stop(), 0);
});

test('the page loads and shows the sandbox connected', async () => {
  await page.goto(lab.url);
  assert.equal(new URL(page.url()).search, '', 'the token leaves the address bar');
  const status = page.locator('#cluster-status');
  await status.locator('.phase', { hasText: 'Connected' }).waitFor({ timeout: 30_000 });
  assert.match(await status.innerText(), /https:\/\/127\.0\.0\.1:\d+/);
  assert.equal(await page.locator('#cluster').inputValue(), 'sandbox');
  await screenshot(page, 'home');
});

test('the language switches to Chinese and back, and is remembered', async () => {
  await page.locator('#language').click();
  await page.locator('#cluster-status .phase', { hasText: '已连接' }).waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
  await screenshot(page, 'home-zh');
  await page.reload();
  await page.locator('#cluster-status .phase', { hasText: '已连接' }).waitFor({ timeout: 30_000 });
  await page.locator('#language').click();
  await connected(page);
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
});

test('keyboard users can skip to the content and move between live tabs with arrows', async () => {
  await page.goto(lab.origin);
  await connected(page);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.className), 'skip');
  await page.locator('#tab-tree').focus();
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'tab-events');
  assert.equal(await page.locator('#tab-events').getAttribute('aria-selected'), 'true');
});

test('a malformed manifest is refused with the engine\'s message in place, never a blank screen', async () => {
  await page.goto(`${lab.origin}/#/diff`);
  await page.locator('.diff-screen textarea').fill('apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n');
  await page.locator('.diff-screen button.primary').click();
  // kubectl's own words (file, line, reason) in place of the output, or the engine's error box.
  const refusal = page.locator('.diff-screen pre.output.failed, .diff-screen .error-box').first();
  await refusal.waitFor({ timeout: 10_000 });
  assert.match(await refusal.innerText(), /manifest\.yaml:\d+/);
  await screenshot(page, 'diff-error');
});

test('the dark theme follows the system', async () => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(lab.origin);
  await connected(page);
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(background, 'rgb(15, 18, 23)');
  await screenshot(page, 'home-dark');
  await page.emulateMedia({ colorScheme: 'light' });
});

test('a lost engine shows a banner', async () => {
  await page.goto(lab.origin);
  await connected(page);
  // Close the event stream from the page's side by making the server unreachable: stop the lab.
  const code = await lab.stop();
  assert.equal(code, 0);
  await page.locator('.banner').waitFor({ timeout: 10_000 });
  assert.match(await page.locator('.banner').innerText(), /Reconnecting/);
  lab = null;
});
