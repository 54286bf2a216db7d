import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSamplingInput } from '../../../lib/runner/build-sampling-input.js';
import { packSampleParams } from '../../../lib/runner/sample-params-packing.js';
import { validateSamplingParams } from '../../../lib/sampling/sampling-params.js';
import type { SamplingParamsInput } from '../../../lib/engine/types.js';
import { Request } from '../../../lib/scheduler/request.js';
import type { ScheduledRequest } from '../../../lib/scheduler/scheduler-output.js';

const VOCAB = 100;

function row(id: string, prompt: number[], output: number[], input: SamplingParamsInput, sampleThisStep = true): { scheduled: ScheduledRequest; source: { params: ReturnType<typeof validateSamplingParams>; seed: number } } {
  const params = validateSamplingParams(input, { vocabSize: VOCAB, maxModelLen: 64 });
  const request = Request.fromSamplingParams(id, prompt, params);
  for (const t of output) request.appendOutputToken(t);
  return {
    scheduled: { request, numScheduledTokens: 1, startPosition: request.numTokens - 1, blockIds: [0], sampleThisStep },
    source: { params, seed: 1000 + id.length },
  };
}

test('packs each sampled row as the reference packer does, with the histories and biases the row reads', () => {
  const rows = [
    row('greedy', [1, 2, 3], [4], { temperature: 0 }),
    row('chunk', [5, 6, 7, 8], [], { temperature: 0.7 }, false), // a prefill chunk samples nothing
    row('penalties', [9, 10], [11, 12], { temperature: 0.8, topK: 5, topP: 0.9, minP: 0.05, repetitionPenalty: 1.3, logprobs: 3 }),
    row('output-penalty', [13], [14, 15, 16], { temperature: 1, presencePenalty: 0.5, frequencyPenalty: 0.25 }),
    row('bias', [17], [], { temperature: 1, logitBias: { 3: 5, 42: -100 } }),
  ];
  const sources = new Map(rows.map((r) => [r.scheduled.request.requestId, r.source]));
  const input = buildSamplingInput(rows.map((r) => r.scheduled), sources);
  assert.deepEqual([...input.history], [9, 10, 11, 12, 14, 15, 16]);
  assert.deepEqual([...input.biasTokenIds], [3, 42]);
  assert.deepEqual([...input.biasValues], [5, -100]);
  assert.equal(input.maxLogprobs, 3);
  const expected = packSampleParams([
    { temperature: 0, topK: 0, topP: 1, minP: 0, seed: 1006, counter: 1 },
    { temperature: 0.8, topK: 5, topP: 0.9, minP: 0.05, repetitionPenalty: 1.3, seed: 1009, counter: 2, numLogprobs: 3, historyStart: 0, numPromptHistory: 2, numOutputHistory: 2 },
    { temperature: 1, presencePenalty: 0.5, frequencyPenalty: 0.25, seed: 1014, counter: 3, historyStart: 4, numOutputHistory: 3 },
    { temperature: 1, seed: 1004, counter: 0, historyStart: 7, biasStart: 0, numBias: 2 },
  ]);
  assert.deepEqual([...input.params], [...expected]);
});

test('a seed the doubles cannot carry exactly is refused', () => {
  const r = row('x', [1], [], { temperature: 1 });
  assert.throws(() => buildSamplingInput([r.scheduled], new Map([['x', { ...r.source, seed: 2 ** 53 }]])), /seed: expected an integer in \[0, 2\^53\)/);
});
