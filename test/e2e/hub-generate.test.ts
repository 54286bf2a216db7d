// Hub ids end to end: a local server in the hub's URL layout serves the real models of
// ../shared/models; Engine.create and the CLI download them into a temporary Hugging Face cache
// and generate the verified text, also offline, after a dropped connection; a corrupted download,
// a private model and an unknown one fail with messages that say what to do.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../lib/engine/engine.js';
import type { HubEnv } from '../../lib/model/hub/hub-env.js';
import { sharedModelsDir } from '../../lib/config.js';
import { startFakeHub, type FakeHub } from '../helpers/fake-hub.js';
import { EXPECTED_TEXT } from '../helpers/models.js';
import { runCli } from '../helpers/cli.js';

const models = sharedModelsDir();
const tiny = (f: string) => join(models, 'tinystories-656K', f);
const haveModels = existsSync(tiny('model.safetensors')) && existsSync(join(models, 'stories260K', 'stories260K.gguf'));
const TINY = 'raincandy-u/TinyStories-656K';
const STORIES = 'karpathy/stories-GGUF';
let hub: FakeHub;
let home: string;

before(async () => {
  if (!haveModels) {
    if (process.env.CI === 'true') throw new Error(`models missing in ${models}`);
    return;
  }
  home = mkdtempSync(join(tmpdir(), 'kvserve-hub-e2e-'));
  hub = await startFakeHub({
    [TINY]: {
      files: Object.fromEntries(
        ['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'README.md'].map((f) => [
          f,
          f === 'README.md' ? Buffer.from('# TinyStories-656K') : readFileSync(tiny(f)),
        ]),
      ),
    },
    [STORIES]: {
      files: { 'stories260K.gguf': readFileSync(join(models, 'stories260K', 'stories260K.gguf')), 'TinyStories-656K-Q8_0.gguf': readFileSync(tiny('TinyStories-656K-Q8_0.gguf')) },
      revisions: { 'tiny-only': { files: { 'TinyStories-656K-Q8_0.gguf': readFileSync(tiny('TinyStories-656K-Q8_0.gguf')) } } },
    },
    'acme/private-model': { files: { 'model.gguf': Buffer.alloc(4096) }, private: true },
  });
});

after(async () => {
  await hub?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

function freshCache(): string {
  return mkdtempSync(join(home, 'cache-'));
}

function hubFor(cacheDir: string, extra: Partial<HubEnv> = {}): Partial<HubEnv> {
  return { endpoint: hub.url, cacheDir, token: null, offline: false, ...extra };
}

async function greedyFromBos(model: string, hubEnv: Partial<HubEnv>, maxTokens = 64, onWarning?: (m: string) => void): Promise<string> {
  const engine = await Engine.create({ model, hub: hubEnv, threads: 2, maxNumSeqs: 4, ...(onWarning ? { onWarning } : {}) });
  try {
    let text = '';
    for await (const ev of engine.generate({ promptTokenIds: [engine.tokenizer.bosTokenId as number] }, { temperature: 0, maxTokens })) {
      if (ev.type === 'delta') text += ev.text;
    }
    return text.trimStart();
  } finally {
    await engine.close();
  }
}

/** The CLI's environment: the fake hub, a private HF_HOME (no saved token), the given cache. */
const cliEnv = (cacheDir: string, extra: Record<string, string | undefined> = {}) => ({
  HF_ENDPOINT: hub.url,
  HF_HOME: join(home, 'hf-home'),
  HF_HUB_CACHE: cacheDir,
  HF_TOKEN: undefined,
  HF_HUB_OFFLINE: undefined,
  ...extra,
});

test('Engine.create with a hub id downloads the HF model, generates the verified story, then runs offline from the cache', async (t) => {
  if (!haveModels) return t.skip('shared models missing');
  const cacheDir = freshCache();
  assert.ok((await greedyFromBos(TINY, hubFor(cacheDir))).startsWith(EXPECTED_TEXT.tinystories656k));
  const snapshot = join(cacheDir, 'models--raincandy-u--TinyStories-656K', 'snapshots', hub.commitOf(TINY));
  assert.ok(lstatSync(join(snapshot, 'model.safetensors')).isSymbolicLink());
  assert.ok(!existsSync(join(snapshot, 'README.md')), 'only the files a model needs are fetched');
  const n = hub.requests.length;
  assert.ok((await greedyFromBos(TINY, hubFor(cacheDir, { offline: true }))).startsWith(EXPECTED_TEXT.tinystories656k));
  assert.equal(hub.requests.length, n, 'offline mode made a request');
});

test('a GGUF file picked by name or quantization tag and revision generates its verified text', async (t) => {
  if (!haveModels) return t.skip('shared models missing');
  const cacheDir = freshCache();
  assert.ok((await greedyFromBos(`${STORIES}:stories260K.gguf`, hubFor(cacheDir))).startsWith(EXPECTED_TEXT.stories260k));
  const engine = await Engine.create({ model: `${STORIES}:Q8_0`, revision: 'tiny-only', hub: hubFor(cacheDir), threads: 2, maxNumSeqs: 4 });
  try {
    assert.equal(engine.spec.source, join(cacheDir, 'models--karpathy--stories-GGUF', 'snapshots', hub.commitOf(STORIES, 'tiny-only'), 'TinyStories-656K-Q8_0.gguf'));
  } finally {
    await engine.close();
  }
});

test('a connection dropped mid-file resumes and the model still generates the verified story; a corrupted blob is refused', async (t) => {
  if (!haveModels) return t.skip('shared models missing');
  const cacheDir = freshCache();
  hub.faults.dropAfterBytes = 1_000_000;
  const warnings: string[] = [];
  const n = hub.requests.length;
  assert.ok((await greedyFromBos(TINY, hubFor(cacheDir), 64, (w) => warnings.push(w))).startsWith(EXPECTED_TEXT.tinystories656k));
  const resumedAt = hub.requests.slice(n).map((r) => Number(/^bytes=(\d+)-$/.exec(r.range ?? '')?.[1] ?? 0)).find((start) => start > 0);
  assert.ok(resumedAt !== undefined && resumedAt <= 1_000_000, 'resumed with a range request');
  assert.match(warnings.join('\n'), new RegExp(`connection lost at byte ${resumedAt} `));

  const corruptCache = freshCache();
  hub.faults.corrupt = true;
  try {
    await assert.rejects(Engine.create({ model: `${STORIES}:stories260K.gguf`, hub: hubFor(corruptCache) }), /checksum mismatch .*the corrupted download was removed/);
  } finally {
    hub.faults.corrupt = false;
  }
  assert.deepEqual(readdirSync(join(corruptCache, 'models--karpathy--stories-GGUF', 'blobs')), []);
});

test('kvserve download fetches with a progress line and prints the path; generate then runs it offline', async (t) => {
  if (!haveModels) return t.skip('shared models missing');
  const cacheDir = freshCache();
  const dl = await runCli(['download', TINY], cliEnv(cacheDir));
  assert.equal(dl.code, 0, dl.stderr);
  const snapshot = join(cacheDir, 'models--raincandy-u--TinyStories-656K', 'snapshots', hub.commitOf(TINY));
  assert.equal(dl.stdout, `${snapshot}\n`);
  // Not a terminal: plain lines, the last one complete with sizes and speed.
  assert.match(dl.stderr, /^kvserve: download \[-+\] +\d+% .*\nkvserve: download \[#+\] 100% 2\.\d MiB \/ 2\.\d MiB at [\d.]+ [KMG]?i?B\/s \S+ \(\d\/\d\)\n$/);

  // An empty prompt is BOS alone: greedy decoding writes the verified story.
  const gen = await runCli(['generate', TINY, '--prompt', '', '--max-tokens', '64'], cliEnv(cacheDir, { HF_HUB_OFFLINE: '1' }));
  assert.equal(gen.code, 0, gen.stderr);
  assert.ok(gen.stdout.trimStart().startsWith(EXPECTED_TEXT.tinystories656k), gen.stdout);

  const rev = await runCli(['download', `${STORIES}:Q8_0`, '--revision', 'tiny-only', '--quiet'], cliEnv(cacheDir));
  assert.equal(rev.code, 0, rev.stderr);
  assert.equal(rev.stdout.trim(), join(cacheDir, 'models--karpathy--stories-GGUF', 'snapshots', hub.commitOf(STORIES, 'tiny-only'), 'TinyStories-656K-Q8_0.gguf'));
  assert.equal(rev.stderr, '');
  assert.equal(readFileSync(join(cacheDir, 'models--karpathy--stories-GGUF', 'refs', 'tiny-only'), 'utf8'), hub.commitOf(STORIES, 'tiny-only'));
});

test('the CLI explains 401 (HF_TOKEN), 404 and offline misses, and exits 1', async (t) => {
  if (!haveModels) return t.skip('shared models missing');
  const cacheDir = freshCache();
  const [denied, missing, offline, allowed] = await Promise.all([
    runCli(['download', 'acme/private-model'], cliEnv(cacheDir)),
    runCli(['generate', 'nobody/absent', '--prompt', 'x'], cliEnv(cacheDir)),
    runCli(['generate', TINY, '--prompt', 'x'], cliEnv(cacheDir, { HF_HUB_OFFLINE: '1' })),
    runCli(['download', 'acme/private-model', '-q'], cliEnv(cacheDir, { HF_TOKEN: hub.token })),
  ]);
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /^kvserve: acme\/private-model@main: access denied \(HTTP 401\): the model is private or gated, or does not exist\. If it exists, set HF_TOKEN/);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nobody\/absent@main: not found \(HTTP 404\): no such model on http:\/\/127\.0\.0\.1:\d+\. \(No local file or directory is named nobody\/absent either\.\)/);
  assert.equal(offline.code, 1);
  assert.match(offline.stderr, /offline \(HF_HUB_OFFLINE is set\) and the model is not in the cache .*kvserve download raincandy-u\/TinyStories-656K/);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.ok(allowed.stdout.trim().endsWith('model.gguf'));
});
