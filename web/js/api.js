// api.js - the vault API from the page: tokens, renewal, errors, streamed answers.
//
// The access token lives in this module's memory only. The refresh token is an
// HttpOnly cookie (Path=/api/v1/auth) the server sets at login and on every
// refresh; scripts never see it. A request answered 401 renews the access
// token once through that cookie and is sent again.

let accessToken = null;
let refreshing = null; // the renewal in progress, shared by concurrent requests
let onSessionEnd = () => {};

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

// Called when the session cannot be renewed (signed out elsewhere, expired).
export function setSessionEndHandler(fn) {
  onSessionEnd = fn;
}

export function signedIn() {
  return accessToken !== null;
}

async function errorOf(resp) {
  let detail = `${resp.status} ${resp.statusText}`.trim();
  try {
    const body = await resp.json();
    if (body && typeof body.detail === 'string') detail = body.detail;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(resp.status, detail);
}

function send(method, path, body) {
  const headers = {};
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
}

// Renews the access token with the refresh cookie; true on success.
export function renew() {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const resp = await fetch('/api/v1/auth/refresh', {
          method: 'POST',
          credentials: 'same-origin',
          cache: 'no-store',
        });
        if (!resp.ok) {
          accessToken = null;
          return false;
        }
        accessToken = (await resp.json()).access_token;
        return true;
      } catch {
        return false;
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

// A fetch Response for an authenticated request, renewing the token once on 401.
async function authed(method, path, body) {
  let resp = await send(method, path, body);
  if (resp.status === 401 && accessToken !== null) {
    if (await renew()) {
      resp = await send(method, path, body);
    } else {
      accessToken = null;
      onSessionEnd();
    }
  }
  return resp;
}

// JSON of an API call (null for 204); throws ApiError with the API's detail.
export async function call(method, path, body) {
  const resp = await authed(method, path, body);
  if (!resp.ok) throw await errorOf(resp);
  return resp.status === 204 ? null : resp.json();
}

// The Blob of an authenticated GET (a download); throws ApiError with the API's detail.
export async function download(path) {
  const resp = await authed('GET', path);
  if (!resp.ok) throw await errorOf(resp);
  return resp.blob();
}

// One multipart POST of files (XMLHttpRequest: fetch cannot report upload
// progress); onProgress(sent, total) as the bytes go. Renews the token once on 401.
function postFiles(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    if (accessToken) xhr.setRequestHeader('Authorization', `Bearer ${accessToken}`);
    xhr.responseType = 'json';
    xhr.upload.onprogress = (ev) => ev.lengthComputable && onProgress(ev.loaded, ev.total);
    xhr.onload = () => resolve(xhr);
    xhr.onerror = () => reject(new ApiError(0, 'The upload failed: no answer from the server'));
    xhr.send(form);
  });
}

// The JSON answer of uploading files; throws ApiError with the API's detail.
export async function upload(path, files, onProgress) {
  const form = new FormData();
  // A folder's files keep their path inside it.
  for (const f of files) form.append('file', f, f.webkitRelativePath || f.name);
  // A token refused with the headers would cut a large body short (no 401 to
  // renew on): renew first, with a cheap request, if the token has expired.
  await authed('GET', '/api/v1/auth/me');
  let xhr = await postFiles(path, form, onProgress);
  if (xhr.status === 401 && accessToken !== null && (await renew()))
    xhr = await postFiles(path, form, onProgress);
  const body = xhr.response;
  if (xhr.status < 200 || xhr.status > 299) {
    const detail = body && typeof body.detail === 'string' ? body.detail : `${xhr.status} ${xhr.statusText}`;
    throw new ApiError(xhr.status, detail);
  }
  return body;
}

export async function signIn(email, password) {
  const resp = await send('POST', '/api/v1/auth/login', { email, password });
  if (!resp.ok) throw await errorOf(resp);
  accessToken = (await resp.json()).access_token;
}

export async function signUp(email, password) {
  const resp = await send('POST', '/api/v1/auth/register', { email, password });
  if (!resp.ok) throw await errorOf(resp);
  await signIn(email, password);
}

// Ends this browser's login on the server (and its cookie); forgets the token either way.
export async function signOut() {
  try {
    await authed('POST', '/api/v1/auth/logout');
  } finally {
    accessToken = null;
  }
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else if (v !== undefined && v !== null && v !== '') q.append(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// Parses Server-Sent Events from a fetch body; calls onEvent(name, data) for each.
async function readEvents(resp, onEvent) {
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    buf += decoder.decode(value || new Uint8Array(), { stream: !done });
    buf = buf.replace(/\r\n?/g, '\n');
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let name = 'message';
      const data = [];
      for (const line of frame.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? '' : line.slice(colon + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        if (field === 'event') name = val;
        else if (field === 'data') data.push(val);
      }
      if (data.length) {
        let parsed;
        try {
          parsed = JSON.parse(data.join('\n'));
        } catch {
          parsed = { text: data.join('\n') };
        }
        onEvent(name, parsed);
      }
    }
    if (done) return;
  }
}

// POST /api/v1/ask streamed: handlers.token({text}), .citations({citations, model}),
// .error({detail}); throws ApiError when the API refuses (503 AI unavailable, 422).
export async function ask(question, handlers, signal) {
  const resp = await authed('POST', '/api/v1/ask', { question, stream: true });
  if (!resp.ok) throw await errorOf(resp);
  const type = resp.headers.get('Content-Type') || '';
  if (!type.startsWith('text/event-stream')) {
    // A server that answered whole: show it the same way.
    const body = await resp.json();
    handlers.token({ text: body.answer || '' });
    handlers.citations({ citations: body.citations || [], model: body.model });
    return;
  }
  if (signal) signal.addEventListener('abort', () => resp.body.cancel().catch(() => {}));
  await readEvents(resp, (name, data) => {
    if (handlers[name]) handlers[name](data);
  });
}
