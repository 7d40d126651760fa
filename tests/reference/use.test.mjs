// use.test.mjs - vault's local embedder (C, src/providers/use_*.c) against the
// reference implementation of its model: @energetic-ai/embeddings 0.2.0 on
// TensorFlow.js, reading the same model files (EMBEDDING_MODEL_DIR). Every
// text must get the same sentence pieces, and every text the model takes
// whole (at most 128 pieces) a vector at cosine >= 0.999 to the reference's.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmbeddingsModel } from '@energetic-ai/embeddings';
import { loadGraphModel, ready } from '@energetic-ai/core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const VAULT_BIN = resolve(root, process.env.VAULT_BIN || 'build/vault');
const MODEL_DIR = resolve(root, process.env.EMBEDDING_MODEL_DIR || 'data/models/use-lite-v1');
const MAX_PIECES = 128; // the graph keeps positions 0..127 (ClipToMaxLength)
const MIN_COSINE = 0.999;

const paragraph =
  'Our team meeting moved to Tuesday at ten. Bring the quarterly numbers, the draft ' +
  'budget for the new office and a list of questions for the landlord about heating, ' +
  'parking and the broken lift. Priya will take notes; Tom books the projector room.';

const TEXTS = [
  // Short queries, as people type them.
  'vehicle upkeep',
  'machine learning models',
  'how do I get a refund',
  'sourdough starter',
  'tax return deadline',
  'cheap flights to Tokyo in April',
  'fix a leaking kitchen tap',
  'what did we decide in the meeting?',
  'password reset email not arriving',
  'Rex vet appointment',
  'a',
  'I',
  // Sentences and note-sized chunks (title, blank line, text), up to the model's 128 pieces.
  'The quick brown fox jumps over the lazy dog.',
  'Training a neural network needs data, a loss function and patience.',
  paragraph,
  `Team meeting\n\n${paragraph}`,
  'Car maintenance\nTyres > Pressure\n\nCheck the tyre pressure every month: 2.3 bar front, ' +
    '2.1 bar rear, more when the car is loaded. Rotate the tyres every 10,000 km and look ' +
    'for uneven wear, which points to bad alignment.',
  '# Sourdough country loaf\n\n- 400 g strong white flour\n- 100 g wholemeal\n- 375 g water ' +
    '+ 10 g salt\n\n1. Autolyse for 1 h.\n2. Add the levain, then the salt.\n3. Bulk ferment ' +
    'for 4-5 h with four sets of folds.',
  'Reading notes: "Thinking, Fast and Slow" by Daniel Kahneman. System 1 is fast, ' +
    'intuitive and emotional; System 2 is slower, more deliberative and more logical. ' +
    'Anchoring, availability and loss aversion are the biases I want to remember.',
  'THE HOUSE RULES: SHOES OFF, LIGHTS OUT BY TEN, AND NOBODY FEEDS THE DOG FROM THE TABLE!',
  // Code.
  'int main(void) { printf("hello, world\\n"); return 0; }',
  'def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n',
  'SELECT id, title FROM notes WHERE user_id = $1 ORDER BY updated_at DESC LIMIT 20;',
  'git reset --soft HEAD~1 && git push --force-with-lease origin main',
  '{"title": "Groceries", "tags": ["home", "food"], "done": false}',
  '^(?:[a-z0-9!#$%&\'*+/=?^_`{|}~-]+)@example\\.org$',
  'docker system prune -af --volumes; du -sh /var/lib/docker',
  // Accents, other Latin scripts, and text NFKC changes.
  'Café crème brûlée à la française',
  'naïve façade, coöperate and résumé',
  'Straße, Größe und übermäßig',
  '¿Dónde está la biblioteca? ¡Vamos!',
  'Zażółć gęślą jaźń',
  'Tiếng Việt có dấu',
  'e\u0301cole and  cafe\u0301', // combining accents, which NFKC composes
  'ﬁne ﬂour, ① ② ③, x² and ＦＵＬＬＷＩＤＴＨ ｶﾀｶﾅ', // ligatures, circled, full and half width
  'Καλημέρα κόσμε',
  'Привет, мир! Как дела?',
  'مرحبا بالعالم',
  'नमस्ते दुनिया',
  // CJK.
  '東京の天気は晴れです',
  '我喜欢学习中文。',
  '한국어 문장입니다',
  'Meeting 会議 at 3pm, ask 田中さん',
  // Emoji.
  '🎉🎉🎉',
  'I love pizza 🍕 and tacos 🌮',
  '👨‍👩‍👧‍👦 family trip',
  'flags 🇬🇧 🇫🇷 and a thumbs up 👍🏽',
  // White space only and control characters.
  ' ',
  '\n\n\t',
  '   \u00a0  ',
  '\u3000',
  'tab\tseparated\tvalues',
  'line one\nline two\r\nline three',
  '  leading and trailing spaces  ',
  'double  spaces  between  words',
  // Pieces with quirks in the vocabulary (null scores, ":30", ":00"), URLs, numbers.
  'Meet at 10:30 or 11:00 :) see https://example.com/a/b?q=1&x=2',
  'someone@example.org wrote: ":-( not again"',
  '3.14159 2024-06-01 £1,299.99 50% -7 +44 1234 567890',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  'Pneumonoultramicroscopicsilicovolcanoconiosis',
  '| item | qty |\n|---|---:|\n| eggs | 12 |\n| milk | 2 |',
  '',
];

// Longer than the model's window: only the pieces are compared (vault cuts
// these into windows; the reference drops what follows piece 128).
const LONG = [
  Array(6).fill(paragraph).join(' '),
  'Notes\n\n' + Array(40).fill('word').join(' ') + ' 終わり 🎉 ' + Array(200).fill('x').join(''),
];

let model;

before(async () => {
  await ready();
  model = new EmbeddingsModel({
    model: await loadGraphModel(`file://${MODEL_DIR}/model.json`),
    vocabulary: JSON.parse(readFileSync(join(MODEL_DIR, 'vocab.json'), 'utf8')),
  });
});

// Runs `vault embed [args]` on texts (JSON lines on stdin); one parsed JSON value a text.
function vaultEmbed(texts, args = []) {
  const dir = mkdtempSync(join(tmpdir(), 'vault-ref-'));
  try {
    const r = spawnSync(VAULT_BIN, ['embed', ...args], {
      cwd: dir, // no .env
      env: { PATH: process.env.PATH, EMBEDDING_MODEL_DIR: MODEL_DIR, LOG_LEVEL: 'warning' },
      input: texts.map((t) => JSON.stringify(t)).join('\n') + '\n',
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    assert.equal(r.status, 0, `vault embed failed: ${r.stderr}`);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, texts.length);
    return lines;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

test('the same sentence pieces as the reference tokenizer', () => {
  const all = [...TEXTS, ...LONG];
  const ours = vaultEmbed(all, ['--tokens']);
  all.forEach((t, i) => {
    assert.deepEqual(ours[i], model.tokenizer.encode(t), `pieces of ${JSON.stringify(t)}`);
  });
  for (const t of LONG) assert.ok(model.tokenizer.encode(t).length > MAX_PIECES);
});

test(`vectors at cosine >= ${MIN_COSINE} to the reference's`, async () => {
  const texts = TEXTS.filter((t) => model.tokenizer.encode(t).length <= MAX_PIECES);
  assert.ok(texts.length >= 50, `only ${texts.length} texts fit the model`);
  const ours = vaultEmbed(texts);
  // The reference drops a trailing text with no pieces from its batch, so
  // each text goes alone except the empty one, which rides with another.
  let worst = { cos: 2 };
  for (let i = 0; i < texts.length; i++) {
    const ref = texts[i] === '' ? (await model.embed(['', 'x']))[0] : await model.embed(texts[i]);
    assert.equal(ours[i].length, 512);
    const cos = cosine(ours[i], ref);
    if (cos < worst.cos) worst = { cos, text: texts[i] };
    assert.ok(cos >= MIN_COSINE, `cosine ${cos} for ${JSON.stringify(texts[i])}`);
  }
  console.log(
    `# ${texts.length} texts, lowest cosine 1 - ${(1 - worst.cos).toExponential(2)} ` +
      `for ${JSON.stringify(worst.text)}`,
  );
});
