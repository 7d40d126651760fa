// validate.mjs - checks every answer the integration tests received against
// vault's OpenAPI document, so that the document cannot drift from the server.
//
//   node validate.mjs VAULT_BIN RESPONSES_DIR
//
// The document comes from `VAULT_BIN openapi` (the same generator as GET
// /openapi.json); the answers from RESPONSES_DIR/*.jsonl, one JSON object a
// line as tests/integration/harness.c records them: {method, path, status,
// content_type, body}. An answer fails when
//   - its path and method are an operation of the document, and its status
//     is not among the operation's responses (nor covered by "default"), its
//     media type is not one the response lists, or its JSON body does not
//     match the response's schema (ajv, JSON Schema 2020-12);
//   - its path is no operation's (a 404 or 405 of the router) and its body
//     is JSON that is not the error shape.
// The web page's own files (not JSON, on no operation's path) are not the
// API's and are left alone. Exit status 1 with the first failures listed.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const [bin, dir] = process.argv.slice(2);
if (!bin || !dir) {
  console.error('usage: node validate.mjs VAULT_BIN RESPONSES_DIR');
  process.exit(2);
}
const doc = JSON.parse(execFileSync(bin, ['openapi'], { encoding: 'utf8' }));

const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
addFormats(ajv);
// The components' schemas as the $defs of one schema, which every
// "#/components/schemas/X" is pointed at.
const rebase = (text) => JSON.parse(text.replaceAll('"#/components/schemas/', '"vault:#/$defs/'));
ajv.addSchema({ $id: 'vault:', $defs: rebase(JSON.stringify(doc.components.schemas)) });
const compiled = new Map();
function validator(schema) {
  const key = JSON.stringify(schema);
  if (!compiled.has(key)) {
    compiled.set(key, ajv.compile(rebase(key)));
  }
  return compiled.get(key);
}

// Path templates as regular expressions: {id} is one segment.
const routes = Object.entries(doc.paths).map(([template, ops]) => ({
  template,
  ops,
  re: new RegExp('^' + template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+') + '$'),
}));
const errorCheck = validator({ $ref: '#/components/schemas/Error' });

function check(rec) {
  const path = rec.path.split('?')[0];
  const route = routes.find((r) => r.re.test(path));
  const method = rec.method === 'HEAD' ? 'get' : rec.method.toLowerCase();
  const op = route && route.ops[method];
  const media = (rec.content_type || '').split(';')[0].trim();
  const json = media === 'application/json';
  let body;
  if (json && rec.body) {
    try {
      body = JSON.parse(rec.body);
    } catch {
      return `body is not JSON: ${rec.body.slice(0, 200)}`;
    }
  }
  if (!op) {
    if (json && rec.body && !errorCheck(body))
      return `not an operation of the document, and not the error shape: ${rec.body.slice(0, 300)}`;
    return null;
  }
  const resp = op.responses[String(rec.status)] || op.responses.default;
  if (!resp) return `status ${rec.status} is not documented for ${method.toUpperCase()} ${route.template}`;
  // 204, 202, 304 and HEAD carry no body; null is a body that is not UTF-8 (a zip)
  if (rec.body === '' || rec.method === 'HEAD') return null;
  const content = resp.content || {};
  const type = Object.keys(content).find((t) => t.split(';')[0].trim() === media);
  if (!type)
    return `${rec.status} ${media || '(no Content-Type)'} is not a media type documented for ${method.toUpperCase()} ${route.template}: ${Object.keys(content).join(', ') || 'none'}`;
  if (!json) return null;
  const v = validator(content[type].schema);
  if (!v(body))
    return `${rec.status} body does not match ${JSON.stringify(content[type].schema)}: ${ajv.errorsText(v.errors)}; body: ${rec.body.slice(0, 300)}`;
  return null;
}

let total = 0;
const failures = [];
const seen = new Set();
for (const f of readdirSync(dir).filter((f) => f.endsWith('.jsonl'))) {
  for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
    if (!line) continue;
    const rec = JSON.parse(line);
    total++;
    if (rec.body === null && /^(application\/json|text\/)/.test(rec.content_type || '')) {
      failures.push(`${rec.method} ${rec.path} -> ${rec.status}: body is not UTF-8`);
      continue;
    }
    const why = check(rec);
    if (why) failures.push(`${rec.method} ${rec.path} -> ${rec.status}: ${why}`);
    const p = rec.path.split('?')[0];
    const r = routes.find((x) => x.re.test(p));
    if (r) seen.add(`${rec.method === 'HEAD' ? 'GET' : rec.method} ${r.template}`);
  }
}
const ops = routes.flatMap((r) => Object.keys(r.ops).map((m) => `${m.toUpperCase()} ${r.template}`));
const unseen = ops.filter((o) => !seen.has(o));
console.log(`openapi: ${total} responses checked against ${ops.length} operations` +
  (unseen.length ? ` (not exercised: ${unseen.join(', ')})` : ''));
if (total === 0) failures.push(`no responses recorded in ${dir}`);
if (failures.length) {
  console.error(`openapi: ${failures.length} responses do not match the document:`);
  for (const f of failures.slice(0, 30)) console.error('  ' + f);
  process.exit(1);
}
