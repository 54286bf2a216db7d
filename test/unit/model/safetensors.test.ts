// safetensors reader/writer: the real tinystories file, round trips, and corrupt headers.
import assert from 'node:assert/strict';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { KvserveError } from '../../../lib/errors.js';
import {
  DType,
  quant,
  readSafetensorsIndex,
  readSafetensorsSync,
  writeSafetensors,
} from '../../../lib/model/index.js';
import { MODELS, modelPath } from '../../helpers/models.js';
import { expectModelError } from '../../helpers/model-errors.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

/** A safetensors file from a header (object or raw text) and `dataBytes` bytes of data. */
function build(header: unknown, dataBytes: number, declaredLength?: bigint): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const out = Buffer.alloc(8 + json.length + dataBytes);
  out.writeBigUInt64LE(declaredLength ?? BigInt(json.length), 0);
  json.copy(out, 8);
  return out;
}

test('tinystories model.safetensors: header, metadata, offsets', async (t) => {
  const dir = modelPath(t, MODELS.tinystoriesHfDir);
  if (dir === null) return;
  const st = readSafetensorsSync(join(dir, 'model.safetensors'));
  assert.equal(st.headerLength, 2160);
  assert.equal(st.dataOffset, 2168);
  assert.deepEqual(st.metadata, { format: 'pt', 'model.embed_tokens.weight': 'lm_head.weight' });
  assert.equal(st.tensors.length, 20);
  const head = st.tensors.find((x) => x.name === 'lm_head.weight')!;
  assert.deepEqual([head.dtype, head.dtypeName, head.shape, head.offset, head.byteLength], [DType.F32, 'F32', [2048, 128], 2168, 1048576]);
  const last = Math.max(...st.tensors.map((x) => x.offset + x.byteLength));
  assert.equal(last, st.fileSize, 'tensors fill the file exactly');
});

test('writer -> reader round trip: F32/F16/BF16, odd and scalar shapes, metadata', async (t) => {
  const path = join(tmpDir(t), 'rt.safetensors');
  const values = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.cos(i) * (i % 5));
  const tensors = [
    { name: 'a.f32', dtype: DType.F32 as const, shape: [3, 172], data: values(516) },
    { name: 'b.f16', dtype: DType.F16 as const, shape: [172, 3], data: values(516) },
    { name: 'c.bf16', dtype: DType.BF16 as const, shape: [5], data: values(5) },
    { name: 'scalar', dtype: DType.F32 as const, shape: [], data: Float32Array.of(42) },
    { name: 'raw', dtype: DType.F16 as const, shape: [2], data: Uint8Array.of(0x00, 0x3c, 0x00, 0xc0) },
  ];
  await writeSafetensors(path, tensors, { format: 'pt', note: 'ünïcode' });
  const st = readSafetensorsSync(path);
  const bytes = readFileSync(path);
  assert.equal(st.dataOffset % 8, 0, 'header padded to 8 bytes');
  assert.deepEqual(st.metadata, { format: 'pt', note: 'ünïcode' });
  assert.deepEqual(st.tensors.map((x) => x.name), tensors.map((x) => x.name));
  tensors.forEach((tensor, i) => {
    const info = st.tensors[i]!;
    assert.deepEqual(info.shape, tensor.shape);
    assert.equal(info.dtype, tensor.dtype);
    const stored = new Uint8Array(bytes.subarray(info.offset, info.offset + info.byteLength));
    const expected = tensor.data instanceof Float32Array ? quant.quantize(tensor.dtype, tensor.data) : tensor.data;
    assert.deepEqual(stored, expected, tensor.name);
  });
  assert.deepEqual(quant.dequantize(DType.F16, bytes.subarray(st.tensors[4]!.offset), 2), Float32Array.of(1, -2));

  await assert.rejects(
    writeSafetensors(join(tmpDir(t), 'bad.safetensors'), [{ name: 'q', dtype: DType.Q8_0 as DType.F32, shape: [32], data: new Float32Array(32) }]),
    (e: unknown) => e instanceof KvserveError && e.code === 'ERR_INVALID_ARGUMENT',
  );
});

test('corrupt headers: lengths, JSON, dtypes, shapes, offsets', async (t) => {
  const dir = tmpDir(t);
  const ok = { __metadata__: { format: 'pt' }, w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] } };
  const cases: [string, Buffer, 'ERR_MODEL_FORMAT' | 'ERR_MODEL_UNSUPPORTED', string][] = [
    ['short', Buffer.from([1, 2, 3]), 'ERR_MODEL_FORMAT', 'truncated'],
    ['huge-length', build(ok, 24, 1n << 40n), 'ERR_MODEL_FORMAT', 'header length 1099511627776 exceeds'],
    ['u64-length', build(ok, 24, 2n ** 64n - 1n), 'ERR_MODEL_FORMAT', 'too large'],
    ['bad-json', build('{"w": {"dtype": "F32",', 24), 'ERR_MODEL_FORMAT', 'not valid JSON'],
    ['array-json', build('[1,2,3]', 0), 'ERR_MODEL_FORMAT', 'must be a JSON object'],
    ['bad-utf8', Buffer.from([7, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), 'ERR_MODEL_FORMAT', 'invalid UTF-8'],
    ['inconsistent', build({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, 24), 'ERR_MODEL_FORMAT', "tensor 'w': shape [2, 3] of F32 needs 24 bytes but data_offsets [0, 20] hold 20"],
    ['past-end', build({ w: { dtype: 'F16', shape: [8], data_offsets: [8, 24] } }, 20), 'ERR_MODEL_FORMAT', 'extends past end of file'],
    ['reversed', build({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, 8), 'ERR_MODEL_FORMAT', 'end before they begin'],
    ['offsets-type', build({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, 4), 'ERR_MODEL_FORMAT', 'data_offsets must be'],
    ['offsets-negative', build({ w: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, 4), 'ERR_MODEL_FORMAT', 'data_offsets must be'],
    ['shape', build({ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, 8), 'ERR_MODEL_FORMAT', 'shape must be'],
    ['shape-float', build({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, 4), 'ERR_MODEL_FORMAT', 'shape must be'],
    ['overflow', build({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, 4), 'ERR_MODEL_FORMAT', 'needs'],
    ['dtype-i64', build({ w: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8), 'ERR_MODEL_UNSUPPORTED', "tensor 'w' has dtype I64"],
    ['dtype-fp8', build({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1), 'ERR_MODEL_UNSUPPORTED', 'F8_E4M3'],
    ['dtype-missing', build({ w: { shape: [1], data_offsets: [0, 4] } }, 4), 'ERR_MODEL_FORMAT', 'dtype must be a string'],
    ['entry', build({ w: 5 }, 0), 'ERR_MODEL_FORMAT', 'entry must be an object'],
    ['metadata', build({ __metadata__: { n: 1 } }, 0), 'ERR_MODEL_FORMAT', "__metadata__['n'] must be a string"],
  ];
  for (const [name, bytes, code, fragment] of cases) {
    const path = join(dir, `${name}.safetensors`);
    writeFileSync(path, bytes);
    expectModelError(() => readSafetensorsSync(path), code, path, fragment);
  }
  // A length past the sanity cap is refused even when the file is that big (sparse file).
  const big = join(dir, 'big.safetensors');
  writeFileSync(big, build(ok, 0, 150n * 1024n * 1024n).subarray(0, 8));
  truncateSync(big, 200 * 1024 * 1024);
  expectModelError(() => readSafetensorsSync(big), 'ERR_MODEL_FORMAT', big, 'exceeds the limit');
});

test('truncation anywhere before the end of the data, and header fuzzing', async (t) => {
  const dir = tmpDir(t);
  const src = join(dir, 'src.safetensors');
  await writeSafetensors(src, [
    { name: 'x', dtype: DType.F32, shape: [4, 4], data: new Float32Array(16).fill(1) },
    { name: 'y', dtype: DType.BF16, shape: [8], data: new Float32Array(8).fill(2) },
  ]);
  const bytes = readFileSync(src);
  for (let cut = 0; cut < bytes.length; cut++) {
    const path = join(dir, `cut-${cut}.safetensors`);
    writeFileSync(path, bytes.subarray(0, cut));
    expectModelError(() => readSafetensorsSync(path), 'ERR_MODEL_FORMAT', path);
  }
  const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
  let seed = 99;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let i = 0; i < 300; i++) {
    const copy = Buffer.from(bytes);
    for (let k = 0; k <= rand(3); k++) copy[rand(headerEnd)] = rand(256);
    const path = join(dir, `fuzz-${i}.safetensors`);
    writeFileSync(path, copy);
    try {
      readSafetensorsSync(path);
    } catch (error) {
      assert.ok(error instanceof KvserveError, `fuzz ${i}: ${String(error)}`);
      assert.ok(error.message.includes(`fuzz-${i}.safetensors`));
    }
  }
});

test('sharded index: weight_map parsing and validation', async (t) => {
  const dir = tmpDir(t);
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ metadata: { total_size: 8 }, weight_map: { a: 'm-1.safetensors', b: 'm-2.safetensors', c: 'm-1.safetensors' } }));
  const index = readSafetensorsIndex(good);
  assert.deepEqual(index.shards, ['m-1.safetensors', 'm-2.safetensors']);
  assert.equal(index.weightMap.get('b'), 'm-2.safetensors');
  for (const [name, text, fragment] of [
    ['json', '{"weight_map": ', 'not valid JSON'],
    ['no-map', '{"metadata": {}}', "'weight_map'"],
    ['traversal', '{"weight_map": {"a": "../evil.safetensors"}}', 'same directory'],
    ['absolute', '{"weight_map": {"a": "/etc/passwd"}}', 'same directory'],
    ['type', '{"weight_map": {"a": 3}}', 'same directory'],
  ] as const) {
    const path = join(dir, `${name}.json`);
    writeFileSync(path, text);
    expectModelError(() => readSafetensorsIndex(path), 'ERR_MODEL_FORMAT', path, fragment);
  }
});
