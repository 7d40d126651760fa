// tokens.test.mjs - the settings screen in headless Chromium: create a read token
// (shown once, copied to the clipboard), see it work and refuse a write, find it
// listed after a reload without its secret and with its last use, revoke it and
// see it stop working at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVault, startBrowser, shot, signUp } from './lib.mjs';

let vault, b;

before(async () => {
  vault = await startVault();
  b = await startBrowser();
});

after(async () => {
  if (b) await b.close();
  if (vault) await vault.stop();
});

async function withToken(method, path, token, body) {
  const res = await fetch(vault.base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return res.status;
}

test('settings: create a token, shown once with copy, listed, revoked', async () => {
  const { page, context, problems } = b;
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: vault.base });
  await page.goto(vault.base + '/');
  await page.locator('#auth').waitFor({ state: 'visible' });
  await signUp(page, 'tess@example.com', 'correct horse battery');

  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { name: 'Personal access tokens' }).waitFor();
  await page.getByText('You have no tokens.').waitFor();

  // A refused name shows the API's message.
  await page.getByLabel('Name').fill('x'.repeat(100));
  await page.getByLabel('Name').evaluate((el) => { el.removeAttribute('maxlength'); el.value += 'y'; });
  await page.getByRole('button', { name: 'Create token' }).click();
  await page.locator('.token-form .error', { hasText: 'name: must be 1-100 bytes' }).waitFor();

  await page.getByLabel('Name').fill('Reading agent');
  await page.getByLabel('Access').selectOption('read');
  await page.getByLabel('Expires').selectOption({ label: '30 days' });
  await page.getByRole('button', { name: 'Create token' }).click();
  const value = page.getByLabel('Your new token');
  await value.waitFor();
  const token = await value.inputValue();
  assert.match(token, /^vault_pat_[A-Za-z0-9_-]{43}$/);
  await page.getByText('it will not be shown again').waitFor();
  await page.getByRole('button', { name: 'Copy' }).click();
  await page.locator('#token-created [role=status]', { hasText: 'Copied.' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
  await shot(page, '20-token-created');

  // It reads, and cannot write.
  assert.equal(await withToken('GET', '/api/v1/notes', token), 200);
  assert.equal(await withToken('POST', '/api/v1/notes', token, { title: 'no' }), 403);

  // After a reload: listed, never shown again, its use recorded.
  await page.reload();
  await page.locator('#app').waitFor({ state: 'visible' });
  const row = page.locator('#token-list tbody tr', { hasText: 'Reading agent' });
  await row.waitFor();
  assert.equal(await page.getByLabel('Your new token').count(), 0);
  assert.ok(!(await page.content()).includes(token.slice(10)));
  const cells = await row.locator('td').allTextContents();
  assert.equal(cells[0], 'Read only');
  assert.notEqual(cells[2], 'Never', 'last used');
  const days = (new Date(await row.locator('td').nth(3).locator('time').getAttribute('datetime')) - Date.now()) / 86400000;
  assert.ok(days > 29.9 && days <= 30, `expires in ${days} days`);
  await shot(page, '21-tokens');

  // Revoked: gone from the list, refused at once.
  page.once('dialog', (d) => d.accept());
  await row.getByRole('button', { name: 'Revoke Reading agent' }).click();
  await page.getByText('You have no tokens.').waitFor();
  assert.equal(await withToken('GET', '/api/v1/notes', token), 401);
  assert.deepEqual(problems, []);
});
