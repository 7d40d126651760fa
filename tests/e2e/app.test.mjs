// app.test.mjs - a person's way through the page in headless Chromium: sign up,
// write three notes, filter by tag, search and open a result, ask and follow a
// citation, reload, sign out; a hostile note renders inert; an imported vault's
// links show as backlinks under a note; AI unavailable is
// said plainly. Screenshots of the main screens go to screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFakeAI, startVault, startBrowser, shot, signUp, createNote, VAULT_BIN } from './lib.mjs';

let ai, vault, b;

before(async () => {
  ai = await startFakeAI();
  vault = await startVault({
    LLM_PROVIDER: 'openai',
    LLM_MODEL: 'fake-chat',
    OPENAI_BASE_URL: ai.url,
    AI_TIMEOUT_SECONDS: '5',
  });
  b = await startBrowser();
});

after(async () => {
  if (b) await b.close();
  if (vault) await vault.stop();
  if (ai) await ai.stop();
});

const NOTES = [
  {
    title: 'Team meeting',
    content: '# Weekly meeting\n\nThe weekly **meeting** moved to Tuesday, in room 4.',
    tags: ['work'],
  },
  {
    title: 'Sourdough bread',
    content: '500 g flour, 350 g water, 10 g salt.\n\n- feed the starter\n- bake at 250 °C',
    tags: ['kitchen', 'recipes'],
  },
  {
    title: 'Meeting room',
    content: 'Room 4 has the projector we need for the meeting.',
    tags: ['work', 'office'],
  },
];

test('sign up, notes, tag filter, search, ask with citations, reload, sign out', async () => {
  const { page, problems } = b;
  await page.goto(vault.base + '/');
  await page.locator('#auth').waitFor({ state: 'visible' });
  await shot(page, '01-sign-in');

  // A refused sign-up shows the API's message.
  await page.getByRole('button', { name: 'Create account' }).first().click();
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('Password').fill('short');
  await page.locator('#auth-submit').click();
  await assert.doesNotReject(page.locator('#auth-error').filter({ hasText: /password/i }).waitFor());
  await shot(page, '02-sign-up-error');

  await signUp(page, 'ada@example.com', 'correct horse battery');
  assert.equal(await page.locator('#who').textContent(), 'ada@example.com');

  for (const n of NOTES) await createNote(page, n);
  await page.locator('#note-body h1', { hasText: 'Weekly meeting' }).count();
  await assert.doesNotReject(page.locator('#note-list li').nth(2).waitFor());
  // Newest first.
  const titles = await page.locator('#note-list .title').allTextContents();
  assert.deepEqual(titles, ['Meeting room', 'Sourdough bread', 'Team meeting']);
  // The last note is indexed shortly after saving.
  await page.locator('.note .badge.ready').waitFor();
  await shot(page, '03-note');

  // Markdown rendered by the server.
  await page.locator('#note-list a', { hasText: 'Sourdough bread' }).click();
  await page.locator('#note-body li', { hasText: 'feed the starter' }).waitFor();

  // Tag filter.
  await page.getByLabel('Filter by tag').fill('work');
  await page.getByRole('button', { name: 'Filter', exact: true }).click();
  await page.locator('#list-status', { hasText: '2 with #work' }).waitFor();
  assert.deepEqual(await page.locator('#note-list .title').allTextContents(), ['Meeting room', 'Team meeting']);
  await shot(page, '04-tag-filter');
  await page.getByRole('button', { name: 'Clear' }).click();
  await page.locator('#list-status', { hasText: '3 notes' }).waitFor();

  // Search as you type, "/" focuses the box.
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'search');
  await page.keyboard.type('sourdough flour');
  const first = page.locator('.results li').first();
  await first.waitFor();
  assert.match(await first.locator('.match').textContent(), /^Match: \d{1,3}%$/);
  assert.equal(await first.locator('.title').textContent(), 'Sourdough bread');
  assert.ok((await page.locator('.results mark').count()) > 0, 'no highlighted words');
  await shot(page, '05-search');
  await page.getByLabel('Search mode').selectOption('keyword');
  await page.locator('.results + *, [role=status]', { hasText: '(keyword)' }).first().waitFor();
  await page.locator('.results a.result').first().click();
  await page.locator('#note-title', { hasText: 'Sourdough bread' }).waitFor();
  assert.equal(await page.locator('#search').inputValue(), '');

  // Ask: the answer streams in; [1] links to the cited note.
  await page.getByRole('link', { name: 'Ask' }).click();
  await page.getByLabel('Question').fill('When is the team meeting and where?');
  await page.getByRole('button', { name: 'Ask', exact: true }).click();
  const cite = page.locator('#answer a.cite').first();
  await cite.waitFor();
  assert.match(await page.locator('#answer').textContent(), /moved to Tuesday \[1\], in room 4 \[2\]/);
  assert.ok((await page.locator('#sources li').count()) >= 1);
  await shot(page, '06-ask');
  const citedTitle = await cite.getAttribute('title');
  await cite.click();
  await page.locator('#note-title', { hasText: citedTitle }).waitFor();
  assert.ok(NOTES.some((n) => n.title === citedTitle));

  // The session survives a reload (the refresh cookie renews it).
  await page.reload();
  await page.locator('#app').waitFor({ state: 'visible' });
  await page.locator('#note-title', { hasText: citedTitle }).waitFor();

  // Edit with a preview, then delete with confirmation.
  await page.getByRole('link', { name: 'Edit' }).click();
  await page.getByLabel('Content (Markdown)').fill('Changed: **bold** text');
  await page.getByRole('button', { name: 'Preview' }).click();
  await page.locator('#edit-preview strong', { hasText: 'bold' }).waitFor();
  await shot(page, '07-editor-preview');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#note-body strong', { hasText: 'bold' }).waitFor();
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Delete' }).click();
  await page.locator('#list-status', { hasText: '2 notes' }).waitFor();

  // Phone-sized screen.
  await page.setViewportSize({ width: 390, height: 800 });
  await shot(page, '08-phone');
  await page.setViewportSize({ width: 1280, height: 860 });

  // Sign out: the cookie is gone, so a reload stays signed out.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.locator('#auth').waitFor({ state: 'visible' });
  const cookies = await b.context.cookies(vault.base + '/api/v1/auth/refresh');
  assert.equal(cookies.filter((c) => c.name === 'vault_refresh').length, 0);
  await page.reload();
  await page.locator('#auth').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#app').isVisible(), false);
  assert.deepEqual(problems, []);
});

test('a note with <script> and <img onerror> renders inert', async () => {
  const { page, problems } = b;
  const dialogs = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss();
  });
  await page.goto(vault.base + '/');
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('Password').fill('correct horse battery');
  await page.locator('#auth-submit').click();
  await page.locator('#app').waitFor({ state: 'visible' });

  const hostile = [
    '<script>window.__pwned = "script"; alert(1)</script>',
    '',
    '<img src=x onerror="window.__pwned = \'img\'; alert(2)">',
    '',
    '[click me](javascript:window.__pwned=\'link\';alert(3))',
    '',
    '<iframe src="javascript:alert(4)"></iframe> <svg onload=alert(5)>',
  ].join('\n');
  await createNote(page, { title: '<img src=x onerror=alert(6)> hostile', content: hostile, tags: ['xss'] });
  const body = page.locator('#note-body');
  assert.match(await body.textContent(), /<script>window.__pwned/);
  assert.match(await body.textContent(), /<img src=x onerror=/);
  assert.equal(await body.locator('script, img, iframe, svg').count(), 0);
  assert.equal(await page.locator('#note-title').textContent(), '<img src=x onerror=alert(6)> hostile');
  // The javascript: link is its text only, no link (the server's renderer keeps
  // only http, https, mailto and relative URLs); clicking the text does nothing.
  assert.equal(await body.locator('a', { hasText: 'click me' }).count(), 0);
  await body.getByText('click me').click();
  // The preview goes through the same rendering.
  await page.getByRole('link', { name: 'Edit' }).click();
  await page.getByRole('button', { name: 'Preview' }).click();
  await page.locator('#edit-preview p').first().waitFor();
  assert.equal(await page.locator('#edit-preview').locator('script, img, iframe, svg').count(), 0);
  // Search shows the title as text too.
  await page.locator('#search').fill('hostile');
  await page.locator('.results li').first().waitFor();
  await page.waitForTimeout(300);
  await shot(page, '09-hostile-note');

  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.deepEqual(dialogs, []);
  assert.deepEqual(problems.filter((p) => !/Content Security Policy/.test(p)), []);
});

test('Export downloads every note as Markdown in a zip', async () => {
  const { page, problems } = b;
  await page.goto(vault.base + '/'); // still signed in as Ada from the test before
  await page.locator('#app').waitFor({ state: 'visible' });
  await createNote(page, { title: 'Packing list', content: 'Passport, charger.', tags: ['travel'] });

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'vault-export.zip');
  const zip = readFileSync(await download.path());
  // A zip's local file headers hold each name as it is: one per note.
  assert.equal(zip.subarray(0, 4).toString('latin1'), 'PK\x03\x04');
  assert.ok(zip.includes(Buffer.from('Packing list.md')), 'no Packing list.md in the zip');
  // Ada's notes of the tests before, and this one.
  const files = zip.toString('latin1').split('PK\x03\x04').length - 1;
  assert.ok(files >= 2, `only ${files} files in the zip`);
  assert.equal(await page.getByRole('button', { name: 'Export' }).isDisabled(), false);
  assert.deepEqual(problems, []);
});

test('an imported vault shows backlinks under a note', async () => {
  const { page, problems } = b;
  // ada is signed in from the test before. `vault import` on the server's database.
  const dir = join(vault.dir, 'obsidian');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'Target.md'), '# Target note\n\nLinked to from two notes.\n');
  writeFileSync(join(dir, 'Source.md'), 'See [[Target]] and [[Target#Target note|the target]].\n');
  writeFileSync(join(dir, 'sub', 'Other.md'), '---\ntitle: Other source\n---\n![[Target]]\n');
  execFileSync(VAULT_BIN, ['import', '--user', 'ada@example.com', dir], { cwd: vault.dir, env: vault.env });

  await page.goto(vault.base + '/');
  await page.locator('#note-list a', { hasText: 'Target note' }).click();
  await page.locator('#note-title', { hasText: 'Target note' }).waitFor();
  const back = page.locator('#backlinks a');
  await back.first().waitFor();
  // Each linking note once, by title, whatever the number or kind of its links.
  assert.deepEqual(await back.allTextContents(), ['Other source', 'Source']);
  await shot(page, '10-backlinks');
  await back.filter({ hasText: /^Source$/ }).click();
  await page.locator('#note-title', { hasText: /^Source$/ }).waitFor();
  // A note nothing links to has no backlinks section.
  assert.equal(await page.locator('.backlinks').count(), 0);
  assert.deepEqual(problems.filter((p) => !/Content Security Policy/.test(p)), []);
});

test('Import uploads files with progress and lists what became of each', async () => {
  const { page, problems } = b;
  await page.goto(vault.base + '/'); // still signed in as Ada
  await page.locator('#app').waitFor({ state: 'visible' });
  const [chooser] = await Promise.all([
    page.waitForEvent('filechooser'),
    page.getByRole('button', { name: 'Import' }).click(),
  ]);
  assert.ok(chooser.isMultiple());
  await chooser.setFiles([
    { name: 'Recipes.md', mimeType: 'text/markdown', buffer: Buffer.from('---\ntags: [food]\n---\n# Pancakes\n\nFlour, eggs, milk.\n') },
    { name: 'ideas.txt', mimeType: 'text/plain', buffer: Buffer.from('A garden shed with a green roof.\n') },
    { name: 'photo.jpg', mimeType: 'image/jpeg', buffer: Buffer.from([0xff, 0xd8, 0xff]) },
  ]);
  const report = page.locator('#import-report');
  await report.waitFor();
  assert.equal(await report.getByRole('status').textContent(), '2 added, 1 failed');
  assert.match(await report.locator('li.failed').textContent(), /photo\.jpg: failed \(not a \.md, \.txt, \.pdf or \.zip file\)/);
  // The list shows the new notes; the Markdown file is titled by its heading.
  await page.locator('#note-list').getByText('Pancakes').first().waitFor();
  await page.locator('#note-list').getByText('ideas').first().waitFor();
  await shot(page, '11-import-report');
  // A hit names the section its excerpt comes from.
  await page.locator('#search').fill('flour eggs milk');
  const hit = page.locator('.results li', { hasText: 'Pancakes' }).first();
  await hit.waitFor();
  assert.equal(await hit.locator('.section').textContent(), '§ Pancakes');
  await page.keyboard.press('Escape');
  assert.deepEqual(problems, []);
});

test('when the AI is unavailable the page says so and the rest works', async () => {
  const plain = await startVault(); // LLM_PROVIDER defaults to none
  const { page } = b;
  try {
    await page.goto(plain.base + '/');
    await page.getByRole('button', { name: 'Create account' }).first().click();
    await signUp(page, 'bob@example.com', 'correct horse battery');
    await createNote(page, { title: 'Plain note', content: 'Still works without AI.', tags: [] });
    await page.getByRole('link', { name: 'Ask' }).click();
    await page.getByLabel('Question').fill('Does it work?');
    await page.getByRole('button', { name: 'Ask', exact: true }).click();
    const msg = page.locator('#answer .unavailable');
    await msg.waitFor();
    assert.match(await msg.textContent(), /AI service unavailable/);
    await shot(page, '10-ai-unavailable');
    await page.locator('#search').fill('plain');
    await page.locator('.results li').first().waitFor();
  } finally {
    await plain.stop();
  }
});
