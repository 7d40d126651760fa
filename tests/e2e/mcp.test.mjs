// mcp.test.mjs - `vault mcp` driven by the official MCP TypeScript SDK client
// over stdio: initialise, list tools (all six; the four that read for --read-only), call
// each one against a real server's database and the fake AI, read a note as
// a resource, and get the API's own error messages back as tool errors. Personal
// access tokens over both transports: a read token gets the reading tools only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { startFakeAI, startVault, VAULT_BIN } from './lib.mjs';

let ai, vault;
const email = 'agent.owner@example.com';

async function api(method, path, body, token) {
  const res = await fetch(vault.base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: res.status === 204 ? null : await res.json() };
}

async function connect(args = ['--user', email], env = {}) {
  const transport = new StdioClientTransport({
    command: VAULT_BIN,
    args: ['mcp', ...args],
    env: { ...vault.env, ...env },
    cwd: vault.dir,
    stderr: 'ignore',
  });
  const client = new Client({ name: 'vault-e2e', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

before(async () => {
  ai = await startFakeAI();
  vault = await startVault({ LLM_PROVIDER: 'openai', LLM_MODEL: 'fake-chat', OPENAI_BASE_URL: ai.url });
  assert.equal((await api('POST', '/api/v1/auth/register', { email, password: 'agent-password-1' })).status, 201);
  // Another user's note, which the agent must never see.
  await api('POST', '/api/v1/auth/register', { email: 'other@example.com', password: 'other-password-1' });
  const login = await api('POST', '/api/v1/auth/login', { email: 'other@example.com', password: 'other-password-1' });
  const other = await api('POST', '/api/v1/notes', { title: 'Other secret', content: 'not yours', tags: ['home', 'secret-tag'] }, login.json.access_token);
  assert.equal(other.status, 201);
  vault.otherId = other.json.id;
});

after(async () => {
  await vault?.stop();
  await ai?.stop();
});

test('tools: list, call each, errors as tool errors', async () => {
  const client = await connect();
  try {
    assert.equal(client.getServerVersion().name, 'vault');
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(),
      ['ask', 'create_note', 'get_note', 'list_notes', 'list_tags', 'search_notes', 'update_note']);
    for (const t of tools) {
      assert.equal(t.inputSchema.type, 'object', t.name);
      assert.ok(t.description.length > 40, t.name);
    }

    const made = await client.callTool({ name: 'create_note',
      arguments: { title: 'Boiler service', content: 'The boiler is serviced every October by Dan.', tags: ['home'] } });
    assert.equal(made.isError, false);
    const id = made.structuredContent.id;
    assert.ok(Number.isInteger(id));

    const got = await client.callTool({ name: 'get_note', arguments: { id } });
    assert.equal(got.structuredContent.title, 'Boiler service');
    assert.deepEqual(got.structuredContent.tags, ['home']);
    assert.equal(JSON.parse(got.content[0].text).content, 'The boiler is serviced every October by Dan.');

    const upd = await client.callTool({ name: 'update_note', arguments: { id, tags: ['home', 'yearly'] } });
    assert.deepEqual(upd.structuredContent.tags, ['home', 'yearly']);
    assert.equal(upd.structuredContent.title, 'Boiler service');

    const list = await client.callTool({ name: 'list_notes', arguments: { tag: ['yearly'], limit: 10 } });
    assert.equal(list.structuredContent.total, 1);
    assert.equal(list.structuredContent.items[0].id, id);

    // Only the agent's user's tags, counted on their notes alone.
    const tags = await client.callTool({ name: 'list_tags', arguments: {} });
    assert.deepEqual(tags.structuredContent.tags, [{ tag: 'home', notes: 1 }, { tag: 'yearly', notes: 1 }]);

    const found = await client.callTool({ name: 'search_notes', arguments: { query: 'boiler October', mode: 'keyword' } });
    assert.equal(found.structuredContent.results[0].id, id);
    assert.ok(found.structuredContent.results.every((r) => r.id !== vault.otherId));

    const asked = await client.callTool({ name: 'ask', arguments: { question: 'When is the boiler serviced?' } });
    assert.equal(asked.isError, false, asked.content[0].text);
    assert.ok(asked.structuredContent.answer.length > 0);
    assert.ok(Array.isArray(asked.structuredContent.citations));

    // The API's own messages, as tool errors.
    const bad = await client.callTool({ name: 'create_note', arguments: { title: '' } });
    assert.equal(bad.isError, true);
    assert.equal(bad.content[0].text, 'title: must be 1-200 characters after trimming');
    const foreign = await client.callTool({ name: 'get_note', arguments: { id: vault.otherId } });
    assert.equal(foreign.isError, true);
    assert.equal(foreign.content[0].text, 'Note not found');

    // Notes as resources.
    const { resources } = await client.listResources();
    assert.ok(resources.some((r) => r.uri === `vault://notes/${id}` && r.name === 'Boiler service'));
    assert.ok(resources.every((r) => r.uri !== `vault://notes/${vault.otherId}`));
    const read = await client.readResource({ uri: `vault://notes/${id}` });
    assert.equal(read.contents[0].text, 'The boiler is serviced every October by Dan.');
    await assert.rejects(client.readResource({ uri: `vault://notes/${vault.otherId}` }), /not found/i);
    await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), /unknown tool/i);
  } finally {
    await client.close();
  }
});

test('read-only: reading tools only, writes refused', async () => {
  const client = await connect(['--user', email, '--read-only']);
  try {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['ask', 'get_note', 'list_notes', 'list_tags', 'search_notes']);
    const refused = await client.callTool({ name: 'create_note', arguments: { title: 'Sneaky' } });
    assert.equal(refused.isError, true);
    assert.match(refused.content[0].text, /only read/);
    const list = await client.callTool({ name: 'list_notes', arguments: {} });
    assert.ok(list.structuredContent.items.every((n) => n.title !== 'Sneaky'));
  } finally {
    await client.close();
  }
});

test('Streamable HTTP at /mcp: the bearer token is the caller', async () => {
  const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  const login = await api('POST', '/api/v1/auth/login', { email, password: 'agent-password-1' });
  const transport = new StreamableHTTPClientTransport(new URL(vault.base + '/mcp'), {
    requestInit: { headers: { authorization: `Bearer ${login.json.access_token}` } },
  });
  const client = new Client({ name: 'vault-e2e-http', version: '1.0.0' });
  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    assert.equal(tools.length, 7);
    const made = await client.callTool({ name: 'create_note', arguments: { title: 'Made over HTTP', content: 'hello' } });
    assert.equal(made.isError, false);
    const got = await client.callTool({ name: 'get_note', arguments: { id: made.structuredContent.id } });
    assert.equal(got.structuredContent.content, 'hello');
    const foreign = await client.callTool({ name: 'get_note', arguments: { id: vault.otherId } });
    assert.equal(foreign.content[0].text, 'Note not found');
  } finally {
    await client.close();
  }
  // Without a token: 401, as every authenticated route.
  const res = await fetch(vault.base + '/mcp', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  assert.equal(res.status, 401);
});

// A personal access token of scope, made through the API with a login's token.
async function patFor(scope) {
  const login = await api('POST', '/api/v1/auth/login', { email, password: 'agent-password-1' });
  const made = await api('POST', '/api/v1/tokens', { name: `agent ${scope}`, scope }, login.json.access_token);
  assert.equal(made.status, 201);
  return made.json.token;
}

test('a revoked VAULT_TOKEN stops the agent at once', async () => {
  const login = await api('POST', '/api/v1/auth/login', { email, password: 'agent-password-1' });
  const made = await api('POST', '/api/v1/tokens', { name: 'to revoke', scope: 'write' }, login.json.access_token);
  const client = await connect([], { VAULT_TOKEN: made.json.token });
  try {
    assert.equal((await client.listTools()).tools.length, 7);
    assert.equal((await api('DELETE', `/api/v1/tokens/${made.json.id}`, undefined, login.json.access_token)).status, 204);
    await assert.rejects(client.callTool({ name: 'list_notes', arguments: {} }), /revoked/);
  } finally {
    await client.close();
  }
});

test('personal access tokens: VAULT_TOKEN over stdio, bearer over HTTP, read tokens read only', async () => {
  const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  const read = await patFor('read');
  const write = await patFor('write');
  const overHttp = async (token) => {
    const client = new Client({ name: 'vault-e2e-pat', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(vault.base + '/mcp'), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }));
    return client;
  };
  const readers = ['ask', 'get_note', 'list_notes', 'list_tags', 'search_notes'];
  for (const client of [await connect([], { VAULT_TOKEN: read }), await overHttp(read)]) {
    try {
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), readers);
      const refused = await client.callTool({ name: 'create_note', arguments: { title: 'By a reader' } });
      assert.equal(refused.isError, true);
      assert.match(refused.content[0].text, /read-only/);
      const list = await client.callTool({ name: 'list_notes', arguments: {} });
      assert.equal(list.isError, false);
      assert.ok(list.structuredContent.items.every((n) => n.title !== 'By a reader'));
    } finally {
      await client.close();
    }
  }
  for (const client of [await connect([], { VAULT_TOKEN: write }), await overHttp(write)]) {
    try {
      const { tools } = await client.listTools();
      assert.equal(tools.length, 7);
      const made = await client.callTool({ name: 'create_note', arguments: { title: 'By a writer' } });
      assert.equal(made.isError, false, made.content[0].text);
    } finally {
      await client.close();
    }
  }
});
