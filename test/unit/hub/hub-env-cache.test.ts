// Hub settings from the environment (as huggingface_hub reads them), model references, the cache's
// refs and links, and the download lock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hubEnv } from '../../../lib/model/hub/hub-env.js';
import { isValidRepoId, parseModelRef, pickGgufForQuant } from '../../../lib/model/hub/model-ref.js';
import { cachedCommit, linkSnapshotFile, snapshotFiles, writeRef } from '../../../lib/model/hub/hub-cache.js';
import { withFileLock } from '../../../lib/model/hub/file-lock.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

test('hub settings: HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN (else the saved token), HF_HUB_OFFLINE, empty values unset', (t) => {
  const home = tmpDir(t);
  const base = hubEnv({ HF_HOME: home });
  assert.equal(base.cacheDir, join(home, 'hub'));
  assert.equal(base.endpoint, 'https://huggingface.co');
  assert.equal(base.token, null);
  assert.equal(base.offline, false);
  assert.equal(hubEnv({ XDG_CACHE_HOME: '/x' }).cacheDir.startsWith('/x/huggingface/hub'), true);
  writeFileSync(join(home, 'token'), 'hf_saved\n');
  assert.equal(hubEnv({ HF_HOME: home }).token, 'hf_saved');
  assert.equal(hubEnv({ HF_HOME: home, HF_TOKEN: 'hf_env' }).token, 'hf_env');
  assert.equal(hubEnv({ HF_HOME: home, HF_TOKEN: '' }).token, 'hf_saved', 'an empty HF_TOKEN counts as unset');
  const e = hubEnv({ HF_HOME: home, HF_HUB_CACHE: '/c', HF_ENDPOINT: 'https://mirror.example/', HF_HUB_OFFLINE: 'ON', HF_HUB_ETAG_TIMEOUT: '3' });
  assert.deepEqual([e.cacheDir, e.endpoint, e.offline, e.etagTimeoutS, e.downloadTimeoutS], ['/c', 'https://mirror.example', true, 3, 10]);
  assert.equal(hubEnv({ TRANSFORMERS_OFFLINE: '1' }).offline, true);
  assert.equal(hubEnv({ HF_HUB_OFFLINE: '0' }).offline, false);
});

test('model references: local paths, hub ids, files and quantization tags', () => {
  assert.deepEqual(parseModelRef('org/name'), { kind: 'hub', repoId: 'org/name', file: null, quant: null, revision: 'main' });
  assert.deepEqual(parseModelRef('org/name:model-q8_0.gguf', 'v1'), { kind: 'hub', repoId: 'org/name', file: 'model-q8_0.gguf', quant: null, revision: 'v1' });
  assert.deepEqual(parseModelRef('org/name:Q4_K_M'), { kind: 'hub', repoId: 'org/name', file: null, quant: 'Q4_K_M', revision: 'main' });
  for (const local of ['./models/x.gguf', '/abs/path', 'a/b/c', 'org--x/name', 'org/na..me', '-org/name', 'org/name-']) {
    assert.equal(parseModelRef(local).kind, 'local', local);
  }
  assert.ok(isValidRepoId('Qwen/Qwen2.5-0.5B-Instruct-GGUF'));
  assert.ok(!isValidRepoId(`org/${'x'.repeat(96)}`));
  assert.equal(pickGgufForQuant(['a-Q4_K_M.gguf', 'a-Q4_K_S.gguf', 'a-Q8_0.gguf'], 'q4_k_m'), 'a-Q4_K_M.gguf');
  assert.equal(pickGgufForQuant(['qwen2.5-0.5b-instruct-q8_0.gguf', 'qwen2.5-0.5b-instruct-fp16.gguf'], 'Q8_0'), 'qwen2.5-0.5b-instruct-q8_0.gguf');
  assert.equal(pickGgufForQuant(['a-Q4_K_M.gguf'], 'Q4_K'), null);
  assert.equal(pickGgufForQuant(['m-Q4_0-00001-of-00002.gguf', 'm-Q4_0.gguf'], 'Q4_0'), 'm-Q4_0.gguf');
});

test('refs: written atomically for branches and tags ("refs/pr/1" nests), never for commits; snapshot listing skips dangling links', (t) => {
  const repo = tmpDir(t);
  const commit = 'a'.repeat(40);
  writeRef(repo, 'main', commit);
  writeRef(repo, 'refs/pr/1', commit);
  writeRef(repo, commit, commit);
  assert.equal(readFileSync(join(repo, 'refs', 'main'), 'utf8'), commit);
  assert.equal(readFileSync(join(repo, 'refs', 'refs', 'pr', '1'), 'utf8'), commit);
  assert.deepEqual(readdirSync(join(repo, 'refs')).sort(), ['main', 'refs']);
  assert.equal(cachedCommit(repo, 'main'), commit);
  assert.equal(cachedCommit(repo, commit), null, 'no snapshot for it yet');
  mkdirSync(join(repo, 'blobs'));
  writeFileSync(join(repo, 'blobs', 'e1'), 'x');
  linkSnapshotFile(repo, commit, 'sub/file.json', 'e1');
  linkSnapshotFile(repo, commit, 'gone.json', 'e2'); // its blob does not exist
  assert.equal(cachedCommit(repo, commit), commit);
  assert.equal(readFileSync(join(repo, 'snapshots', commit, 'sub', 'file.json'), 'utf8'), 'x');
  assert.deepEqual(snapshotFiles(join(repo, 'snapshots', commit)), [join('sub', 'file.json')]);
});

test('the download lock serialises holders and takes over a lock whose process died', async (t) => {
  const dir = tmpDir(t);
  const lock = join(dir, 'locks', 'blob.kvserve.lock');
  const order: string[] = [];
  const waits: string[] = [];
  const hold = (name: string) =>
    withFileLock(lock, async () => {
      order.push(`${name}+`);
      await sleep(30);
      order.push(`${name}-`);
    }, { pollMs: 5, onWait: (owner) => waits.push(owner) });
  await Promise.all([hold('a'), hold('b')]);
  assert.deepEqual(order, ['a+', 'a-', 'b+', 'b-']);
  assert.deepEqual(waits, [`pid ${process.pid} on ${hostname()}`]);
  assert.ok(!existsSync(lock));
  // A lock left by a process that is gone.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  writeFileSync(lock, JSON.stringify({ pid: Number(dead.stdout), host: hostname() }));
  assert.equal(await withFileLock(lock, async () => 'taken over', { pollMs: 5 }), 'taken over');
  assert.ok(!existsSync(lock));
});
