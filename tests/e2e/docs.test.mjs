// docs.test.mjs - the API reference at /docs renders every route of the
// OpenAPI document, under the page's strict CSP, from vault alone: no
// Content-Security-Policy violation, and not one request to another host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVault, startBrowser, shot } from './lib.mjs';

let vault, b;

before(async () => {
  vault = await startVault();
  b = await startBrowser();
});

after(async () => {
  if (b) await b.close();
  if (vault) await vault.stop();
});

test('/docs shows every route, offline, with no CSP violation', { timeout: 60000 }, async () => {
  const { page, problems } = b;
  const outside = [];
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(vault.base + '/') && !u.startsWith('data:')) outside.push(u);
  });
  // The browser reports each violation as an event on the document.
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  const resp = await page.goto(vault.base + '/docs');
  assert.equal(resp.status(), 200);
  const csp = resp.headers()['content-security-policy'] || '';
  assert.match(csp, /script-src 'self';/);
  assert.match(csp, /style-src 'self';/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);

  const doc = await (await fetch(vault.base + '/openapi.json')).json();
  const ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.keys(methods).map((m) => [m.toUpperCase(), path]),
  );
  await page.locator('.opblock').first().waitFor();
  assert.equal(await page.locator('.opblock').count(), ops.length);
  for (const [method, path] of ops) {
    const block = page.locator('.opblock', {
      has: page.locator(`.opblock-summary-path[data-path="${path}"]`),
    }).filter({ has: page.locator('.opblock-summary-method', { hasText: new RegExp(`^${method}$`) }) });
    assert.equal(await block.count(), 1, `${method} ${path} is not on the page once`);
  }
  // One operation opened: its answer's schema and the error shape are shown.
  const notes = page.locator('.opblock-post', {
    has: page.locator('.opblock-summary-path[data-path="/api/v1/notes"]'),
  });
  await notes.locator('.opblock-summary').click();
  await notes.getByText('embedding_status').first().waitFor();
  await shot(page, 'docs');

  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(outside, []);
  assert.deepEqual(problems, []);
});
