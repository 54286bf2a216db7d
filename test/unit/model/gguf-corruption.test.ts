// Corrupt, truncated and hostile GGUF files: each must give a KvserveError whose message names the
// file and the problem, never another exception type and never a huge allocation.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { KvserveError } from '../../../lib/errors.js';
import {
  DType,
  GgufValueType,
  ggufString,
  ggufStringArray,
  ggufU32,
  readGgufSync,
  writeGguf,
  writeSyntheticGguf,
  type GgufArrayValue,
} from '../../../lib/model/index.js';
import { expectModelError } from '../../helpers/model-errors.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

interface Fixture {
  dir: string;
  path: string;
  bytes: Buffer;
  /** End of the last tensor's data: any shorter file is truncated. */
  lastEnd: number;
  /** Offset just past the tensor infos. */
  headerEnd: number;
}

async function smallGguf(t: TestContext): Promise<Fixture> {
  const dir = tmpDir(t);
  const path = join(dir, 'small.gguf');
  await writeGguf(path, {
    metadata: [
      ['general.architecture', ggufString('llama')],
      ['list', ggufStringArray(['a', 'bb'])],
      ['count', ggufU32(7)],
      ['flag', { type: GgufValueType.BOOL, value: true }],
    ],
    tensors: [
      { name: 'tensor.a', ne: [8, 2], dtype: DType.F32, data: new Float32Array(16).fill(1) },
      { name: 'tensor.b', ne: [32], dtype: DType.Q8_0, data: new Float32Array(32).fill(0.5) },
    ],
  });
  const g = readGgufSync(path);
  const last = g.tensors[g.tensors.length - 1]!;
  return { dir, path, bytes: readFileSync(path), lastEnd: last.offset + last.byteLength, headerEnd: g.dataOffset };
}

/** Writes a mutated copy and returns its path. */
function variant(fx: Fixture, name: string, mutate: (b: Buffer) => Buffer | void): string {
  const copy = Buffer.from(fx.bytes);
  const out = mutate(copy) ?? copy;
  const path = join(fx.dir, `${name}.gguf`);
  writeFileSync(path, out);
  return path;
}

/** Offset of a length-prefixed string in the header. */
function stringAt(bytes: Buffer, s: string): number {
  const needle = Buffer.alloc(8 + Buffer.byteLength(s));
  needle.writeBigUInt64LE(BigInt(Buffer.byteLength(s)), 0);
  needle.write(s, 8);
  const at = bytes.indexOf(needle);
  assert.ok(at >= 0, `string '${s}' not found`);
  return at;
}

/** Offsets of a tensor info's fields. */
function tensorInfo(bytes: Buffer, name: string): { nDims: number; ne: number; type: number; offset: number } {
  const nDims = stringAt(bytes, name) + 8 + name.length;
  const n = bytes.readUInt32LE(nDims);
  return { nDims, ne: nDims + 4, type: nDims + 4 + 8 * n, offset: nDims + 8 + 8 * n };
}

test('wrong magic, unsupported versions, big-endian', async (t) => {
  const fx = await smallGguf(t);
  const magic = variant(fx, 'magic', (b) => void b.write('GGML', 0));
  expectModelError(() => readGgufSync(magic), 'ERR_MODEL_FORMAT', magic, 'not a GGUF file');
  for (const version of [0, 1, 4, 99]) {
    const path = variant(fx, `v${version}`, (b) => void b.writeUInt32LE(version, 4));
    expectModelError(() => readGgufSync(path), 'ERR_MODEL_UNSUPPORTED', path, `version ${version}`);
  }
  const be = variant(fx, 'be', (b) => void b.writeUInt32BE(3, 4));
  expectModelError(() => readGgufSync(be), 'ERR_MODEL_UNSUPPORTED', be, 'big-endian');
});

test('absurd counts and lengths are rejected before any allocation', async (t) => {
  const fx = await smallGguf(t);
  const cases: [string, (b: Buffer) => void, string][] = [
    ['n-tensors', (b) => void b.writeBigUInt64LE(1n << 40n, 8), 'tensor count'],
    ['n-kv', (b) => void b.writeBigUInt64LE(1n << 40n, 16), 'metadata count'],
    ['n-tensors-u64max', (b) => void b.writeBigUInt64LE(2n ** 64n - 1n, 8), 'too large'],
    ['key-length', (b) => void b.writeBigUInt64LE(1n << 40n, 24), 'string length'],
    ['value-string-length', (b) => void b.writeBigUInt64LE(1n << 33n, stringAt(b, 'bb')), 'string length'],
    ['array-count', (b) => void b.writeBigUInt64LE(1n << 40n, stringAt(b, 'a') - 8), 'array of'],
    ['value-type', (b) => void b.writeUInt32LE(13, stringAt(b, 'count') + 13), 'unknown value type 13'],
    ['array-item-type', (b) => void b.writeUInt32LE(42, stringAt(b, 'a') - 12), 'unknown array item type 42'],
    ['bool-byte', (b) => void b.writeUInt8(2, stringAt(b, 'flag') + 12 + 4), 'invalid bool'],
  ];
  for (const [name, mutate, fragment] of cases) {
    const path = variant(fx, name, mutate);
    expectModelError(() => readGgufSync(path), 'ERR_MODEL_FORMAT', path, fragment);
  }
});

test('bad tensor infos: dims, overflow, type, alignment, extent', async (t) => {
  const fx = await smallGguf(t);
  const a = tensorInfo(fx.bytes, 'tensor.a');
  const b = tensorInfo(fx.bytes, 'tensor.b');
  const cases: [string, (buf: Buffer) => void, string][] = [
    ['ndims-0', (buf) => void buf.writeUInt32LE(0, a.nDims), 'has 0 dimensions'],
    ['ndims-5', (buf) => void buf.writeUInt32LE(5, a.nDims), 'has 5 dimensions'],
    ['dim-0', (buf) => void buf.writeBigUInt64LE(0n, a.ne + 8), 'dimension 1 of size 0'],
    ['dim-absurd', (buf) => {
      buf.writeBigUInt64LE(1n << 31n, a.ne);
      buf.writeBigUInt64LE(1n << 31n, a.ne + 8);
    }, 'too large'],
    ['dim-over-2^53', (buf) => void buf.writeBigUInt64LE(2n ** 63n, a.ne), 'too large'],
    ['unknown-type', (buf) => void buf.writeUInt32LE(77, a.type), 'unknown ggml type 77'],
    ['removed-type', (buf) => void buf.writeUInt32LE(4, a.type), 'unknown ggml type 4'],
    ['block-rows', (buf) => void buf.writeBigUInt64LE(16n, b.ne), 'not a multiple of the Q8_0 block size 32'],
    ['misaligned', (buf) => void buf.writeBigUInt64LE(buf.readBigUInt64LE(b.offset) + 4n, b.offset), 'not a multiple of the alignment 32'],
    ['past-end', (buf) => void buf.writeBigUInt64LE(1n << 20n, b.offset), 'extends past end of file'],
    ['dup-name', (buf) => void buf.write('tensor.a', b.nDims - 8), "duplicate tensor name 'tensor.a'"],
  ];
  for (const [name, mutate, fragment] of cases) {
    const path = variant(fx, name, mutate);
    expectModelError(() => readGgufSync(path), 'ERR_MODEL_FORMAT', path, 'tensor', fragment);
  }
  // The past-end message gives the tensor's extent and the file size.
  const past = variant(fx, 'past-end-2', (buf) => void buf.writeBigUInt64LE(1n << 20n, b.offset));
  expectModelError(
    () => readGgufSync(past),
    'ERR_MODEL_FORMAT',
    past,
    `tensor 'tensor.b' data [offset ${fx.headerEnd + (1 << 20)}, 34 bytes] extends past end of file (${fx.bytes.length} bytes)`,
  );
});

test('duplicate keys, bad alignment values, nesting too deep', async (t) => {
  const dir = tmpDir(t);
  const fx = await smallGguf(t);
  // Rename the key 'flag' to 'list', which already exists.
  const dup = variant(fx, 'dup-key', (buf) => void buf.write('list', stringAt(buf, 'flag') + 8));
  expectModelError(() => readGgufSync(dup), 'ERR_MODEL_FORMAT', dup, "duplicate metadata key 'list'");

  for (const [name, value] of [
    ['three', ggufU32(3)],
    ['zero', ggufU32(0)],
    ['string', ggufString('32')],
  ] as const) {
    const path = join(dir, `align-${name}.gguf`);
    await writeGguf(path, { metadata: [['general.alignment', value]], tensors: [] });
    expectModelError(() => readGgufSync(path), 'ERR_MODEL_FORMAT', path, 'general.alignment');
  }

  let deep: GgufArrayValue = { type: GgufValueType.ARRAY, itemType: GgufValueType.UINT8, value: new Uint8Array(1) };
  for (let i = 0; i < 9; i++) deep = { type: GgufValueType.ARRAY, itemType: GgufValueType.ARRAY, value: [deep] };
  const deepPath = join(dir, 'deep.gguf');
  await writeGguf(deepPath, { metadata: [['deep', deep]], tensors: [] });
  expectModelError(() => readGgufSync(deepPath), 'ERR_MODEL_FORMAT', deepPath, 'nested');
});

test('truncation at every header byte and every 1/16 of a model file', async (t) => {
  const fx = await smallGguf(t);
  for (let cut = 0; cut < fx.lastEnd; cut++) {
    const path = variant(fx, `cut-${cut}`, (b) => b.subarray(0, cut));
    expectModelError(() => readGgufSync(path), 'ERR_MODEL_FORMAT', path);
  }
  const model = join(fx.dir, 'model.gguf');
  await writeSyntheticGguf(model, {
    architecture: 'llama',
    hiddenSize: 64,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    intermediateSize: 96,
    vocabSize: 300,
    dtype: DType.Q8_0,
  });
  const bytes = readFileSync(model);
  const g = readGgufSync(model);
  const last = Math.max(...g.tensors.map((x) => x.offset + x.byteLength));
  for (let i = 0; i < 16; i++) {
    const cut = Math.floor((bytes.length * i) / 16);
    if (cut >= last) continue;
    const path = join(fx.dir, `model-cut-${i}.gguf`);
    writeFileSync(path, bytes.subarray(0, cut));
    const err = expectModelError(() => readGgufSync(path), 'ERR_MODEL_FORMAT', path);
    assert.match(err.message, /truncated|extends past end of file/);
  }
});

test('random header corruption never escapes as anything but a KvserveError', async (t) => {
  const fx = await smallGguf(t);
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  let failures = 0;
  for (let i = 0; i < 400; i++) {
    const path = variant(fx, `fuzz-${i}`, (b) => {
      for (let k = 0; k <= rand(4); k++) b[rand(fx.headerEnd)] = rand(256);
    });
    try {
      readGgufSync(path);
    } catch (error) {
      failures++;
      assert.ok(error instanceof KvserveError, `fuzz ${i}: ${String(error)}`);
      assert.ok(error.message.includes(`fuzz-${i}.gguf`), error.message);
    }
  }
  assert.ok(failures > 100, `most random corruptions should be caught (${failures}/400)`);
});

test('missing file and directories', async (t) => {
  const dir = tmpDir(t);
  const missing = join(dir, 'nope.gguf');
  expectModelError(() => readGgufSync(missing), 'ERR_MODEL_NOT_FOUND', missing);
  expectModelError(() => readGgufSync(dir), 'ERR_MODEL_FORMAT', dir);
});
