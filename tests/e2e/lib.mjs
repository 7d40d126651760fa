// lib.mjs - what every end-to-end test needs: the fake AI provider, a real
// vault server on an ephemeral port, and Debian's Chromium driven by
// playwright-core. Everything listens on 127.0.0.1 only.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const build = resolve(root, process.env.BUILD || 'build');
export const VAULT_BIN = resolve(root, process.env.VAULT_BIN || join(build, 'vault'));
export const FAKE_AI_BIN = resolve(root, process.env.FAKE_AI_BIN || join(build, 'fake_ai'));
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// The local embedder's model (scripts/fetch-model), absolute: servers run in their own directory.
const MODEL_DIR = resolve(root, process.env.EMBEDDING_MODEL_DIR || 'data/models/use-lite-v1');
export const SHOTS = join(here, 'screenshots');
mkdirSync(SHOTS, { recursive: true });

// Reads lines of a child's stdout until one satisfies pick; rejects on exit or timeout.
function waitLine(child, pick, what, ms = 15000) {
  return new Promise((res, rej) => {
    let buf = '';
    const timer = setTimeout(() => rej(new Error(`${what}: no answer in ${ms} ms`)), ms);
    const onData = (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const v = pick(line);
        if (v !== undefined) {
          clearTimeout(timer);
          child.stdout.off('data', onData);
          res(v);
          return;
        }
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`${what} exited with ${code} before it was ready`));
    });
  });
}

// The fake OpenAI-compatible server (tests/e2e/fake_ai.c); resolves to {url, stop}.
export async function startFakeAI(answer) {
  const env = { ...process.env };
  if (answer) env.FAKE_AI_ANSWER = answer;
  const child = spawn(FAKE_AI_BIN, [], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await waitLine(child, (l) => (l.startsWith('http://') ? l.trim() : undefined), 'fake_ai');
  return {
    url,
    stop: () => new Promise((res) => {
      if (child.exitCode !== null) return res();
      child.once('exit', res);
      child.stdin.end();
    }),
  };
}

// `vault serve` in a fresh directory with PORT=0; resolves to {base, dir, env, stop}.
export async function startVault(extraEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vault-e2e-'));
  const log = join(dir, 'server.log');
  const env = {
    PATH: process.env.PATH,
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: `sqlite:///${dir}/vault.db`,
    SECRET_KEY: 'e2e-secret-key-0123456789abcdefghijklmnopqrstuvwxyz',
    BCRYPT_ROUNDS: '4',
    LOG_FORMAT: 'json',
    ENVIRONMENT: 'development',
    EMBEDDING_MODEL_DIR: MODEL_DIR,
    ...extraEnv,
  };
  const errFd = openSync(log, 'a');
  const child = spawn(VAULT_BIN, ['serve'], { cwd: dir, env, stdio: ['ignore', 'pipe', errFd] });
  const port = await waitLine(
    child,
    (l) => {
      try {
        const j = JSON.parse(l);
        return j.event === 'server_started' ? j.port : undefined;
      } catch {
        return undefined;
      }
    },
    'vault serve',
  );
  child.stdout.resume(); // keep draining the log
  return {
    base: `http://127.0.0.1:${port}`,
    dir,
    env, // for other vault commands on the same database
    stop: () => new Promise((res) => {
      const done = () => {
        if (!process.env.VAULT_E2E_KEEP) rmSync(dir, { recursive: true, force: true });
        res();
      };
      if (child.exitCode !== null) return done();
      child.once('exit', done);
      child.kill('SIGTERM');
    }),
  };
}

// Headless Chromium with a fresh profile; resolves to {browser, context, page, close}.
export async function startBrowser() {
  const profile = mkdtempSync(join(tmpdir(), 'vault-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 860 },
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(15000);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // HTTP errors the page expects (422 for a bad password, 401 before a renewal)
    // are logged by Chromium too; only script errors count.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  return {
    context,
    page,
    problems,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export function shot(page, name) {
  return page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

// Signs up through the page and waits for the app.
export async function signUp(page, email, password) {
  await page.getByRole('button', { name: 'Create account' }).first().click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.locator('#auth-submit').click();
  await page.locator('#app').waitFor({ state: 'visible' });
}

// Creates a note through the editor; resolves when the note is shown.
export async function createNote(page, { title, content, tags }) {
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.keyboard.press('n'); // the page's shortcut for a new note
  await page.getByLabel('Title').fill(title);
  await page.getByLabel('Tags').fill(tags.join(', '));
  await page.getByLabel('Content (Markdown)').fill(content);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#note-title', { hasText: title }).waitFor();
}
