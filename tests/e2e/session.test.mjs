// session.test.mjs - the session renews itself after the access token expires.
//
// Honest and slow: the server issues access tokens that live one minute (the
// least ACCESS_TOKEN_EXPIRE_MINUTES allows) and the test waits it out, then
// checks that the next action was refused 401, renewed through the refresh
// cookie, and sent again. node --test runs this file beside app.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVault, startBrowser, signUp, createNote } from './lib.mjs';

let vault, b;

before(async () => {
  vault = await startVault({ ACCESS_TOKEN_EXPIRE_MINUTES: '1' });
  b = await startBrowser();
});

after(async () => {
  if (b) await b.close();
  if (vault) await vault.stop();
});

test('an expired access token is renewed with the refresh cookie', { timeout: 120000 }, async () => {
  const { page, problems } = b;
  await page.goto(vault.base + '/');
  await page.getByRole('button', { name: 'Create account' }).first().click();
  await signUp(page, 'cy@example.com', 'correct horse battery');
  await createNote(page, { title: 'Before expiry', content: 'written at once', tags: ['t'] });
  const cookie = (await b.context.cookies(vault.base + '/api/v1/auth/refresh')).find(
    (c) => c.name === 'vault_refresh',
  );
  assert.ok(cookie, 'no refresh cookie');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  assert.equal(cookie.path, '/api/v1/auth');
  assert.equal(await page.evaluate(() => document.cookie), '', 'a script can read a cookie');

  await page.waitForTimeout(62000);

  const seen = [];
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/api/')) seen.push(`${r.request().method()} ${u.pathname} ${r.status()}`);
  });
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await createNote(page, { title: 'After expiry', content: 'still signed in', tags: ['t'] });
  assert.deepEqual(seen.slice(0, 3), [
    'POST /api/v1/notes 401',
    'POST /api/v1/auth/refresh 200',
    'POST /api/v1/notes 201',
  ]);
  const again = (await b.context.cookies(vault.base + '/api/v1/auth/refresh')).find(
    (c) => c.name === 'vault_refresh',
  );
  assert.notEqual(again.value, cookie.value, 'the refresh token did not rotate');
  assert.deepEqual(problems.filter((p) => !/401/.test(p)), []);
});
