// Web mode's doors: no token → 401; the token in the URL becomes an HttpOnly, SameSite=Strict
// cookie; a foreign Host (DNS rebinding) or Origin (another site) is refused even with the token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { startLab } from './lab.mjs';

let lab;
before(async () => { lab = await startLab(); });
after(async () => { assert.equal(await lab.stop(), 0, 'gitops-lab web exits 0 on SIGTERM'); });

/** A raw HTTP request (fetch would not let us forge Host or Origin). */
function raw(method, path, headers = {}, body) {
  return new Promise((done, fail) => {
    const req = httpRequest({ host: '127.0.0.1', port: lab.port, method, path, headers: { host: `127.0.0.1:${lab.port}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => done({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', fail);
    if (body) req.write(body);
    req.end();
  });
}

const cookie = () => `gitops_lab_${lab.port}=${lab.token}`;
const hello = JSON.stringify({ type: 'hello' });

test('the url is printed on loopback and the page is served quickly', () => {
  assert.match(lab.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
});

test('requests without the token get 401 with what to do', async () => {
  for (const [method, path] of [['GET', '/'], ['GET', '/index.html'], ['POST', '/api/command'], ['GET', '/api/events']]) {
    const answer = await raw(method, path, { 'content-type': 'application/json' }, method === 'POST' ? hello : undefined);
    assert.equal(answer.status, 401, `${method} ${path}`);
    assert.match(answer.text, /gitops-lab web/);
  }
  assert.equal((await raw('GET', '/?token=0000')).status, 401, 'a wrong token is refused');
});

test('the token in the url becomes an HttpOnly SameSite=Strict cookie and leaves the address bar', async () => {
  const answer = await raw('GET', `/?token=${lab.token}`);
  assert.equal(answer.status, 303);
  assert.equal(answer.headers.location, '/');
  const [setCookie] = answer.headers['set-cookie'];
  assert.match(setCookie, new RegExp(`^gitops_lab_${lab.port}=${lab.token};`));
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  const page = await raw('GET', '/', { cookie: cookie() });
  assert.equal(page.status, 200);
  assert.match(page.headers['content-security-policy'], /script-src 'self' 'wasm-unsafe-eval'/);
});

test('the cookie opens the API', async () => {
  const answer = await raw('POST', '/api/command', { cookie: cookie(), 'content-type': 'application/json', origin: lab.origin }, hello);
  assert.equal(answer.status, 200);
  assert.ok(JSON.parse(answer.text).Ok.data.version, 'hello answers with the version');
});

test('a foreign Host is refused even with the token (DNS rebinding)', async () => {
  for (const host of [`evil.example:${lab.port}`, 'evil.example', `127.0.0.1:${lab.port + 1}`]) {
    const answer = await raw('POST', '/api/command', { host, cookie: cookie(), 'content-type': 'application/json' }, hello);
    assert.equal(answer.status, 403, host);
  }
  assert.equal((await raw('GET', `/?token=${lab.token}`, { host: `rebind.example:${lab.port}` })).status, 403);
});

test('a foreign Origin is refused even with the cookie (cross-site requests)', async () => {
  const answer = await raw('POST', '/api/command', { origin: 'http://evil.example', cookie: cookie(), 'content-type': 'application/json' }, hello);
  assert.equal(answer.status, 403);
  const socket = await raw('GET', '/api/events', {
    origin: 'http://evil.example', cookie: cookie(), connection: 'Upgrade', upgrade: 'websocket',
    'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
  });
  assert.equal(socket.status, 403, 'the event stream refuses another site');
});

test('a malformed command is answered with a readable error, not a crash', async () => {
  const answer = await raw('POST', '/api/command', { cookie: cookie(), 'content-type': 'application/json' }, '{"type":"noSuchCommand"}');
  assert.equal(answer.status, 400);
  const body = JSON.parse(answer.text);
  assert.equal(body.Err.code, 'bad-command');
  assert.ok(body.Err.message.en && body.Err.message['zh-CN']);
});
