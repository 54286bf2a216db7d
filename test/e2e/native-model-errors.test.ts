// Bad input that gets past (or around) the TS validation reaches the native side safely: a model
// description with corrupt tensor offsets, sizes, shapes or types, and malformed step inputs, give a JS
// error naming the tensor or field, never a crash (a crash would take this test process down).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelSpec } from '../../lib/model/load-model-spec.js';
import { writeSyntheticGguf } from '../../lib/model/synthetic.js';
import { DType, type ModelSpec } from '../../lib/model/types.js';
import { nativeModelDescription } from '../../lib/native/model-description.js';
import type { NativeModel, NativeModelDescription, NativeStepInput } from '../../lib/native/types.js';
import { buildStepInput } from '../../lib/runner/build-step-input.js';
import { ISAS, addon } from '../helpers/native.js';

const dir = mkdtempSync(join(tmpdir(), 'kvserve-native-errors-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const path = join(dir, 'model.gguf');
// F32 matrices and norms, Q8_0 feed-forward and F16 output: several dtypes' size rules in play.
await writeSyntheticGguf(path, {
  architecture: 'llama', hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 128, vocabSize: 320,
  dtype: (name) => (/^blk\.1\.ffn_(gate|up|down)/.test(name) ? DType.Q8_0 : name === 'output.weight' ? DType.F16 : DType.F32),
});
const spec = await loadModelSpec(path);
const fileSize = statSync(path).size;
const BLOCK_SIZE = 16;
const NUM_BLOCKS = 4;

function description(s: ModelSpec = spec): NativeModelDescription {
  return nativeModelDescription(s, { numBlocks: NUM_BLOCKS, blockSize: BLOCK_SIZE, dtype: 'f32' }, 1);
}

/** `new Model` on a modified copy of the valid description must throw an Error containing every fragment. */
function expectModelError(mutate: (d: NativeModelDescription) => void, ...fragments: string[]): void {
  const d = structuredClone(description());
  mutate(d);
  assert.throws(
    () => new addon.Model(d).close(),
    (err: unknown) => {
      assert.ok(err instanceof Error, `expected an Error, got ${String(err)}`);
      for (const f of fragments) assert.ok(err.message.includes(f), `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`);
      return true;
    },
  );
}

function tensor(d: NativeModelDescription, name: string): NativeModelDescription['tensors'][number] {
  const t = d.tensors.find((x) => x.name === name);
  assert.ok(t, name);
  return t;
}

test('native Model: out-of-range or inconsistent tensor offsets and sizes name the tensor', () => {
  const q = 'blk.0.attn_q.weight';
  expectModelError((d) => (tensor(d, q).offset = fileSize + 100), `'${q}'`, 'extend past the end', `(${fileSize} bytes)`);
  expectModelError((d) => (tensor(d, q).offset = fileSize - 10), `'${q}'`, 'extend past the end');
  expectModelError((d) => (tensor(d, 'output.weight').offset = fileSize - tensor(d, 'output.weight').byteLength + 2), "'output.weight'", 'past the end');
  expectModelError((d) => (tensor(d, q).byteLength -= 4), `'${q}'`, 'bytes, expected 16384');
  expectModelError((d) => (tensor(d, 'blk.1.ffn_up.weight').byteLength += 34), "'blk.1.ffn_up.weight'", 'expected 8704');
  expectModelError((d) => (tensor(d, q).offset = -1), `'${q}'`, 'offset');
  expectModelError((d) => (tensor(d, q).offset = Number.NaN), `'${q}'`, 'offset');
  expectModelError((d) => (tensor(d, q).offset = 2 ** 60), `'${q}'`, 'offset');
  expectModelError((d) => (tensor(d, q).byteLength = Number.POSITIVE_INFINITY), `'${q}'`, 'byteLength');
  expectModelError((d) => (tensor(d, q).fileIndex = 3), `'${q}'`, 'file index 3 out of range');
});

test('native Model: absurd or inconsistent shapes and dtypes name the tensor', () => {
  const k = 'blk.0.attn_k.weight';
  for (const bad of [0, -32, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 41]) {
    expectModelError((d) => (tensor(d, k).shape[0] = bad), `'${k}'`, 'shape[0]');
  }
  expectModelError((d) => (tensor(d, k).shape = [2 ** 40, 2 ** 40]), `'${k}'`, 'invalid dimension');
  expectModelError((d) => (tensor(d, k).shape = [1, 1, 1, 2, 32]), `'${k}'`, '1 to 4 dims');
  expectModelError((d) => (tensor(d, k).shape = []), `'${k}'`, '1 to 4 dims');
  // Bytes agree with the shape, the shape disagrees with the config.
  expectModelError((d) => Object.assign(tensor(d, k), { shape: [16, 64], byteLength: 16 * 64 * 4 }), `'${k}'`, 'shape [16, 64], expected [32, 64]');
  expectModelError((d) => Object.assign(tensor(d, 'token_embd.weight'), { shape: [160, 64], byteLength: 160 * 64 * 4 }), "'token_embd.weight'", 'expected [vocab, hidden]');
  expectModelError((d) => (tensor(d, k).dtype = 9), `'${k}'`, 'dtype');
  // Q8_0 rows must be whole 32-element blocks.
  expectModelError((d) => Object.assign(tensor(d, 'blk.1.ffn_down.weight'), { shape: [64, 48] }), "'blk.1.ffn_down.weight'", 'block size 32');
  // A norm weight stored as Q8_0 (same bytes as 2 blocks): 1-D tensors must be float.
  expectModelError((d) => Object.assign(tensor(d, 'blk.0.attn_norm.weight'), { dtype: DType.Q8_0, byteLength: 68 }), "'blk.0.attn_norm.weight'", 'must be F32, F16 or BF16');
  expectModelError((d) => (d.tensors = d.tensors.filter((t) => t.name !== 'blk.1.ffn_up.weight')), "missing tensor 'blk.1.ffn_up.weight'");
  expectModelError((d) => (tensor(d, k).name = 42 as unknown as string), 'tensors[', '.name');
});

test('native Model: missing, empty or unmappable files and inconsistent configs are errors', () => {
  expectModelError((d) => (d.files = [join(dir, 'nope.gguf')]), 'nope.gguf', 'cannot open');
  expectModelError((d) => (d.files = [dir]), dir);
  const empty = join(dir, 'empty.gguf');
  writeFileSync(empty, '');
  expectModelError((d) => (d.files = [empty]), "'token_embd.weight'", 'past the end', '(0 bytes)');
  expectModelError((d) => (d.config.numHeads = 3), 'inconsistent dimensions');
  expectModelError((d) => (d.config.hiddenSize = Number.NaN), 'config.hiddenSize');
  expectModelError((d) => (d.config.vocabSize = 321), "'token_embd.weight'");
  expectModelError((d) => (d.kvCache.blockSize = 0), 'kvCache.blockSize');
});

test('native Model: tensor data at unaligned offsets (safetensors does not align) runs and gives the same logits', async () => {
  // The same bytes one byte later in another file: every tensor starts at an odd address.
  const shifted = join(dir, 'shifted.bin');
  writeFileSync(shifted, Buffer.concat([Buffer.alloc(1), readFileSync(path)]));
  const moved: ModelSpec = { ...spec, files: [shifted], tensors: spec.tensors.map((t) => ({ ...t, offset: t.offset + 1 })) };
  const input = { ...validInput(), returnLogits: true };
  for (const isa of ISAS) {
    const logits: Float32Array[] = [];
    for (const s of [spec, moved]) {
      const model = new addon.Model({ ...description(s), isa });
      try {
        logits.push((await model.step(input)).logits!);
      } finally {
        model.close();
      }
    }
    assert.deepEqual(logits[1], logits[0], isa);
  }
});

/** A valid step: 20 prompt tokens over 2 blocks (ids 3 then 1), sampling the last one. */
function validInput(): NativeStepInput {
  const tokenIds = Array.from({ length: 20 }, (_, i) => 259 + i);
  return buildStepInput([{ tokenIds, startPosition: 0, numScheduledTokens: 20, blockIds: [3, 1], sampleThisStep: true }], BLOCK_SIZE);
}

/** The cache slot validInput gives token t. */
function validInputSlot(t: number): number {
  return validInput().slotMapping[t] as number;
}

async function stepError(model: NativeModel, input: NativeStepInput): Promise<Error> {
  try {
    await model.step(input);
  } catch (err) {
    assert.ok(err instanceof Error, `expected an Error, got ${String(err)}`);
    return err;
  }
  assert.fail('step accepted a malformed input');
}

test('Model.step: malformed step inputs throw errors naming the field; the model keeps working', async () => {
  const model = new addon.Model(description());
  try {
    const expected = (await model.step({ ...validInput(), returnLogits: true })).logits!;
    const cases: Array<[string, (x: NativeStepInput) => void, string]> = [
      ['tokenIds of the wrong type', (x) => (x.tokenIds = new Float32Array(20) as unknown as Int32Array), 'step.tokenIds: expected an Int32Array'],
      ['a token id past the vocabulary', (x) => (x.tokenIds[3] = 320), 'tokenIds[3]: expected a token id in [0, 320), got 320'],
      ['a negative token id', (x) => (x.tokenIds[0] = -1), 'tokenIds[0]'],
      ['no tokens', (x) => Object.assign(x, { tokenIds: new Int32Array(0), positions: new Int32Array(0), slotMapping: new Int32Array(0) }), 'at least one token'],
      ['positions shorter than tokenIds', (x) => (x.positions = x.positions.subarray(1)), 'step.positions: length'],
      ['a position outside its sequence', (x) => (x.positions[2] = 7), 'positions[2]: expected 2'],
      ['a negative position', (x) => (x.positions[5] = -5), 'positions[5]'],
      ['a slot past the cache', (x) => (x.slotMapping[0] = NUM_BLOCKS * BLOCK_SIZE), 'slotMapping[0]: out of range'],
      ['a slot below -1', (x) => (x.slotMapping[1] = -2), 'slotMapping[1]'],
      ['slotMapping of another length', (x) => (x.slotMapping = new Int32Array(21)), 'slotMapping: length'],
      ['two tokens on one cache slot', (x) => (x.slotMapping[7] = x.slotMapping[3] as number), `slotMapping: slot ${validInputSlot(3)} is given to more than one token`],
      ['queryStartLoc not starting at 0', (x) => (x.queryStartLoc = Int32Array.of(1, 20)), 'queryStartLoc'],
      ['queryStartLoc not ending at the token count', (x) => (x.queryStartLoc = Int32Array.of(0, 19)), 'queryStartLoc'],
      ['queryStartLoc of the wrong length', (x) => (x.queryStartLoc = Int32Array.of(0, 10, 20)), 'queryStartLoc: length'],
      ['a sequence with no tokens', (x) => Object.assign(x, { queryStartLoc: Int32Array.of(0, 0, 20), seqLens: Int32Array.of(0, 20), blockTables: Int32Array.of(3, 1, 3, 1) }), 'sequence 0 has no tokens'],
      ['seqLens shorter than the query', (x) => (x.seqLens[0] = 19), 'seqLens[0]: shorter than its query tokens'],
      ['seqLens needing more blocks than the table', (x) => (x.seqLens[0] = 40), 'seqLens[0]: needs more blocks'],
      ['blockTables of the wrong length', (x) => (x.blockTables = Int32Array.of(3)), 'blockTables: length'],
      ['a block id past the cache', (x) => (x.blockTables[1] = NUM_BLOCKS), 'blockTables: sequence 0 block 1 id 4 out of range'],
      ['a negative block id', (x) => (x.blockTables[0] = -1), 'block 0 id -1 out of range'],
      ['maxBlocksPerSeq 0', (x) => (x.maxBlocksPerSeq = 0), 'maxBlocksPerSeq'],
      ['maxBlocksPerSeq NaN', (x) => (x.maxBlocksPerSeq = Number.NaN), 'maxBlocksPerSeq'],
      ['maxBlocksPerSeq infinite', (x) => (x.maxBlocksPerSeq = Number.POSITIVE_INFINITY), 'maxBlocksPerSeq'],
      ['maxBlocksPerSeq 2^62', (x) => (x.maxBlocksPerSeq = 2 ** 62), 'maxBlocksPerSeq'],
      ['maxBlocksPerSeq fractional', (x) => (x.maxBlocksPerSeq = 2.5), 'maxBlocksPerSeq'],
      ['maxBlocksPerSeq not a number', (x) => (x.maxBlocksPerSeq = '2' as unknown as number), 'maxBlocksPerSeq: expected a number'],
      ['a logits index past the tokens', (x) => (x.logitsIndices = Int32Array.of(20)), 'logitsIndices[0]: out of range'],
      ['copySrc without copyDst', (x) => (x.copySrc = Int32Array.of(0)), 'copySrc/copyDst: lengths differ'],
      ['a block copy past the cache', (x) => Object.assign(x, { copySrc: Int32Array.of(0), copyDst: Int32Array.of(NUM_BLOCKS) }), 'copySrc/copyDst[0]'],
    ];
    for (const [what, mutate, fragment] of cases) {
      const input = validInput();
      mutate(input);
      const err = await stepError(model, input);
      assert.ok(err.message.includes(fragment), `${what}: message ${JSON.stringify(err.message)} lacks ${JSON.stringify(fragment)}`);
    }
    await assert.rejects(async () => model.step(undefined as unknown as NativeStepInput), /step input object/);
    // Nothing was half-applied: the same valid step gives the same logits.
    assert.deepEqual((await model.step({ ...validInput(), returnLogits: true })).logits, expected);
    // One step running and one queued behind it; a third is refused.
    const running = model.step(validInput());
    const queued = model.step(validInput());
    assert.match((await stepError(model, validInput())).message, /already running and another is queued/);
    await running;
    await queued;
  } finally {
    model.close();
  }
  await assert.rejects(async () => model.step(validInput()), /closed/);
});
