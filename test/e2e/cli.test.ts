// The `generate` and `tokenize` commands as a user runs them, on the real tiny models: `--output json`
// is one JSON line whose promptTokenIds are what `tokenize` prints and whose greedy text is the
// expected story; a seed makes sampling reproducible; `tokenize` prints what loadTokenizer().encode
// gives, for a GGUF vocabulary and an HF tokenizer.json; a usage error goes to stderr.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTokenizer } from '../../lib/tokenizer/index.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { EXPECTED_TEXT, MODELS, modelPath } from '../helpers/models.js';

interface GenerateJson {
  text: string;
  tokenIds: number[];
  promptTokenIds: number[];
}

// text is the continuation detokenized in the context of the prompt, so the checks below decode
// prompt and continuation together (decoding the continuation alone would drop its leading space).

/** stdout of a successful command: exactly one line of JSON. */
function jsonLine<T>(run: CliResult): T {
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^[^\n]+\n$/, 'one line on stdout');
  return JSON.parse(run.stdout) as T;
}

const generate = (model: string, prompt: string, ...flags: string[]) =>
  runCli(['generate', model, '--prompt', prompt, '--output', 'json', '--threads', '1', ...flags]);

test('generate --output json on stories260K: text, tokenIds and promptTokenIds; promptTokenIds are what tokenize prints; greedy text is the expected story', async (t) => {
  const model = modelPath(t, MODELS.stories260kGguf);
  if (model === null) return;
  const tokenizer = await loadTokenizer(model);
  const prompt = 'Once upon a time';
  const [fromBos, fromPrompt, tokenized] = await Promise.all([
    generate(model, '', '--max-tokens', '64'),
    generate(model, prompt, '--max-tokens', '60'),
    runCli(['tokenize', model, '--text', prompt]),
  ]);

  // An empty prompt is BOS alone: the README's greedy story, as test/e2e/expected-text.test.ts checks it.
  const bos = jsonLine<GenerateJson>(fromBos);
  assert.deepEqual(bos.promptTokenIds, [tokenizer.bosTokenId]);
  assert.equal(bos.tokenIds.length, 64);
  assert.equal(tokenizer.decode([...bos.promptTokenIds, ...bos.tokenIds]), tokenizer.decode(bos.promptTokenIds) + bos.text);
  assert.ok(bos.text.trimStart().startsWith(EXPECTED_TEXT.stories260k), bos.text);

  // The story's own first words as the prompt: the continuation is the rest of the same story.
  const out = jsonLine<GenerateJson>(fromPrompt);
  assert.equal(typeof out.text, 'string');
  assert.ok(Array.isArray(out.tokenIds) && Array.isArray(out.promptTokenIds));
  assert.deepEqual(out.promptTokenIds, jsonLine<number[]>(tokenized));
  assert.deepEqual(out.promptTokenIds, await tokenizer.encode(prompt));
  assert.equal(out.tokenIds.length, 60);
  assert.ok(out.tokenIds.every((id) => Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize));
  assert.equal(tokenizer.decode([...out.promptTokenIds, ...out.tokenIds]), tokenizer.decode(out.promptTokenIds) + out.text);
  assert.ok((prompt + out.text).startsWith(EXPECTED_TEXT.stories260k), out.text);
  // The greedy continuation of the story's prefix is the BOS story's own continuation, token for token.
  assert.deepEqual(bos.tokenIds.slice(out.promptTokenIds.length - 1), out.tokenIds.slice(0, 64 - (out.promptTokenIds.length - 1)));
});

test('generate --output json on TinyStories-656K (HF directory) from BOS writes the expected story', async (t) => {
  const model = modelPath(t, MODELS.tinystoriesHfDir);
  if (model === null) return;
  const out = jsonLine<GenerateJson>(await generate(model, '', '--max-tokens', '64'));
  assert.equal(out.promptTokenIds.length, 1);
  assert.ok(out.text.trimStart().startsWith(EXPECTED_TEXT.tinystories656k), out.text);
});

test('generate --temperature 1 --seed 7 prints the same output twice; another seed samples other tokens', async (t) => {
  const model = modelPath(t, MODELS.stories260kGguf);
  if (model === null) return;
  const sampled = (seed: number) => generate(model, 'Once upon a time', '--max-tokens', '32', '--temperature', '1', '--seed', String(seed));
  const [a, b, c] = await Promise.all([sampled(7), sampled(7), sampled(8)]);
  const first = jsonLine<GenerateJson>(a);
  assert.equal(b.stdout, a.stdout);
  assert.equal(first.tokenIds.length, 32);
  // 32 tokens sampled at temperature 1 with another seed: the same sequence would be a coincidence
  // (and, both seeds being fixed, one that would repeat on every run, not a flake).
  assert.notDeepEqual(jsonLine<GenerateJson>(c).tokenIds, first.tokenIds);
});

test('tokenize --text prints loadTokenizer().encode for a GGUF vocabulary and an HF tokenizer.json, with and without special tokens', async (t) => {
  const gguf = modelPath(t, MODELS.stories260kGguf);
  const hfDir = gguf === null ? null : modelPath(t, MODELS.tinystoriesHfDir);
  if (gguf === null || hfDir === null) return;
  const text = 'Hello world!  Lily saw 3 red balls, émigré café 🙂\nThe end.';
  for (const model of [gguf, hfDir]) {
    const tokenizer = await loadTokenizer(model);
    const [withSpecial, without] = await Promise.all([
      runCli(['tokenize', model, '--text', text]),
      runCli(['tokenize', model, '--text', text, '--no-special-tokens']),
    ]);
    const ids = jsonLine<number[]>(withSpecial);
    assert.deepEqual(ids, await tokenizer.encode(text), model);
    assert.equal(ids[0], tokenizer.bosTokenId, model);
    assert.deepEqual(jsonLine<number[]>(without), await tokenizer.encode(text, { addSpecialTokens: false }), model);
  }
});

test('tokenize without --text exits 2 with its usage on stderr, nothing on stdout', async () => {
  const run = await runCli(['tokenize', 'model.gguf']);
  assert.equal(run.code, 2);
  assert.equal(run.stdout, '');
  assert.match(run.stderr, /usage: kvserve tokenize <model> --text <text>/);
  const help = await runCli(['tokenize', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: kvserve tokenize/);
});
