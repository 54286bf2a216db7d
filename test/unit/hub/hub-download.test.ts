// Hub downloads against a local server in the hub's URL layout, serving the real files of
// ../shared/models and a synthetic sharded checkpoint among decoy files: cache layout, only the
// needed files, resume, checksums, retries, offline use, and the hub's error answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveHubModel, type HubModelRequest, type ResolveOptions } from '../../../lib/model/hub/resolve-hub-model.js';
import { hubEnv, type HubEnv } from '../../../lib/model/hub/hub-env.js';
import { KvserveError } from '../../../lib/errors.js';
import { startFakeHub, type FakeHub } from '../../helpers/fake-hub.js';
import { sharedModelsDir } from '../../../lib/config.js';
import { loadModelSpec } from '../../../lib/model/load-model-spec.js';
import { writeSyntheticHfDir } from '../../../lib/model/synthetic.js';

const models = sharedModelsDir();
const TINY_FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json'];
// Every shared file before() serves: without all of them the tests that use them are skipped (CI fails).
const SHARED_FILES = [
  ...TINY_FILES.map((f) => `tinystories-656K/${f}`),
  'tinystories-656K/TinyStories-656K-Q8_0.gguf',
  'stories260K/stories260K.gguf',
];
const missingModels = SHARED_FILES.filter((f) => !existsSync(join(models, f)));
const haveModels = missingModels.length === 0;
const TINY = 'raincandy-u/TinyStories-656K';
const GGUFS = 'ggml-org/stories-GGUF';
const SHARDED = 'acme/sharded-llama';
// Files of the sharded repo that no loader reads: other weight formats, an unindexed safetensors, docs.
const DECOYS = ['pytorch_model.bin', 'consolidated.safetensors', 'model.onnx', 'README.md', 'original/params.json'];
let hub: FakeHub;
const cacheDirs: string[] = [];

function freshCache(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kvserve-hub-'));
  cacheDirs.push(dir);
  return dir;
}

function env(extra: Partial<HubEnv> = {}): HubEnv {
  return { ...hubEnv({}), endpoint: hub.url, cacheDir: freshCache(), token: null, offline: false, ...extra };
}

const req = (repoId: string, extra: Partial<HubModelRequest> = {}): HubModelRequest => ({ repoId, revision: 'main', file: null, quant: null, ...extra });
const opts = (e: HubEnv, extra: ResolveOptions = {}): ResolveOptions => ({ env: e, retryDelayMs: 5, onWarning: () => {}, ...extra });
const cdnRequests = () => hub.requests.filter((r) => r.url.startsWith('/cdn/')).length;
const stories = () => readFileSync(join(models, 'stories260K', 'stories260K.gguf'));

before(async () => {
  if (!haveModels && process.env.CI === 'true') throw new Error(`models missing in ${models}: ${missingModels.join(', ')}`);
  const file = (p: string) => (haveModels ? readFileSync(join(models, p)) : Buffer.from('x'.repeat(4096)));
  const tiny = 'tinystories-656K';
  // A synthetic llama in 3 safetensors shards with its index, tokenizer and generation config, plus decoys.
  const shardedDir = mkdtempSync(join(tmpdir(), 'kvserve-hub-sharded-'));
  cacheDirs.push(shardedDir);
  await writeSyntheticHfDir(shardedDir, {
    architecture: 'llama', hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 48, vocabSize: 260,
    numShards: 3, tokenizer: true, generationConfig: { bos_token_id: 1, eos_token_id: 2, temperature: 0.7 }, seed: 21,
  });
  const shardedFiles: Record<string, Buffer> = Object.fromEntries(readdirSync(shardedDir).map((f) => [f, readFileSync(join(shardedDir, f))]));
  for (const decoy of DECOYS) shardedFiles[decoy] = Buffer.alloc(decoy.endsWith('.md') || decoy.endsWith('.json') ? 64 : 4096, 7);
  hub = await startFakeHub({
    [TINY]: {
      files: Object.fromEntries(TINY_FILES.map((f) => [f, file(`${tiny}/${f}`)])),
    },
    [SHARDED]: { files: shardedFiles },
    [GGUFS]: {
      files: {
        'stories260K-F32.gguf': file('stories260K/stories260K.gguf'),
        'TinyStories-656K-Q8_0.gguf': file(`${tiny}/TinyStories-656K-Q8_0.gguf`),
        'big/model-Q4_K_M-00001-of-00002.gguf': Buffer.from('x'.repeat(2048)),
        'README.md': Buffer.from('# stories'),
      },
      revisions: { v1: { files: { 'nested/dir/stories-v1.gguf': file('stories260K/stories260K.gguf') } } },
    },
  });
});

after(async () => {
  await hub?.close();
  for (const dir of cacheDirs) rmSync(dir, { recursive: true, force: true });
});

test('downloads an HF model into the standard cache layout, only the needed files, and asks nothing again', async (t) => {
  if (!haveModels) return t.skip(`shared models missing in ${models}: ${missingModels.join(', ')}`);
  const e = env();
  const path = await resolveHubModel(req(TINY), opts(e));
  const repoDir = join(e.cacheDir, 'models--raincandy-u--TinyStories-656K');
  const commit = readFileSync(join(repoDir, 'refs', 'main'), 'utf8');
  assert.equal(commit, hub.commitOf(TINY));
  assert.equal(path, join(repoDir, 'snapshots', commit));
  const weights = join(path, 'model.safetensors');
  assert.ok(lstatSync(weights).isSymbolicLink());
  assert.equal(readlinkSync(weights), join('..', '..', 'blobs', readdirSync(join(repoDir, 'blobs')).find((b) => b.length === 64) as string));
  assert.deepEqual(readFileSync(weights), readFileSync(join(models, 'tinystories-656K', 'model.safetensors')));
  assert.deepEqual(readdirSync(path).sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
  assert.ok(readdirSync(join(repoDir, 'blobs')).every((b) => !b.endsWith('.incomplete')));
  // A second resolve: one API call, no HEAD and no download (every file is in the snapshot).
  const n = hub.requests.length;
  await resolveHubModel(req(TINY), opts(e));
  assert.deepEqual(hub.requests.slice(n).map((r) => r.method + ' ' + r.url), [`GET /api/models/${TINY}/revision/main`]);
});

test('a sharded checkpoint: only the side files present, the index and the shards it names are fetched, never the decoys', async () => {
  const e = env();
  const n = hub.requests.length;
  const path = await resolveHubModel(req(SHARDED), opts(e));
  const shards = ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors'];
  // No special_tokens_map.json or chat_template.jinja in this repo: only the side files it has.
  assert.deepEqual(readdirSync(path).sort(), ['config.json', 'generation_config.json', 'model.safetensors.index.json', ...shards, 'tokenizer.json', 'tokenizer_config.json'].sort());
  const asked = hub.requests.slice(n).map((r) => r.url);
  for (const decoy of DECOYS) assert.ok(!asked.some((u) => u.includes(encodeURI(decoy))), `${decoy} was requested`);
  // What was fetched is a loadable model: its index names the 3 shards and every tensor is found.
  const spec = await loadModelSpec(path);
  assert.equal(spec.files.length, 3);
  assert.equal(new Set(spec.tensors.map((x) => x.fileIndex)).size, 3);
  assert.equal(spec.config.numLayers, 2);
});

test('a quantization tag picks the matching GGUF file and nothing else is fetched; split GGUFs are refused before downloading', async (t) => {
  if (!haveModels) return t.skip(`shared models missing in ${models}: ${missingModels.join(', ')}`);
  const e = env();
  const path = await resolveHubModel(req(GGUFS, { quant: 'Q8_0' }), opts(e));
  assert.ok(path.endsWith('TinyStories-656K-Q8_0.gguf'));
  assert.deepEqual(readdirSync(join(path, '..')), ['TinyStories-656K-Q8_0.gguf']);
  await assert.rejects(resolveHubModel(req(GGUFS, { quant: 'Q6_K' }), opts(e)), /no GGUF file for quantization Q6_K; available: .*stories260K-F32.gguf/);
  const n = cdnRequests();
  await assert.rejects(resolveHubModel(req(GGUFS, { quant: 'Q4_K_M' }), opts(e)), /part of a 2-file split GGUF/);
  assert.equal(cdnRequests(), n);
});

test('a revision resolves to its own commit: refs/<branch> is written, a commit hash writes no ref, nested paths link back to the blob', async (t) => {
  if (!haveModels) return t.skip(`shared models missing in ${models}: ${missingModels.join(', ')}`);
  const e = env();
  const file = 'nested/dir/stories-v1.gguf';
  const path = await resolveHubModel(req(GGUFS, { revision: 'v1', file }), opts(e));
  const repoDir = join(e.cacheDir, 'models--ggml-org--stories-GGUF');
  const commit = hub.commitOf(GGUFS, 'v1');
  assert.equal(readFileSync(join(repoDir, 'refs', 'v1'), 'utf8'), commit);
  assert.equal(path, join(repoDir, 'snapshots', commit, file));
  assert.equal(readlinkSync(path), join('..', '..', '..', '..', 'blobs', readdirSync(join(repoDir, 'blobs'))[0] as string));
  assert.deepEqual(readFileSync(path), stories());
  const e2 = env();
  await resolveHubModel(req(GGUFS, { revision: commit, file }), opts(e2));
  assert.ok(!existsSync(join(e2.cacheDir, 'models--ggml-org--stories-GGUF', 'refs')));
  await assert.rejects(resolveHubModel(req(GGUFS, { revision: 'no-such-branch' }), opts(e2)), (err: unknown) => err instanceof KvserveError && err.code === 'ERR_HUB_NOT_FOUND' && /has no revision 'no-such-branch'/.test(err.message));
  await assert.rejects(resolveHubModel(req(GGUFS, { revision: '../../escape' }), opts(e2)), /revision: expected a branch, tag or commit hash/);
});

test('a dropped connection resumes with a range request within the same call', async (t) => {
  if (!haveModels) return t.skip(`shared models missing in ${models}: ${missingModels.join(', ')}`);
  hub.faults.dropAfterBytes = 300_000;
  hub.faults.dropTimes = 2;
  const warnings: string[] = [];
  const n = hub.requests.length;
  const path = await resolveHubModel(req(GGUFS, { file: 'stories260K-F32.gguf' }), opts(env(), { onWarning: (w) => warnings.push(w) }));
  assert.deepEqual(readFileSync(path), stories());
  // Each retry asks for the bytes after those on disk (at most the 300000 the server sent: a fetch
  // body stream may drop its last queued chunks when the connection fails).
  const starts = hub.requests.slice(n).filter((r) => r.url.startsWith('/cdn/')).map((r) => (r.range ? Number(/^bytes=(\d+)-$/.exec(r.range)?.[1]) : 0));
  assert.equal(starts.length, 3, JSON.stringify(starts));
  assert.equal(starts[0], 0);
  assert.ok((starts[1] as number) > 0 && (starts[1] as number) <= 300_000 && (starts[2] as number) > (starts[1] as number) && (starts[2] as number) <= (starts[1] as number) + 300_000, JSON.stringify(starts));
  assert.equal(warnings.length, 2);
  assert.match(warnings[0] as string, new RegExp(`connection lost at byte ${starts[1]} .*retrying in 0\\.0 s \\(attempt 2 of 6\\)`));
});

test('an interrupted download is kept as blobs/<etag>.incomplete and the next run resumes from it', async (t) => {
  if (!haveModels) return t.skip(`shared models missing in ${models}: ${missingModels.join(', ')}`);
  const e = env();
  hub.faults.dropAfterBytes = 400_000;
  const r = req(GGUFS, { file: 'stories260K-F32.gguf' });
  await assert.rejects(resolveHubModel(r, opts(e, { maxRetries: 0 })), /connection lost at byte \d+ .*run again to resume from the \d+ bytes kept/);
  const blobs = join(e.cacheDir, 'models--ggml-org--stories-GGUF', 'blobs');
  const [partial] = readdirSync(blobs);
  assert.match(partial as string, /^[0-9a-f]{64}\.incomplete$/);
  const kept = statSync(join(blobs, partial as string)).size;
  assert.ok(kept > 0 && kept <= 400_000, String(kept));
  const n = hub.requests.length;
  const path = await resolveHubModel(r, opts(e));
  assert.deepEqual(readFileSync(path), stories());
  assert.deepEqual(hub.requests.slice(n).filter((x) => x.url.startsWith('/cdn/')).map((x) => x.range), [`bytes=${kept}-`]);
});

test('server errors are retried; a corrupted blob is detected and removed', async (t) => {
  if (!haveModels) return t.skip(`shared models missing in ${models}: ${missingModels.join(', ')}`);
  hub.faults.serverErrors = 2;
  const path = await resolveHubModel(req(GGUFS, { file: 'stories260K-F32.gguf' }), opts(env()));
  assert.deepEqual(readFileSync(path), stories());
  const e = env();
  hub.faults.corrupt = true;
  try {
    await assert.rejects(resolveHubModel(req(GGUFS, { file: 'stories260K-F32.gguf' }), opts(e)), /checksum mismatch \(sha256 [0-9a-f]{64}, expected [0-9a-f]{64}\); the corrupted download was removed/);
  } finally {
    hub.faults.corrupt = false;
  }
  assert.deepEqual(readdirSync(join(e.cacheDir, 'models--ggml-org--stories-GGUF', 'blobs')), []);
  assert.ok(!existsSync(join(e.cacheDir, 'models--ggml-org--stories-GGUF', 'snapshots', hub.commitOf(GGUFS), 'stories260K-F32.gguf')));
});

test('without sizes from the server, files are still downloaded, checked and then reused', async (t) => {
  if (!haveModels) return t.skip(`shared models missing in ${models}: ${missingModels.join(', ')}`);
  const e = env();
  const progress: Array<number | null> = [];
  hub.faults.hideSizes = true;
  try {
    const path = await resolveHubModel(req(GGUFS, { file: 'stories260K-F32.gguf' }), opts(e, { onProgress: (p) => progress.push(p.totalBytes) }));
    assert.deepEqual(readFileSync(path), stories());
    assert.ok(progress.length > 0 && progress.every((total) => total === null));
    const n = cdnRequests();
    rmSync(path); // the snapshot link only: the blob is still there and is reused
    await resolveHubModel(req(GGUFS, { file: 'stories260K-F32.gguf' }), opts(e));
    assert.equal(cdnRequests(), n);
  } finally {
    hub.faults.hideSizes = false;
  }
});

test('concurrent resolves of one model download each blob once', async (t) => {
  if (!haveModels) return t.skip(`shared models missing in ${models}: ${missingModels.join(', ')}`);
  const e = env();
  const n = cdnRequests();
  const [a, b] = await Promise.all([resolveHubModel(req(TINY), opts(e)), resolveHubModel(req(TINY), opts(e))]);
  assert.equal(a, b);
  assert.equal(cdnRequests() - n, 2, 'model.safetensors and tokenizer.json are the LFS-sized files');
  assert.deepEqual(readdirSync(join(e.cacheDir, '.locks', 'models--raincandy-u--TinyStories-656K')), []);
});

test('offline mode uses the cache without a request and fails clearly without it', async (t) => {
  if (!haveModels) return t.skip(`shared models missing in ${models}: ${missingModels.join(', ')}`);
  const e = env();
  await resolveHubModel(req(TINY), opts(e));
  const n = hub.requests.length;
  const path = await resolveHubModel(req(TINY), opts({ ...e, offline: true }));
  assert.ok(existsSync(join(path, 'config.json')));
  assert.equal(hub.requests.length, n, 'offline mode made a request');
  await assert.rejects(resolveHubModel(req('nobody/absent'), opts({ ...e, offline: true })), (err: unknown) =>
    err instanceof KvserveError && err.code === 'ERR_HUB_OFFLINE' && /not in the cache .*kvserve download nobody\/absent/.test(err.message));
  // A snapshot missing a file it needs is reported as such.
  rmSync(join(path, 'tokenizer.json'));
  writeFileSync(join(path, 'model.safetensors.partial'), '');
  rmSync(join(path, 'model.safetensors'));
  await assert.rejects(resolveHubModel(req(TINY), opts({ ...e, offline: true })), /offline and the cached snapshot [0-9a-f]{40} is incomplete/);
});

test('without network a cached model is used (with a warning); an uncached one names HF_HUB_OFFLINE', async (t) => {
  if (!haveModels) return t.skip(`shared models missing in ${models}: ${missingModels.join(', ')}`);
  const e = env();
  const path = await resolveHubModel(req(TINY), opts(e));
  const warnings: string[] = [];
  const down = { ...e, endpoint: 'http://127.0.0.1:9' };
  assert.equal(await resolveHubModel(req(TINY), opts(down, { onWarning: (w) => warnings.push(w) })), path);
  assert.match(warnings.join('\n'), /cannot reach http:\/\/127.0.0.1:9 .*using the cached copy/);
  await assert.rejects(resolveHubModel(req(GGUFS, { file: 'stories260K-F32.gguf' }), opts(down)), (err: unknown) =>
    err instanceof KvserveError && err.code === 'ERR_HUB_UNREACHABLE' && /set HF_HUB_OFFLINE=1/.test(err.message));
});

test('401 for private and gated models mentions HF_TOKEN, 404 says no such model or file, a renamed repo is followed', async () => {
  const e = env();
  const repos = await startFakeHub({
    'acme/private-model': { files: { 'model.gguf': Buffer.alloc(2048, 1) }, private: true },
    'acme/gated-model': { files: { 'model.gguf': Buffer.alloc(2048, 2) }, gated: true },
    'acme/new-name': { files: { 'model.gguf': Buffer.alloc(2048, 3) }, formerId: 'acme/old-name' },
  });
  try {
    const o = opts({ ...e, endpoint: repos.url });
    await assert.rejects(resolveHubModel(req('acme/private-model'), o), (err: unknown) =>
      err instanceof KvserveError && err.code === 'ERR_HUB_ACCESS_DENIED' && /HTTP 401.*private or gated, or does not exist.*set HF_TOKEN/.test(err.message));
    await assert.rejects(resolveHubModel(req('acme/gated-model'), o), (err: unknown) =>
      err instanceof KvserveError && /model is gated\. Accept its conditions at http:\/\/127\.0\.0\.1:\d+\/acme\/gated-model, then set HF_TOKEN/.test(err.message));
    await assert.rejects(resolveHubModel(req('nobody/absent'), o), (err: unknown) =>
      err instanceof KvserveError && err.code === 'ERR_HUB_NOT_FOUND' && /not found \(HTTP 404\): no such model on/.test(err.message));
    await assert.rejects(resolveHubModel(req('acme/new-name', { file: 'absent.gguf' }), o), /no GGUF file named absent.gguf; available: model.gguf/);
    // With the token both download; the token is sent to the hub.
    const withToken = opts({ ...e, endpoint: repos.url, token: repos.token });
    assert.deepEqual(readFileSync(await resolveHubModel(req('acme/private-model'), withToken)), Buffer.alloc(2048, 1));
    assert.deepEqual(readFileSync(await resolveHubModel(req('acme/gated-model'), withToken)), Buffer.alloc(2048, 2));
    assert.ok(repos.requests.some((r) => r.url.includes("gated") && r.authorization === `Bearer ${repos.token}`));
    // The old name of a renamed repo: the hub's relative redirects are followed (also for the file metadata).
    assert.deepEqual(readFileSync(await resolveHubModel(req('acme/old-name', { file: 'model.gguf' }), o)), Buffer.alloc(2048, 3));
  } finally {
    await repos.close();
  }
});
