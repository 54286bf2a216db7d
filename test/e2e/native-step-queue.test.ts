// A native Model takes one running step and one queued behind it; the queued step may continue the
// running one (continuesPrevious: token id -(r + 1) is the token it samples at row r). The engine's
// async scheduling rests on this: a continued step must compute exactly what the same step computes
// when built after the first one ends, with its sampled tokens written in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelSpec } from '../../lib/model/load-model-spec.js';
import { writeSyntheticGguf } from '../../lib/model/synthetic.js';
import { DType } from '../../lib/model/types.js';
import { nativeModelDescription } from '../../lib/native/model-description.js';
import type { NativeModel, NativeSamplingInput, NativeStepInput } from '../../lib/native/types.js';
import { buildStepInput, type ScheduledSequence } from '../../lib/runner/build-step-input.js';
import { packSampleParams } from '../../lib/runner/sample-params-packing.js';
import { addon } from '../helpers/native.js';

const dir = mkdtempSync(join(tmpdir(), 'kvserve-step-queue-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const path = join(dir, 'model.gguf');
await writeSyntheticGguf(path, {
  architecture: 'llama', hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 128, vocabSize: 320,
  dtype: (name) => (/^blk\.1\.ffn_(gate|up|down)/.test(name) ? DType.Q8_0 : DType.F32),
});
const spec = await loadModelSpec(path);
const BLOCK_SIZE = 16;
const newModel = (): NativeModel => new addon.Model(nativeModelDescription(spec, { numBlocks: 8, blockSize: BLOCK_SIZE, dtype: 'f32' }, 2));

const PROMPTS = [Array.from({ length: 10 }, (_, i) => 3 + 7 * i), Array.from({ length: 7 }, (_, i) => 200 + i)];
const BLOCKS = [[0, 1], [2, 3]];

/** Seeded sampling for every row: the counter (output index) is what a continued step must get right. */
function sampling(rows: number, counter: number): NativeSamplingInput {
  return {
    params: packSampleParams(Array.from({ length: rows }, (_, r) => ({ temperature: 0.9, topK: 40, seed: 11 + r, counter }))),
    history: new Int32Array(0),
    biasTokenIds: new Int32Array(0),
    biasValues: new Float32Array(0),
    maxLogprobs: 0,
  };
}

/** The prompts' prefill (samples output 0 of each). */
function prefill(): NativeStepInput {
  const seqs: ScheduledSequence[] = PROMPTS.map((p, i) => ({ tokenIds: p, startPosition: 0, numScheduledTokens: p.length, blockIds: BLOCKS[i] as number[], sampleThisStep: true }));
  return { ...buildStepInput(seqs, BLOCK_SIZE), sampling: sampling(2, 0) };
}

/** The decode after `generated` tokens per sequence: real tokens, or (known === false) a continuation of the step before. */
function decode(generated: number[][], known: boolean): NativeStepInput {
  const seqs: ScheduledSequence[] = PROMPTS.map((p, i) => {
    const tokens = [...p, ...(generated[i] as number[])];
    return known
      ? { tokenIds: tokens, startPosition: tokens.length - 1, numScheduledTokens: 1, blockIds: BLOCKS[i] as number[], sampleThisStep: true }
      : { tokenIds: tokens, startPosition: tokens.length, numScheduledTokens: 1, blockIds: BLOCKS[i] as number[], sampleThisStep: true, continuesRow: i };
  });
  const counter = (generated[0] as number[]).length + (known ? 0 : 1);
  return { ...buildStepInput(seqs, BLOCK_SIZE), sampling: sampling(2, counter), returnLogits: true };
}

test('a step queued behind a running one and continuing it computes what it computes when built after it', async () => {
  const STEPS = 6;
  // Reference: each step built after the one before ended, with its sampled tokens.
  const ref = newModel();
  const refTokens: number[][] = [[], []];
  const refLogits: Float32Array[] = [];
  try {
    const first = await ref.step(prefill());
    first.tokenIds.forEach((t, i) => (refTokens[i] as number[]).push(t));
    for (let s = 0; s < STEPS; s++) {
      const r = await ref.step(decode(refTokens, true));
      refLogits.push(r.logits as Float32Array);
      r.tokenIds.forEach((t, i) => (refTokens[i] as number[]).push(t));
    }
  } finally {
    ref.close();
  }
  // Queued: every decode is handed over while the step before it still runs, its tokens unknown.
  const queued = newModel();
  const tokens: number[][] = [[], []];
  try {
    let running = queued.step(prefill());
    const placeholders: number[][] = [[], []];
    for (let s = 0; s < STEPS; s++) {
      const next = queued.step(decode(placeholders, false));
      assert.ok(next.then, 'a continued step is accepted while the one before it runs');
      const done = await running;
      if (s > 0) assert.deepEqual(done.logits, refLogits[s - 1], `decode ${s - 1}: logits differ`);
      done.tokenIds.forEach((t, i) => { (tokens[i] as number[]).push(t); (placeholders[i] as number[]).push(t); });
      running = next;
    }
    const last = await running;
    assert.deepEqual(last.logits, refLogits[STEPS - 1]);
    last.tokenIds.forEach((t, i) => (tokens[i] as number[]).push(t));
    assert.deepEqual(tokens, refTokens);
  } finally {
    queued.close();
  }
});

test('continuations are refused unless declared and in range; a third step, and closing, wait for the queue', async () => {
  const model = newModel();
  try {
    await model.step(prefill());
    const stray = decode([[0], [0]], false);
    delete stray.continuesPrevious;
    await assert.rejects(async () => model.step(stray), /tokenIds\[0\]: expected a token id in \[0, 320\), got -1/);
    const past = decode([[0], [0]], false);
    past.tokenIds[1] = -3;
    await assert.rejects(async () => model.step(past), /tokenIds\[1\]: .* or a row of the previous step in \[-2, -1\], got -3/);
    // The model still works; two in flight, then a third is refused, and close waits for neither.
    const a = model.step(decode([[5], [6]], true));
    const b = model.step(decode([[5, 0], [6, 0]], false));
    await assert.rejects(async () => model.step(prefill()), /already running and another is queued/);
    assert.throws(() => model.close(), /still running/);
    await a;
    await b;
  } finally {
    model.close();
  }
});
