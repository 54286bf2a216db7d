// GGUF reader on the real shared models (offsets cross-checked against independent copies of the
// same weights) and writer -> reader round trips for every value type and tensor dtype.
import assert from 'node:assert/strict';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { KvserveError } from '../../../lib/errors.js';
import {
  DType,
  GgufValueType,
  dtypeInfo,
  ggufBool,
  ggufF32,
  ggufF32Array,
  ggufF64,
  ggufI16,
  ggufI32Array,
  ggufI64,
  ggufI8,
  ggufString,
  ggufStringArray,
  ggufU16,
  ggufU32,
  ggufU64,
  ggufU8,
  loadModelSpec,
  quant,
  readGguf,
  readTensorF32,
  writeGguf,
  type GgufValue,
} from '../../../lib/model/index.js';
import { MODELS, modelPath } from '../../helpers/models.js';
import { expectModelErrorAsync } from '../../helpers/model-errors.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

test('stories260K.gguf: header, alignment and tensor offsets', async (t) => {
  const path = modelPath(t, MODELS.stories260kGguf);
  if (path === null) return;
  const g = await readGguf(path);
  assert.equal(g.version, 3);
  assert.equal(g.alignment, 32);
  assert.equal(g.tensors.length, 48);
  assert.equal(g.fileSize, 1185376);
  assert.equal(g.dataOffset % 32, 0);
  const arch = g.metadata.get('general.architecture');
  assert.deepEqual(arch, { type: GgufValueType.STRING, value: 'llama' });
  const tokens = g.metadata.get('tokenizer.ggml.tokens');
  assert.ok(tokens?.type === GgufValueType.ARRAY && tokens.itemType === GgufValueType.STRING);
  assert.equal(tokens.value.length, 512);
  assert.deepEqual((tokens.value as string[]).slice(0, 4), ['<unk>', '<s>', '</s>', '<0x00>']);
  const scores = g.metadata.get('tokenizer.ggml.scores');
  assert.ok(scores?.type === GgufValueType.ARRAY && scores.value instanceof Float32Array);
  assert.deepEqual(g.metadata.get('llama.attention.head_count_kv'), { type: GgufValueType.UINT32, value: 4 });
  const embd = g.tensors.find((x) => x.name === 'token_embd.weight')!;
  assert.deepEqual(embd.ne, [64, 512]);
  assert.equal(embd.typeName, 'F32');
  assert.equal(embd.byteLength, 64 * 512 * 4);
  for (const tensor of g.tensors) {
    assert.equal((tensor.offset - g.dataOffset) % 32, 0, tensor.name);
    assert.ok(tensor.offset + tensor.byteLength <= g.fileSize, tensor.name);
  }
});

test('stories260K.gguf tensors are byte-identical to the llama2.c checkpoint', async (t) => {
  const ggufPath = modelPath(t, MODELS.stories260kGguf);
  const binPath = modelPath(t, 'stories260K/stories260K.bin');
  if (ggufPath === null || binPath === null) return;
  const spec = await loadModelSpec(ggufPath);
  const bin = readFileSync(binPath);
  const [dim, hidden, layers, , kvHeads, vocab] = [64, 172, 5, 8, 4, 512];
  const kvDim = (dim / 8) * kvHeads;
  const floats = (offset: number, count: number): Float32Array =>
    new Float32Array(bin.buffer.slice(bin.byteOffset + 28 + 4 * offset, bin.byteOffset + 28 + 4 * (offset + count)));
  // llama2.c order: embeddings, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final.
  let at = 0;
  const next = (count: number): number => ((at += count), at - count);
  const embdAt = next(vocab * dim);
  const rmsAttAt = next(layers * dim);
  const wqAt = next(layers * dim * dim);
  next(layers * dim * kvDim);
  const wvAt = next(layers * dim * kvDim);
  next(layers * dim * dim);
  next(layers * dim);
  next(layers * hidden * dim);
  const w2At = next(layers * dim * hidden);
  next(layers * hidden * dim);
  const rmsFinalAt = next(dim);
  const checks: [string, number, number][] = [
    ['token_embd.weight', embdAt, vocab * dim],
    ['blk.0.attn_norm.weight', rmsAttAt, dim],
    ['blk.3.attn_norm.weight', rmsAttAt + 3 * dim, dim],
    ['blk.2.attn_q.weight', wqAt + 2 * dim * dim, dim * dim],
    ['blk.4.attn_v.weight', wvAt + 4 * dim * kvDim, dim * kvDim],
    ['blk.1.ffn_down.weight', w2At + dim * hidden, dim * hidden],
    ['output_norm.weight', rmsFinalAt, dim],
  ];
  for (const [name, offset, count] of checks) {
    assert.deepEqual(await readTensorF32(spec, name), floats(offset, count), name);
  }
});

test('stories260K.gguf -> ModelSpec', async (t) => {
  const path = modelPath(t, MODELS.stories260kGguf);
  if (path === null) return;
  const spec = await loadModelSpec(path);
  const c = spec.config;
  assert.equal(spec.format, 'gguf');
  assert.equal(spec.name, 'llama');
  assert.deepEqual(spec.files, [path]);
  assert.deepEqual(
    [c.architecture, c.hiddenSize, c.numLayers, c.numHeads, c.numKvHeads, c.headDim, c.intermediateSize, c.vocabSize],
    ['llama', 64, 5, 8, 4, 8, 172, 512],
  );
  assert.equal(c.maxPositionEmbeddings, 2048);
  assert.equal(c.ropeLayout, 'norm');
  assert.equal(c.ropeDim, 8);
  assert.equal(c.ropeTheta, 10000);
  assert.equal(c.rmsNormEps, Math.fround(1e-5));
  assert.equal(c.tiedEmbeddings, false);
  assert.deepEqual([c.qkvBias, c.qkNorm, c.attnOutputBias, c.ropeFreqFactors, c.ropeScaling], [false, false, false, false, null]);
  assert.equal(c.bosTokenId, 1);
  assert.deepEqual(c.eosTokenIds, [2]);
  assert.equal(spec.tensors.length, 48);
  assert.ok(spec.tensors.every((x) => x.dtype === DType.F32 && x.fileIndex === 0));
  const byName = new Map(spec.tensors.map((x) => [x.name, x]));
  assert.deepEqual(byName.get('output.weight')?.shape, [512, 64]);
  assert.deepEqual(byName.get('blk.0.attn_k.weight')?.shape, [32, 64]);
  assert.deepEqual(byName.get('blk.4.ffn_gate.weight')?.shape, [172, 64]);
  assert.deepEqual(byName.get('blk.4.ffn_down.weight')?.shape, [64, 172]);
});

test('TinyStories-656K-Q8_0.gguf: Q8_0 matrices match the F32 HF weights (Q/K permuted to norm layout)', async (t) => {
  const ggufPath = modelPath(t, MODELS.tinystoriesQ8Gguf);
  const hfPath = modelPath(t, MODELS.tinystoriesHfDir);
  if (ggufPath === null || hfPath === null) return;
  const spec = await loadModelSpec(ggufPath);
  const hf = await loadModelSpec(hfPath);
  const c = spec.config;
  assert.equal(c.ropeLayout, 'norm');
  assert.equal(c.tiedEmbeddings, true);
  assert.equal(c.headDim, 16);
  assert.equal(spec.name, 'Raincandy U TinyStories 656K');
  assert.equal(spec.tensors.find((x) => x.name === 'output.weight'), undefined);
  for (const tensor of spec.tensors) {
    assert.equal(tensor.dtype, tensor.shape.length === 2 ? DType.Q8_0 : DType.F32, tensor.name);
  }
  const close = (a: Float32Array, b: Float32Array, what: string): void => {
    assert.equal(a.length, b.length);
    for (let blk = 0; blk < a.length / 32; blk++) {
      let amax = 0;
      for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(b[32 * blk + i]!));
      for (let i = 0; i < 32; i++) {
        const k = 32 * blk + i;
        assert.ok(Math.abs(a[k]! - b[k]!) <= amax * (1 / 254 + 2 ** -10), `${what}[${k}]: ${a[k]} vs ${b[k]}`);
      }
    }
  };
  close(await readTensorF32(spec, 'token_embd.weight'), await readTensorF32(hf, 'token_embd.weight'), 'token_embd');
  close(await readTensorF32(spec, 'blk.1.attn_v.weight'), await readTensorF32(hf, 'blk.1.attn_v.weight'), 'attn_v');
  // convert_hf_to_gguf permutes Q/K rows: within a head, GGUF row 2j+k is HF row k*hd/2 + j.
  for (const [name, heads] of [['blk.0.attn_q.weight', 8], ['blk.1.attn_k.weight', 4]] as const) {
    const hfRows = await readTensorF32(hf, name);
    const permuted = new Float32Array(hfRows.length);
    const hd = 16;
    const cols = 128;
    for (let h = 0; h < heads; h++) {
      for (let j = 0; j < hd / 2; j++) {
        for (let k = 0; k < 2; k++) {
          const src = h * hd + k * (hd / 2) + j;
          const dst = h * hd + 2 * j + k;
          permuted.set(hfRows.subarray(src * cols, (src + 1) * cols), dst * cols);
        }
      }
    }
    close(await readTensorF32(spec, name), permuted, name);
  }
});

test('llama-2-tiny-random.gguf: F16 matrices, F32 norms, separate output', async (t) => {
  const path = modelPath(t, MODELS.tinyRandomGguf);
  if (path === null) return;
  const spec = await loadModelSpec(path);
  const c = spec.config;
  assert.deepEqual([c.hiddenSize, c.numLayers, c.numHeads, c.numKvHeads, c.intermediateSize, c.vocabSize], [8, 1, 2, 2, 32, 32000]);
  assert.equal(c.maxPositionEmbeddings, 4096);
  assert.equal(c.tiedEmbeddings, false);
  assert.equal(spec.tensors.length, 12);
  for (const tensor of spec.tensors) {
    assert.equal(tensor.dtype, tensor.shape.length === 2 ? DType.F16 : DType.F32, tensor.name);
    assert.equal(tensor.byteLength, tensor.shape.reduce((a, b) => a * b, 1) * (tensor.dtype === DType.F16 ? 2 : 4));
  }
  const out = await readTensorF32(spec, 'output.weight');
  assert.equal(out.length, 32000 * 8);
  assert.ok(out.every(Number.isFinite));
  assert.ok(out.some((v) => v !== 0));
});

test('vocab-only GGUFs parse, but are not loadable models', async (t) => {
  for (const [rel, model, count] of [
    [MODELS.vocabLlamaSpm, 'llama', 32000],
    [MODELS.vocabGpt2, 'gpt2', 50257],
  ] as const) {
    const path = modelPath(t, rel);
    if (path === null) return;
    const g = await readGguf(path);
    assert.equal(g.tensors.length, 0);
    assert.deepEqual(g.metadata.get('tokenizer.ggml.model'), { type: GgufValueType.STRING, value: model });
    const tokens = g.metadata.get('tokenizer.ggml.tokens');
    assert.ok(tokens?.type === GgufValueType.ARRAY);
    assert.equal(tokens.value.length, count);
    if (model === 'gpt2') {
      const merges = g.metadata.get('tokenizer.ggml.merges');
      assert.ok(merges?.type === GgufValueType.ARRAY);
      assert.equal(merges.value.length, 50000);
      assert.equal((merges.value as string[])[0], 'Ġ t');
    }
    await expectModelErrorAsync(() => loadModelSpec(path), 'ERR_MODEL_MISSING_TENSOR', path, 'no tensors', 'vocab-only');
  }
});

test('writer -> reader round trip: every metadata value type', async (t) => {
  const path = join(tmpDir(t), 'meta.gguf');
  const nested: GgufValue = {
    type: GgufValueType.ARRAY,
    itemType: GgufValueType.ARRAY,
    value: [ggufI32Array([1, 2]), ggufStringArray(['x']), ggufI32Array([])],
  };
  const entries: [string, GgufValue][] = [
    ['u8', ggufU8(255)],
    ['i8', ggufI8(-128)],
    ['u16', ggufU16(65535)],
    ['i16', ggufI16(-32768)],
    ['u32', ggufU32(4294967295)],
    ['i32', { type: GgufValueType.INT32, value: -2147483648 }],
    ['f32', ggufF32(0.5)],
    ['f64', ggufF64(Math.PI)],
    ['bool', ggufBool(true)],
    ['string', ggufString('héllo ▁ 世界 🙂')],
    ['empty', ggufString('')],
    ['u64', ggufU64(2n ** 64n - 1n)],
    ['i64', ggufI64(-(2n ** 63n))],
    ['f32s', ggufF32Array([1.5, -2, 3.25])],
    ['strings', ggufStringArray(['a', '', 'ü'])],
    ['bools', { type: GgufValueType.ARRAY, itemType: GgufValueType.BOOL, value: [true, false, true] }],
    ['u64s', { type: GgufValueType.ARRAY, itemType: GgufValueType.UINT64, value: BigUint64Array.of(1n, 2n ** 63n) }],
    ['i16s', { type: GgufValueType.ARRAY, itemType: GgufValueType.INT16, value: Int16Array.of(-5, 7) }],
    ['f64s', { type: GgufValueType.ARRAY, itemType: GgufValueType.FLOAT64, value: Float64Array.of(1e300, -0.1) }],
    ['nested', nested],
    ['none', ggufF32Array([])],
  ];
  await writeGguf(path, { metadata: entries, tensors: [] });
  const g = await readGguf(path);
  assert.equal(g.tensors.length, 0);
  assert.deepEqual([...g.metadata.keys()], entries.map(([k]) => k));
  for (const [key, value] of entries) assert.deepEqual(g.metadata.get(key), value, key);
});

test('writer -> reader round trip: every dtype, odd shapes, data bytes exact', async (t) => {
  const dir = tmpDir(t);
  const values = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * (1 + (i % 7)));
  const cases: { name: string; dtype: DType; ne: number[] }[] = [
    { name: 'f32', dtype: DType.F32, ne: [172, 3] },
    { name: 'f16', dtype: DType.F16, ne: [172, 3] },
    { name: 'bf16', dtype: DType.BF16, ne: [172, 3] },
    { name: 'vec', dtype: DType.F32, ne: [7] },
    { name: 'cube', dtype: DType.F16, ne: [5, 3, 2] },
    { name: 'q8_0', dtype: DType.Q8_0, ne: [64, 5] },
    { name: 'q4_0', dtype: DType.Q4_0, ne: [96, 3] },
    { name: 'q4_k', dtype: DType.Q4_K, ne: [512, 2] },
    { name: 'q6_k', dtype: DType.Q6_K, ne: [256, 3] },
  ];
  for (const alignment of [32, 64]) {
    for (const version of [2, 3] as const) {
      const path = join(dir, `rt-${alignment}-${version}.gguf`);
      const data = cases.map((c, i) => values(c.ne.reduce((a, b) => a * b, 1), i));
      await writeGguf(path, {
        metadata: [['general.architecture', ggufString('llama')]],
        tensors: cases.map((c, i) => ({ ...c, data: data[i]! })),
        alignment,
        version,
      });
      const g = await readGguf(path);
      const bytes = readFileSync(path);
      assert.equal(g.version, version);
      assert.equal(g.alignment, alignment);
      assert.equal(g.metadata.has('general.alignment'), alignment !== 32);
      assert.equal(g.dataOffset % alignment, 0);
      cases.forEach((c, i) => {
        const info = g.tensors[i]!;
        assert.equal(info.name, c.name);
        assert.deepEqual(info.ne, c.ne);
        assert.equal(info.ggmlType, dtypeInfo(c.dtype).ggmlType);
        assert.equal(info.offset % alignment, 0);
        const stored = bytes.subarray(info.offset, info.offset + info.byteLength);
        assert.deepEqual(new Uint8Array(stored), quant.quantize(c.dtype, data[i]!), c.name);
        const back = quant.dequantize(c.dtype, stored, data[i]!.length);
        if (c.dtype === DType.F32) assert.deepEqual(back, data[i]);
      });
    }
  }
});

test('writer: raw pre-quantized bytes are stored as given; invalid tensors are rejected', async (t) => {
  const dir = tmpDir(t);
  const raw = quant.quantizeQ4_K(Float32Array.from({ length: 256 }, (_, i) => i / 256));
  const path = join(dir, 'raw.gguf');
  await writeGguf(path, { metadata: [], tensors: [{ name: 'w', ne: [256, 1], dtype: DType.Q4_K, data: raw }] });
  const g = await readGguf(path);
  const info = g.tensors[0]!;
  assert.deepEqual(new Uint8Array(readFileSync(path).subarray(info.offset, info.offset + info.byteLength)), raw);

  const bad = [
    { name: 'rows', ne: [48, 2], dtype: DType.Q8_0, data: new Float32Array(96) },
    { name: 'k-rows', ne: [128, 2], dtype: DType.Q6_K, data: new Float32Array(256) },
    { name: 'count', ne: [4, 2], dtype: DType.F32, data: new Float32Array(7) },
    { name: 'bytes', ne: [32], dtype: DType.Q8_0, data: new Uint8Array(33) },
    { name: 'dims', ne: [0, 2], dtype: DType.F32, data: new Float32Array(0) },
  ];
  for (const tensor of bad) {
    await assert.rejects(
      writeGguf(join(dir, `${tensor.name}.gguf`), { metadata: [], tensors: [tensor] }),
      (e: unknown) => e instanceof KvserveError && e.code === 'ERR_INVALID_ARGUMENT' && e.message.includes(`'${tensor.name}'`),
      tensor.name,
    );
  }
});

test('a multi-GB file is parsed from its header alone (sparse 6 GiB file)', async (t) => {
  const dir = tmpDir(t);
  const small = join(dir, 'small.gguf');
  await writeGguf(small, {
    metadata: [['general.architecture', ggufString('llama')]],
    tensors: [{ name: 'big', ne: [32, 1], dtype: DType.F32, data: new Float32Array(32) }],
  });
  // Patch ne to [2^20, 1536] F32 = 6 GiB and extend the file sparsely to hold it.
  const bytes = readFileSync(small);
  const neAt = bytes.indexOf(Buffer.from('big')) + 3 + 4;
  bytes.writeBigUInt64LE(1n << 20n, neAt);
  bytes.writeBigUInt64LE(1536n, neAt + 8);
  const big = join(dir, 'big.gguf');
  const dataOffset = (await readGguf(small)).dataOffset;
  writeFileSync(big, bytes.subarray(0, dataOffset));
  truncateSync(big, dataOffset + 6 * 2 ** 30);
  const rssBefore = process.memoryUsage().rss;
  const g = await readGguf(big);
  assert.equal(g.tensors[0]!.byteLength, 6 * 2 ** 30);
  assert.equal(g.fileSize, dataOffset + 6 * 2 ** 30);
  assert.ok(process.memoryUsage().rss - rssBefore < 256 * 2 ** 20, 'no large allocation');
});
