// app.js - the vault page: sign in, notes, search, ask.
//
// Routes live in the URL fragment so a reload keeps the place:
//   #/            the list and a welcome
//   #/note/ID     a note, rendered     #/note/ID/edit  editing it
//   #/new         a new note           #/ask           ask a question
//   #/settings    personal access tokens
// Search results replace the main pane while the search box has text.

import * as api from './api.js';
import { h, clear, highlight, queryWords, markdownNodes, debounce } from './dom.js';

const PAGE = 20;
const $ = (id) => document.getElementById(id);

const state = {
  skip: 0,
  total: 0,
  tag: '',
  email: '',
  signup: false,
  searchSeq: 0,
  view: 0, // bumped on every render of the main pane, so late answers are dropped
};

/* ------------------------------------------------------------ helpers */

function errorBox(message) {
  return h('p', { class: 'error', role: 'alert' }, message);
}

function statusBadge(status) {
  const text = { ready: 'Indexed', pending: 'Indexing…', failed: 'Index failed' }[status] || status;
  return h('span', { class: `badge ${status}`, title: 'Search index' }, text);
}

function tagChips(tags) {
  return h(
    'ul',
    { class: 'tags', 'aria-label': 'Tags' },
    tags.map((t) =>
      h('li', null, h('button', { type: 'button', class: 'tag', onclick: () => filterTag(t) }, `#${t}`)),
    ),
  );
}

function when(iso) {
  const d = new Date(iso);
  return h('time', { datetime: iso }, d.toLocaleString());
}

function mainPane(...children) {
  state.view++;
  clear($('main'), ...children);
  return state.view;
}

function parseTags(s) {
  return [...new Set(s.split(',').map((t) => t.trim()).filter(Boolean))];
}

/* ------------------------------------------------------------ sign in */

function showAuth(message) {
  $('loading').hidden = true;
  $('app').hidden = true;
  $('auth').hidden = false;
  const err = $('auth-error');
  err.hidden = !message;
  err.textContent = message || '';
  $('auth-email').focus();
}

function setSignup(on) {
  state.signup = on;
  $('tab-signin').setAttribute('aria-pressed', String(!on));
  $('tab-signup').setAttribute('aria-pressed', String(on));
  $('auth-submit').textContent = on ? 'Create account' : 'Sign in';
  $('auth-password').autocomplete = on ? 'new-password' : 'current-password';
  $('auth-error').hidden = true;
}

async function submitAuth(ev) {
  ev.preventDefault();
  const email = $('auth-email').value.trim();
  const password = $('auth-password').value;
  const button = $('auth-submit');
  button.disabled = true;
  try {
    if (state.signup) await api.signUp(email, password);
    else await api.signIn(email, password);
    $('auth-password').value = '';
    await enterApp();
  } catch (e) {
    showAuth(e.message);
  } finally {
    button.disabled = false;
  }
}

async function enterApp() {
  const me = await api.call('GET', '/api/v1/auth/me');
  state.email = me.email;
  $('who').textContent = me.email;
  $('auth').hidden = true;
  $('loading').hidden = true;
  $('app').hidden = false;
  state.skip = 0;
  await loadList();
  route();
}

async function signOut() {
  try {
    await api.signOut();
  } catch {
    // the server may be gone; the page forgets the session anyway
  }
  location.hash = '';
  clear($('note-list'));
  clear($('main'));
  setSignup(false);
  showAuth('You are signed out.');
}

/* ------------------------------------------------------------ list */

async function loadList() {
  const status = $('list-status');
  try {
    const page = await api.call(
      'GET',
      `/api/v1/notes${api.query({ skip: state.skip, limit: PAGE, tag: state.tag })}`,
    );
    state.total = page.total;
    const list = clear($('note-list'));
    for (const n of page.items) {
      list.append(
        h(
          'li',
          null,
          h(
            'a',
            { href: `#/note/${n.id}`, class: 'note-link', 'data-id': n.id },
            h('span', { class: 'title' }, n.title),
            h('span', { class: 'meta' }, statusBadge(n.embedding_status), ' ', n.tags.map((t) => `#${t}`).join(' ')),
          ),
        ),
      );
    }
    const from = page.total ? state.skip + 1 : 0;
    const to = state.skip + page.items.length;
    status.textContent = page.total
      ? state.tag
        ? `${page.total} with #${state.tag}`
        : `${page.total} notes`
      : state.tag
        ? `No notes tagged #${state.tag}.`
        : 'No notes yet. Press n to write one.';
    $('page-info').textContent = page.total ? `${from}–${to} of ${page.total}` : '';
    $('page-prev').disabled = state.skip === 0;
    $('page-next').disabled = to >= page.total;
    markCurrent();
  } catch (e) {
    status.textContent = e.message;
  }
}

function markCurrent() {
  const m = location.hash.match(/^#\/note\/(\d+)/);
  for (const a of document.querySelectorAll('#note-list a')) {
    if (m && a.dataset.id === m[1]) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function filterTag(tag) {
  state.tag = tag.trim().replace(/^#/, '');
  state.skip = 0;
  $('tag-filter').value = state.tag;
  $('tag-clear').hidden = !state.tag;
  loadList();
}

/* ------------------------------------------------------------ notes */

function showHome() {
  mainPane(
    h('h1', null, 'Your vault'),
    h('p', null, 'Pick a note on the left, search at the top, or ask a question of your notes.'),
    h(
      'ul',
      { class: 'keys' },
      h('li', null, h('kbd', null, 'n'), ' new note'),
      h('li', null, h('kbd', null, '/'), ' search'),
    ),
  );
}

// The notes linking to a note (an imported vault's [[links]]), or null when none do.
function backlinks(links) {
  if (!links || !links.backlinks.length) return null;
  const seen = new Set();
  const items = links.backlinks.filter((l) => !seen.has(l.note_id) && seen.add(l.note_id));
  return h(
    'section',
    { class: 'backlinks', 'aria-labelledby': 'backlinks-title' },
    h('h2', { id: 'backlinks-title' }, 'Linked from'),
    h(
      'ul',
      { id: 'backlinks' },
      items.map((l) => h('li', null, h('a', { href: `#/note/${l.note_id}` }, l.title))),
    ),
  );
}

async function showNote(id) {
  const view = mainPane(h('p', { class: 'muted', role: 'status' }, 'Loading…'));
  let note, links;
  try {
    // The links are extra: a note shows without them.
    [note, links] = await Promise.all([
      api.call('GET', `/api/v1/notes/${id}?format=html`),
      api.call('GET', `/api/v1/notes/${id}/links`).catch(() => null),
    ]);
  } catch (e) {
    if (view === state.view) mainPane(errorBox(e.message));
    return;
  }
  if (view !== state.view) return;
  const badge = statusBadge(note.embedding_status);
  const v = mainPane(
    h(
      'article',
      { class: 'note', 'aria-labelledby': 'note-title' },
      h('h1', { id: 'note-title' }, note.title),
      h(
        'p',
        { class: 'meta' },
        badge,
        ' Updated ',
        when(note.updated_at),
      ),
      note.tags.length ? tagChips(note.tags) : null,
      h('div', { class: 'markdown', id: 'note-body' }, markdownNodes(note.content_html)),
      h(
        'p',
        { class: 'buttons' },
        h('a', { href: `#/note/${id}/edit`, class: 'button' }, 'Edit'),
        h('button', { type: 'button', class: 'danger', onclick: () => deleteNote(note) }, 'Delete'),
      ),
      backlinks(links),
    ),
  );
  markCurrent();
  // Follow the background indexing for a while, so "Indexing…" turns "Indexed".
  for (let i = 0; i < 30 && note.embedding_status === 'pending'; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    if (v !== state.view) return;
    try {
      note = await api.call('GET', `/api/v1/notes/${id}`);
    } catch {
      return;
    }
    if (v !== state.view) return;
    badge.replaceWith(statusBadge(note.embedding_status));
    if (note.embedding_status !== 'pending') loadList();
  }
}

async function deleteNote(note) {
  if (!confirm(`Delete "${note.title}"? This cannot be undone.`)) return;
  try {
    await api.call('DELETE', `/api/v1/notes/${note.id}`);
    location.hash = '#/';
    await loadList();
  } catch (e) {
    $('main').prepend(errorBox(e.message));
  }
}

async function showEditor(id) {
  let note = { title: '', content: '', tags: [] };
  if (id) {
    const view = mainPane(h('p', { class: 'muted' }, 'Loading…'));
    try {
      note = await api.call('GET', `/api/v1/notes/${id}`);
    } catch (e) {
      if (view === state.view) mainPane(errorBox(e.message));
      return;
    }
    if (view !== state.view) return;
  }
  const title = h('input', { id: 'edit-title', type: 'text', required: true, maxlength: 200, value: note.title });
  const tags = h('input', {
    id: 'edit-tags',
    type: 'text',
    value: note.tags.join(', '),
    placeholder: 'kitchen, recipes',
    'aria-describedby': 'tags-help',
  });
  const content = h('textarea', { id: 'edit-content', rows: 18, spellcheck: 'true' });
  content.value = note.content;
  const preview = h('div', { id: 'edit-preview', class: 'markdown preview', hidden: true, 'aria-live': 'polite' });
  const err = h('p', { class: 'error', role: 'alert', hidden: true });
  const previewBtn = h('button', { type: 'button', 'aria-pressed': 'false', id: 'preview-toggle' }, 'Preview');

  previewBtn.addEventListener('click', async () => {
    const on = previewBtn.getAttribute('aria-pressed') !== 'true';
    previewBtn.setAttribute('aria-pressed', String(on));
    previewBtn.textContent = on ? 'Write' : 'Preview';
    content.hidden = on;
    preview.hidden = !on;
    if (!on) return content.focus();
    clear(preview, h('p', { class: 'muted' }, 'Rendering…'));
    try {
      const r = await api.call('POST', '/api/v1/render', { content: content.value });
      clear(preview, markdownNodes(r.html));
    } catch (e) {
      clear(preview, errorBox(e.message));
    }
  });

  const form = h(
    'form',
    { class: 'editor', 'aria-labelledby': 'editor-title' },
    h('h1', { id: 'editor-title' }, id ? 'Edit note' : 'New note'),
    h('label', { for: 'edit-title' }, 'Title'),
    title,
    h('label', { for: 'edit-tags' }, 'Tags'),
    tags,
    h('p', { id: 'tags-help', class: 'hint' }, 'Separate tags with commas.'),
    h('div', { class: 'editor-head' }, h('label', { for: 'edit-content' }, 'Content (Markdown)'), previewBtn),
    content,
    preview,
    err,
    h(
      'p',
      { class: 'buttons' },
      h('button', { type: 'submit', class: 'primary', id: 'edit-save' }, 'Save'),
      h('a', { href: id ? `#/note/${id}` : '#/', class: 'button' }, 'Cancel'),
    ),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { title: title.value.trim(), content: content.value, tags: parseTags(tags.value) };
    form.querySelector('[type=submit]').disabled = true;
    try {
      const saved = id
        ? await api.call('PUT', `/api/v1/notes/${id}`, body)
        : await api.call('POST', '/api/v1/notes', body);
      if (!id) state.skip = 0;
      await loadList();
      location.hash = `#/note/${saved.id}`;
    } catch (e) {
      err.hidden = false;
      err.textContent = e.message;
      form.querySelector('[type=submit]').disabled = false;
    }
  });
  mainPane(form);
  title.focus();
}

/* ------------------------------------------------------------ search */

const runSearch = debounce(async () => {
  const q = $('search').value.trim();
  const seq = ++state.searchSeq;
  if (!q) {
    route();
    return;
  }
  const mode = $('search-mode').value;
  let r;
  try {
    r = await api.call('GET', `/api/v1/search${api.query({ query: q, mode, top_k: 10 })}`);
  } catch (e) {
    if (seq === state.searchSeq) mainPane(h('h1', null, 'Search'), errorBox(e.message));
    return;
  }
  if (seq !== state.searchSeq) return;
  const words = queryWords(q);
  mainPane(
    h('h1', { id: 'results-title' }, 'Search'),
    h('p', { class: 'muted', role: 'status' }, r.results.length ? `${r.results.length} found (${mode})` : 'Nothing matches.'),
    r.fallback ? h('p', { class: 'muted', role: 'note' }, `Showing keyword matches only: ${r.fallback.reason}`) : null,
    h(
      'ol',
      { class: 'results', 'aria-labelledby': 'results-title' },
      r.results.map((res) =>
        h(
          'li',
          null,
          h(
            'a',
            {
              href: `#/note/${res.id}`,
              class: 'result',
              onclick: () => {
                leaveSearch();
                if (location.hash === `#/note/${res.id}`) route();
              },
            },
            h('span', { class: 'title' }, highlight(res.title, words)),
            h('span', { class: 'match' }, `Match: ${Math.round((res.similarity || 0) * 100)}%`),
          ),
          res.tags && res.tags.length ? h('span', { class: 'meta' }, res.tags.map((t) => `#${t}`).join(' ')) : null,
          res.section ? h('span', { class: 'meta section' }, `§ ${res.section}`) : null,
          h('p', { class: 'excerpt' }, highlight(res.excerpt || '', words)),
        ),
      ),
    ),
  );
}, 250);

function leaveSearch() {
  state.searchSeq++;
  $('search').value = '';
}

/* ------------------------------------------------------------ ask */

function answerNodes(text, cited) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(/\[(\d+)\]/g)) {
    const c = cited.get(Number(m[1]));
    if (!c) continue;
    out.push(text.slice(last, m.index));
    out.push(h('a', { href: `#/note/${c.note_id}`, class: 'cite', title: c.title, 'aria-label': `Source ${m[1]}: ${c.title}` }, m[0]));
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out;
}

function showAsk() {
  const input = h('textarea', { id: 'ask-input', rows: 3, required: true, placeholder: 'What did I decide about…?' });
  const answer = h('div', { id: 'answer', class: 'answer', 'aria-live': 'polite', 'aria-busy': 'false' });
  const sources = h('div', { id: 'sources' });
  const button = h('button', { type: 'submit', class: 'primary', id: 'ask-submit' }, 'Ask');
  let abort = null;
  const form = h(
    'form',
    { class: 'ask', 'aria-labelledby': 'ask-title' },
    h('h1', { id: 'ask-title' }, 'Ask your notes'),
    h('label', { for: 'ask-input' }, 'Question'),
    input,
    h('p', { class: 'buttons' }, button),
  );
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const question = input.value.trim();
    if (!question) return;
    if (abort) abort.abort();
    abort = new AbortController();
    const mine = abort;
    let text = '';
    clear(answer);
    clear(sources);
    answer.setAttribute('aria-busy', 'true');
    button.disabled = true;
    try {
      await api.ask(
        question,
        {
          token: (d) => {
            text += d.text || '';
            clear(answer, text);
          },
          citations: (d) => {
            const cited = new Map(d.citations.map((c) => [c.index, c]));
            clear(answer, answerNodes(text, cited));
            if (d.citations.length) {
              clear(
                sources,
                h('h2', null, 'Sources'),
                h(
                  'ol',
                  { class: 'sources' },
                  d.citations.map((c) =>
                    h(
                      'li',
                      { value: c.index },
                      h('a', { href: `#/note/${c.note_id}` }, c.title),
                      c.section ? h('span', { class: 'meta section' }, ` § ${c.section}`) : null,
                      h('p', { class: 'excerpt' }, c.excerpt || ''),
                    ),
                  ),
                ),
              );
            }
          },
          error: (d) => {
            answer.append(errorBox(d.detail || 'The answer stopped.'));
          },
        },
        mine.signal,
      );
    } catch (e) {
      const detail = e.status === 503 ? e.message : `Could not ask: ${e.message}`;
      clear(answer, h('p', { class: 'error unavailable', role: 'alert' }, detail));
    } finally {
      answer.setAttribute('aria-busy', 'false');
      button.disabled = false;
    }
  });
  mainPane(form, answer, sources);
  input.focus();
}

/* ------------------------------------------------------------ settings */

const EXPIRIES = [
  ['30', '30 days'],
  ['90', '90 days'],
  ['365', 'A year'],
  ['7', '7 days'],
  ['', 'Never'],
];

// Copies the token; where the clipboard is refused, selects it for the person to copy.
async function copyToken(input, status) {
  try {
    await navigator.clipboard.writeText(input.value);
    status.textContent = 'Copied.';
  } catch {
    input.select();
    status.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
  }
}

function tokenRow(t, view, reload) {
  const revoke = h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke ${t.name}` }, 'Revoke');
  revoke.addEventListener('click', async () => {
    if (!confirm(`Revoke the token “${t.name}”? Whatever uses it stops working at once.`)) return;
    revoke.disabled = true;
    try {
      await api.call('DELETE', `/api/v1/tokens/${t.id}`);
    } catch (e) {
      if (view === state.view) alert(e.message);
    }
    reload();
  });
  const expired = t.expires_at && new Date(t.expires_at) <= new Date();
  return h(
    'tr',
    { 'data-token-id': t.id },
    h('th', { scope: 'row' }, t.name),
    h('td', null, t.scope === 'write' ? 'Read and write' : 'Read only'),
    h('td', null, when(t.created_at)),
    h('td', null, t.last_used_at ? when(t.last_used_at) : 'Never'),
    h('td', null, t.expires_at ? [expired ? 'Expired ' : '', when(t.expires_at)] : 'Never'),
    h('td', null, revoke),
  );
}

function showSettings() {
  const list = h('div', { id: 'token-list', 'aria-live': 'polite' });
  const created = h('div', { id: 'token-created', class: 'created', hidden: true });
  const name = h('input', { id: 'token-name', type: 'text', required: true, maxlength: 100, autocomplete: 'off', placeholder: 'e.g. Claude Desktop on my laptop' });
  const scope = h(
    'select',
    { id: 'token-scope' },
    h('option', { value: 'read' }, 'Read only: search, read and ask'),
    h('option', { value: 'write' }, 'Read and write: also create and change notes'),
  );
  const expiry = h('select', { id: 'token-expiry' }, EXPIRIES.map(([v, label]) => h('option', { value: v }, label)));
  const err = h('p', { class: 'error', role: 'alert', hidden: true });
  const form = h(
    'form',
    { class: 'token-form', 'aria-labelledby': 'tokens-new' },
    h('h2', { id: 'tokens-new' }, 'New token'),
    h('label', { for: 'token-name' }, 'Name'),
    name,
    h('label', { for: 'token-scope' }, 'Access'),
    scope,
    h('label', { for: 'token-expiry' }, 'Expires'),
    expiry,
    err,
    h('p', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary', id: 'token-create' }, 'Create token')),
  );
  const view = mainPane(
    h('h1', null, 'Settings'),
    h('h2', { id: 'tokens-title' }, 'Personal access tokens'),
    h(
      'p',
      { class: 'muted' },
      'A token lets a script or an AI agent (MCP) reach your notes as you, without your password: ',
      'send it as Authorization: Bearer <token>, or give it to vault mcp as VAULT_TOKEN. ',
      'No token can manage tokens or your account.',
    ),
    created,
    list,
    form,
  );

  async function reload() {
    let r;
    try {
      r = await api.call('GET', '/api/v1/tokens');
    } catch (e) {
      if (view === state.view) clear(list, errorBox(e.message));
      return;
    }
    if (view !== state.view) return;
    if (!r.items.length) return clear(list, h('p', { class: 'muted' }, 'You have no tokens.'));
    clear(
      list,
      h(
        'table',
        { class: 'tokens', 'aria-labelledby': 'tokens-title' },
        h('thead', null, h('tr', null, ['Name', 'Access', 'Created', 'Last used', 'Expires', ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, r.items.map((t) => tokenRow(t, view, reload))),
      ),
    );
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { name: name.value.trim(), scope: scope.value };
    if (expiry.value) body.expires_in_days = Number(expiry.value);
    const button = form.querySelector('[type=submit]');
    button.disabled = true;
    err.hidden = true;
    try {
      const t = await api.call('POST', '/api/v1/tokens', body);
      if (view !== state.view) return;
      // Shown this once: the server keeps only its hash.
      const value = h('input', { id: 'token-value', type: 'text', readonly: true, value: t.token, 'aria-label': 'Your new token', spellcheck: 'false' });
      const status = h('span', { class: 'muted', role: 'status' });
      const copy = h('button', { type: 'button', id: 'token-copy' }, 'Copy');
      copy.addEventListener('click', () => copyToken(value, status));
      created.hidden = false;
      clear(
        created,
        h('p', null, h('strong', null, `Token “${t.name}” created. Copy it now: it will not be shown again.`)),
        h('div', { class: 'row' }, value, copy),
        status,
      );
      name.value = '';
      value.focus();
      value.select();
      await reload();
    } catch (e) {
      err.hidden = false;
      err.textContent = e.message;
    } finally {
      button.disabled = false;
    }
  });
  reload();
  name.focus();
}

/* ------------------------------------------------------------ routing */

function route() {
  if (!api.signedIn()) return;
  const hash = location.hash || '#/';
  let m;
  if ((m = hash.match(/^#\/note\/(\d+)\/edit$/))) showEditor(m[1]);
  else if ((m = hash.match(/^#\/note\/(\d+)$/))) showNote(m[1]);
  else if (hash === '#/new') showEditor(null);
  else if (hash === '#/ask') showAsk();
  else if (hash === '#/settings') showSettings();
  else showHome();
  markCurrent();
}

function typing(el) {
  return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
}

function onKey(ev) {
  if ($('app').hidden || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key === 'Escape' && document.activeElement === $('search')) {
    leaveSearch();
    route();
    return;
  }
  if (typing(document.activeElement)) return;
  if (ev.key === '/') {
    ev.preventDefault();
    $('search').focus();
  } else if (ev.key === 'n') {
    ev.preventDefault();
    location.hash = '#/new';
  }
}

const OUTCOMES = ['added', 'updated', 'unchanged', 'renamed', 'deleted', 'failed'];

// Files chosen in the Import button's dialog, uploaded with a progress bar, then what became of each.
async function importFiles(files) {
  const bar = h('progress', { max: 1, value: 0, 'aria-label': 'Upload progress' });
  const status = h('p', { role: 'status' }, `Uploading ${files.length} file${files.length === 1 ? '' : 's'}…`);
  const view = mainPane(h('section', { class: 'import' }, h('h2', {}, 'Import'), status, bar));
  try {
    const report = await api.upload('/api/v1/import', files, (sent, total) => {
      bar.max = total;
      bar.value = sent;
      if (sent === total) status.textContent = 'Importing…';
    });
    if (view !== state.view) return;
    const counts = OUTCOMES.filter((o) => report[o]).map((o) => `${report[o]} ${o}`);
    mainPane(
      h('section', { class: 'import', id: 'import-report' },
        h('h2', {}, 'Import'),
        h('p', { role: 'status' }, counts.join(', ') || 'Nothing to import.'),
        h('ul', {}, report.files.map((f) =>
          h('li', { class: `outcome ${f.outcome}` },
            h('strong', {}, f.path), `: ${f.outcome}`, f.detail ? ` (${f.detail})` : '')))));
    state.skip = 0;
    loadList();
  } catch (e) {
    if (view === state.view) mainPane(h('section', { class: 'import' }, h('h2', {}, 'Import'), errorBox(`Import failed: ${e.message}`)));
  }
}

// Every note as Markdown in a zip, saved by the browser like any download.
async function exportNotes() {
  const button = $('export');
  button.disabled = true;
  try {
    const blob = await api.download('/api/v1/export');
    const link = h('a', { href: URL.createObjectURL(blob), download: 'vault-export.zip', hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  } catch (e) {
    mainPane(errorBox(`Export failed: ${e.message}`));
  } finally {
    button.disabled = false;
  }
}

async function start() {
  $('tab-signin').addEventListener('click', () => setSignup(false));
  $('tab-signup').addEventListener('click', () => setSignup(true));
  $('auth-form').addEventListener('submit', submitAuth);
  $('signout').addEventListener('click', signOut);
  $('export').addEventListener('click', exportNotes);
  $('import').addEventListener('click', () => $('import-files').click());
  $('import-files').addEventListener('change', (ev) => {
    const files = [...ev.target.files];
    ev.target.value = ''; // the same files may be chosen again
    if (files.length) importFiles(files);
  });
  $('search').addEventListener('input', runSearch);
  $('search-mode').addEventListener('change', runSearch);
  $('search-form').addEventListener('submit', (ev) => ev.preventDefault());
  $('tag-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    filterTag($('tag-filter').value);
  });
  $('tag-clear').addEventListener('click', () => filterTag(''));
  $('page-prev').addEventListener('click', () => {
    state.skip = Math.max(0, state.skip - PAGE);
    loadList();
  });
  $('page-next').addEventListener('click', () => {
    state.skip += PAGE;
    loadList();
  });
  window.addEventListener('hashchange', () => {
    if ($('search').value) leaveSearch();
    route();
  });
  document.addEventListener('keydown', onKey);
  api.setSessionEndHandler(() => showAuth('Your session has ended. Please sign in again.'));

  // A reload: the refresh cookie, if any, brings the session back.
  if (await api.renew()) {
    try {
      await enterApp();
      return;
    } catch {
      // fall through to the sign-in form
    }
  }
  showAuth('');
}

start();
