// Seed corpora for the native libFuzzer targets (native/fuzz), written from the real models in
// ../shared/models in each target's input layout (native/fuzz/fuzz_input.h: little-endian fields):
//   weights        tensor descriptions read from each model (GGUF and safetensors) with the bytes of
//                  its small tensors, rebased into one compact file
//   dequantize     real weight rows: F32 / F16 / Q8_0 as stored, and real F32 rows quantized to every
//                  other dtype with lib/model/quant
//   step_input     StepInputs and sampling inputs captured from the engine serving stories260K
//   sample_params  (prefill, decode, prefix hits, penalties, logprobs), remapped to the harness limits
// Usage: node --import tsx bench/fuzz/native-seeds.ts <out-dir>
import { mkdirSync, openSync, readSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../lib/engine/engine.js';
import { loadModelSpec } from '../../lib/model/load-model-spec.js';
import { DType, type ModelSpec, type TensorSpec } from '../../lib/model/types.js';
import { quantize } from '../../lib/model/quant/index.js';
import type { NativeModel, NativeStepInput } from '../../lib/native/types.js';
import { sharedModelsDir } from '../../lib/config.js';

/** Little-endian field writer matching native/fuzz/fuzz_input.h. */
class Fields {
  private readonly parts: Buffer[] = [];
  u8(v: number): this { const b = Buffer.alloc(1); b.writeUInt8(v & 0xff); this.parts.push(b); return this; }
  u16(v: number): this { const b = Buffer.alloc(2); b.writeUInt16LE(v & 0xffff); this.parts.push(b); return this; }
  u32(v: number): this { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); this.parts.push(b); return this; }
  i32(v: number): this { const b = Buffer.alloc(4); b.writeInt32LE(v | 0); this.parts.push(b); return this; }
  i64(v: number | bigint): this { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(v)); this.parts.push(b); return this; }
  u64(v: number | bigint): this { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.parts.push(b); return this; }
  f64(v: number): this { const b = Buffer.alloc(8); b.writeDoubleLE(v); this.parts.push(b); return this; }
  f32(v: number): this { const b = Buffer.alloc(4); b.writeFloatLE(v); this.parts.push(b); return this; }
  i32s(values: ArrayLike<number>): this { this.u16(values.length); for (let i = 0; i < values.length; i++) this.i32(values[i] as number); return this; }
  bytes(b: Uint8Array): this { this.parts.push(Buffer.from(b)); return this; }
  done(): Buffer { return Buffer.concat(this.parts); }
}

function readBytes(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const out = Buffer.alloc(length);
    readSync(fd, out, 0, length, offset);
    return out;
  } finally {
    closeSync(fd);
  }
}

const MODEL_FILES = [
  'stories260K/stories260K.gguf',
  'tinystories-656K/TinyStories-656K-Q8_0.gguf',
  'tinystories-656K',
  'llama-2-tiny-random/llama-2-tiny-random.gguf',
];

function weightSeeds(spec: ModelSpec): Buffer[] {
  // Small tensors (norms, biases, small matrices), rebased one after another into a compact file.
  const small = spec.tensors.filter((t) => t.byteLength <= 16384).slice(0, 8);
  const seeds: Buffer[] = [];
  for (const subset of [small, small.slice(0, 3)]) {
    let offset = 0;
    const placed: Array<{ t: TensorSpec; offset: number }> = [];
    const chunks: Buffer[] = [];
    for (const t of subset) {
      placed.push({ t, offset });
      chunks.push(readBytes(spec.files[t.fileIndex] as string, t.offset, t.byteLength));
      offset += t.byteLength;
    }
    const f = new Fields().u8(0).u32(0).u8(placed.length);
    placed.forEach(({ t, offset: at }, i) => {
      f.u8(i).i32(t.dtype).u8(t.shape.length);
      for (const d of t.shape) f.f64(d);
      f.i32(0).u64(at).u64(t.byteLength);
    });
    f.u8(placed.length * 2);
    placed.forEach(({ t }, i) => {
      f.u8(i).u8(t.shape.length === 2 ? 0 : 1).i64(t.shape[0] ?? 0).i64(t.shape[1] ?? 0);
      f.u8(i).u8(t.shape.length === 2 ? 1 : 0).i64(t.shape.reduce((a, b) => a * b, 1)).i64(0);
    });
    seeds.push(Buffer.concat([f.done(), ...chunks]));
  }
  return seeds;
}

function dequantizeSeeds(spec: ModelSpec): Buffer[] {
  const seeds: Buffer[] = [];
  const matrix = spec.tensors.find((t) => t.shape.length === 2 && (t.shape[1] as number) % 256 === 0)
    ?? spec.tensors.find((t) => t.shape.length === 2);
  if (!matrix) return seeds;
  const cols = matrix.shape[1] as number;
  const rowBytes = matrix.byteLength / (matrix.shape[0] as number);
  const stored = readBytes(spec.files[matrix.fileIndex] as string, matrix.offset, rowBytes * 2);
  const blockElems = matrix.dtype === DType.Q8_0 || matrix.dtype === DType.Q4_0 ? 32 : matrix.dtype === DType.Q4_K || matrix.dtype === DType.Q6_K ? 256 : 1;
  seeds.push(new Fields().u8(matrix.dtype).u16((2 * cols) / blockElems).u8(0).bytes(stored).done());
  if (matrix.dtype === DType.F32) {
    const values = new Float32Array(stored.buffer.slice(stored.byteOffset, stored.byteOffset + stored.length));
    const n = values.length - (values.length % 256);
    for (const dtype of [DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K]) {
      const elems = dtype === DType.Q8_0 || dtype === DType.Q4_0 ? 32 : dtype === DType.Q4_K || dtype === DType.Q6_K ? 256 : 1;
      seeds.push(new Fields().u8(dtype).u16(n / elems).u8(dtype).bytes(quantize(dtype, values.subarray(0, n))).done());
    }
  }
  return seeds;
}

interface Captured {
  step: NativeStepInput;
  numBlocks: number;
  blockSize: number;
}

async function captureSteps(modelPath: string): Promise<Captured[]> {
  const engine = await Engine.create({ model: modelPath, maxModelLen: 128, kvCacheMemory: 16 * 16 * 2 * 5 * 64 * 4 * 2, blockSize: 16, threads: 1, kvCacheDtype: 'f32' });
  const captured: Captured[] = [];
  const info = engine.nativeInfo();
  const model = (engine as unknown as { model: NativeModel }).model;
  const step = model.step.bind(model);
  // The addon's methods are read-only properties: shadow `step` on this instance to record its inputs.
  Object.defineProperty(model, 'step', {
    value: (input: NativeStepInput) => {
      if (captured.length < 64) captured.push({ step: structuredClone(input), numBlocks: info.numBlocks, blockSize: info.blockSize });
      return step(input);
    },
  });
  const prompts = ['Once upon a time', 'Once upon a time, there was a little girl', 'The cat sat on the mat and', 'Lily and Ben went to the park'];
  await Promise.all(prompts.flatMap((p, i) => [
    drain(engine.generate(p, { maxTokens: 12, temperature: 0 })),
    drain(engine.generate(p, { maxTokens: 10, temperature: 0.8, topK: 20, topP: 0.9, minP: 0.05, seed: i, logprobs: 3, repetitionPenalty: 1.2, presencePenalty: 0.5, frequencyPenalty: 0.3, logitBias: { 5: 2, 7: -100 } })),
  ]));
  await engine.close();
  return captured;
}

async function drain(it: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of it) { /* consume */ }
}

function stepSeed(c: Captured): Buffer {
  const s = c.step;
  const vocab = 64;
  return new Fields()
    .u8(vocab - 1).u8(Math.min(32, c.numBlocks) - 1).u8(Math.min(16, c.blockSize) - 1).u8(7).u8(0).u8(1).u8(0)
    .f64(s.maxBlocksPerSeq).u8(0)
    .i32s(Array.from(s.tokenIds, (id) => id % vocab)).i32s(s.positions).i32s(s.slotMapping).i32s(s.queryStartLoc)
    .i32s(s.seqLens).i32s(s.blockTables).i32s(s.logitsIndices).i32s(s.copySrc ?? []).i32s(s.copyDst ?? [])
    .done();
}

function sampleSeed(c: Captured): Buffer | null {
  const sampling = c.step.sampling;
  if (!sampling) return null;
  const rows = Math.min(8, sampling.params.length / 15);
  const vocab = 96;
  const f = new Fields().u8(rows).u8(vocab - 1).f64(sampling.maxLogprobs);
  for (let i = 0; i < rows * 15; i++) f.f64(sampling.params[i] as number);
  const history = Array.from(sampling.history, (id) => id % vocab);
  f.i32s(history);
  f.u16(sampling.biasTokenIds.length);
  for (const id of sampling.biasTokenIds) f.i32(id % vocab);
  for (const v of sampling.biasValues) f.f32(v);
  for (let i = 0; i < rows * vocab; i++) f.f32(Math.sin(i * 0.37) * 8);
  return f.done();
}

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) throw new Error('usage: native-seeds.ts <out-dir>');
  const dirs = { weights: join(out, 'weights'), dequantize: join(out, 'dequantize'), step_input: join(out, 'step_input'), sample_params: join(out, 'sample_params') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  let n = 0;
  const write = (dir: string, name: string, data: Buffer): void => {
    writeFileSync(join(dir, name), data);
    n++;
  };
  for (const rel of MODEL_FILES) {
    const spec = await loadModelSpec(join(sharedModelsDir(), rel));
    const tag = rel.replace(/[^\w.-]+/g, '_');
    weightSeeds(spec).forEach((s, i) => write(dirs.weights, `${tag}-${i}`, s));
    dequantizeSeeds(spec).forEach((s, i) => write(dirs.dequantize, `${tag}-${i}`, s));
  }
  const steps = await captureSteps(join(sharedModelsDir(), 'stories260K/stories260K.gguf'));
  steps.forEach((c, i) => {
    write(dirs.step_input, `stories260K-step-${i}`, stepSeed(c));
    const sample = sampleSeed(c);
    if (sample) write(dirs.sample_params, `stories260K-step-${i}`, sample);
  });
  console.log(`wrote ${n} seeds under ${out}`);
}

await main();
