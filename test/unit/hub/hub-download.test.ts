import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveHubModel } from '../../../lib/model/hub/resolve-hub-model.js';
import { hubEnv, type HubEnv } from '../../../lib/model/hub/hub-env.js';
import { parseModelRef, pickGgufForQuant } from '../../../lib/model/hub/model-ref.js';
import { KvserveError } from '../../../lib/errors.js';
import { startFakeHub, type FakeHub } from '../../helpers/fake-hub.js';
import { sharedModelsDir } from '../../../lib/config.js';

const models = sharedModelsDir();
const haveModels = existsSync(join(models, 'tinystories-656K', 'config.json'));
let hub: FakeHub;
let cacheDir: string;

function env(extra: Partial<HubEnv> = {}): HubEnv {
  return { ...hubEnv({}), endpoint: hub.url, cacheDir, token: null, offline: false, ...extra };
}

before(async () => {
  if (!haveModels && process.env.CI === 'true') throw new Error(`models missing in ${models}`);
  const file = (p: string) => (haveModels ? readFileSync(join(models, p)) : Buffer.from('x'.repeat(4096)));
  const tiny = 'tinystories-656K';
  hub = await startFakeHub({
    'raincandy-u/TinyStories-656K': {
      files: Object.fromEntries(
        ['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']
          .map((f) => [f, file(`${tiny}/${f}`)]),
      ),
    },
    'ggml-org/stories-GGUF': {
      files: {
        'stories260K-F32.gguf': file('stories260K/stories260K.gguf'),
        'TinyStories-656K-Q8_0.gguf': file(`${tiny}/TinyStories-656K-Q8_0.gguf`),
        'README.md': Buffer.from('# stories'),
      },
    },
    'acme/gated-model': { files: { 'config.json': Buffer.from('{}') }, gated: true },
  });
  cacheDir = mkdtempSync(join(tmpdir(), 'kvserve-hub-'));
});

after(async () => {
  await hub?.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

test('model references: local paths, hub ids, files and quantization tags', () => {
  assert.deepEqual(parseModelRef('org/name'), { kind: 'hub', repoId: 'org/name', file: null, quant: null, revision: 'main' });
  assert.deepEqual(parseModelRef('org/name:model-q8_0.gguf', 'v1'), { kind: 'hub', repoId: 'org/name', file: 'model-q8_0.gguf', quant: null, revision: 'v1' });
  assert.equal(parseModelRef('org/name:Q4_K_M').kind, 'hub');
  assert.equal(parseModelRef('./models/x.gguf').kind, 'local');
  assert.equal(parseModelRef('/abs/path').kind, 'local');
  assert.equal(pickGgufForQuant(['a-Q4_K_M.gguf', 'a-Q4_K_S.gguf', 'a-Q8_0.gguf'], 'q4_k_m'), 'a-Q4_K_M.gguf');
  assert.equal(pickGgufForQuant(['a-Q4_K_M.gguf'], 'Q4_K'), null);
});

test('downloads an HF model into the standard cache layout, only the needed files', async (t) => {
  if (!haveModels) return t.skip('shared models missing');
  const path = await resolveHubModel({ repoId: 'raincandy-u/TinyStories-656K', revision: 'main', file: null, quant: null }, { env: env() });
  const repoDir = join(cacheDir, 'models--raincandy-u--TinyStories-656K');
  const commit = readFileSync(join(repoDir, 'refs', 'main'), 'utf8');
  assert.equal(path, join(repoDir, 'snapshots', commit));
  assert.ok(lstatSync(join(path, 'model.safetensors')).isSymbolicLink());
  assert.deepEqual(readFileSync(join(path, 'model.safetensors')), readFileSync(join(models, 'tinystories-656K', 'model.safetensors')));
  assert.ok(readdirSync(join(repoDir, 'blobs')).every((b) => !b.endsWith('.incomplete')));
  // A second resolve downloads nothing new.
  const before = hub.requests.filter((r) => r.url.startsWith('/cdn/')).length;
  await resolveHubModel({ repoId: 'raincandy-u/TinyStories-656K', revision: 'main', file: null, quant: null }, { env: env() });
  assert.equal(hub.requests.filter((r) => r.url.startsWith('/cdn/')).length, before);
});

test('a quantization tag picks the matching GGUF file, and nothing else is fetched', async (t) => {
  if (!haveModels) return t.skip('shared models missing');
  const path = await resolveHubModel({ repoId: 'ggml-org/stories-GGUF', revision: 'main', file: null, quant: 'Q8_0' }, { env: env() });
  assert.ok(path.endsWith('TinyStories-656K-Q8_0.gguf'));
  assert.ok(!existsSync(path.replace('TinyStories-656K-Q8_0.gguf', 'stories260K-F32.gguf')));
  await assert.rejects(
    resolveHubModel({ repoId: 'ggml-org/stories-GGUF', revision: 'main', file: null, quant: 'Q4_K_M' }, { env: env() }),
    /no GGUF file for quantization Q4_K_M; available: stories260K-F32.gguf, TinyStories-656K-Q8_0.gguf/,
  );
});

test('a dropped connection resumes with a range request', async (t) => {
  if (!haveModels) return t.skip('shared models missing');
  const e = env({ cacheDir: mkdtempSync(join(tmpdir(), 'kvserve-hub-resume-')) });
  hub.faults.dropAfterBytes = 300_000;
  const req = { repoId: 'ggml-org/stories-GGUF', revision: 'main', file: 'stories260K-F32.gguf', quant: null };
  await assert.rejects(resolveHubModel(req, { env: e }));
  const path = await resolveHubModel(req, { env: e });
  assert.deepEqual(readFileSync(path), readFileSync(join(models, 'stories260K', 'stories260K.gguf')));
  assert.ok(hub.requests.some((r) => r.range?.startsWith('bytes=') && r.range !== 'bytes=0-'), `expected a resumed range request: ${JSON.stringify(hub.requests.filter((r) => r.range))}`);
  rmSync(e.cacheDir, { recursive: true, force: true });
});

test('a corrupted blob is detected and removed', async (t) => {
  if (!haveModels) return t.skip('shared models missing');
  const e = env({ cacheDir: mkdtempSync(join(tmpdir(), 'kvserve-hub-corrupt-')) });
  hub.faults.corrupt = true;
  try {
    await assert.rejects(
      resolveHubModel({ repoId: 'ggml-org/stories-GGUF', revision: 'main', file: 'stories260K-F32.gguf', quant: null }, { env: e }),
      /checksum mismatch/,
    );
  } finally {
    hub.faults.corrupt = false;
  }
  const blobs = join(e.cacheDir, 'models--ggml-org--stories-GGUF', 'blobs');
  assert.deepEqual(readdirSync(blobs), []);
  rmSync(e.cacheDir, { recursive: true, force: true });
});

test('offline mode uses the cache and fails clearly without it', async (t) => {
  if (!haveModels) return t.skip('shared models missing');
  await resolveHubModel({ repoId: 'raincandy-u/TinyStories-656K', revision: 'main', file: null, quant: null }, { env: env() });
  const n = hub.requests.length;
  const path = await resolveHubModel({ repoId: 'raincandy-u/TinyStories-656K', revision: 'main', file: null, quant: null }, { env: env({ offline: true }) });
  assert.ok(existsSync(join(path, 'config.json')));
  assert.equal(hub.requests.length, n, 'offline mode made a request');
  await assert.rejects(
    resolveHubModel({ repoId: 'nobody/absent', revision: 'main', file: null, quant: null }, { env: env({ offline: true }) }),
    /HF_HUB_OFFLINE is set and the model is not in the cache/,
  );
});

test('401 mentions HF_TOKEN, 404 says no such model, no network mentions HF_HUB_OFFLINE', async () => {
  const gated = { repoId: 'acme/gated-model', revision: 'main', file: null, quant: null };
  await assert.rejects(resolveHubModel(gated, { env: env() }), (err: unknown) => err instanceof KvserveError && /HTTP 401/.test(err.message) && /HF_TOKEN/.test(err.message));
  await assert.rejects(resolveHubModel({ ...gated, repoId: 'nobody/absent' }, { env: env() }), /not found \(HTTP 404\)/);
  await assert.rejects(resolveHubModel(gated, { env: env({ endpoint: 'http://127.0.0.1:9' }) }), /HF_HUB_OFFLINE=1/);
  // With the token the gated repo resolves (it has only a config.json, so model selection fails past auth).
  await assert.rejects(resolveHubModel(gated, { env: env({ token: hub.token }) }), /no model.safetensors/);
});
