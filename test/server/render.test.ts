// Renderers: engine events -> protocol bodies (pure functions, checked field by field).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TokenLogprob } from '../../lib/engine/types.js';
import { chatLogprobs, completionLogprobs, finiteLogprob, usageBody } from '../../lib/server/routes/openai/render.js';
import { deltaEvents, tgiFinishReason, tokensFor, topTokensFor } from '../../lib/server/routes/tgi/render.js';
import { extraOutputs, logprobsJson, toTensors } from '../../lib/server/routes/kserve/render.js';

const PIECES: Record<number, string> = { 1: '<s>', 2: '</s>', 10: ' Once', 11: ' upon', 12: ' a', 13: 'é' };
const tokenText = (id: number): string => PIECES[id] ?? `#${id}`;
const info = { tokenText, isSpecial: (id: number) => id === 1 || id === 2 };
const lp = (tokenId: number, logprob: number, top: Array<[number, number]> = []): TokenLogprob => ({
  tokenId, logprob, top: top.map(([t, l]) => ({ tokenId: t, logprob: l })),
});

test('usage adds totals and cached tokens', () => {
  assert.deepEqual(usageBody(7, 5, 3), { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12, prompt_tokens_details: { cached_tokens: 3 } });
});

test('completions logprobs: legacy shape with offsets from the echoed prompt', () => {
  const out = completionLogprobs([lp(10, -0.5, [[10, -0.5], [11, -1.5]]), lp(11, -0.25, [[11, -0.25], [12, -2]])], tokenText, 2, 4);
  assert.deepEqual(out, {
    text_offset: [4, 9],
    token_logprobs: [-0.5, -0.25],
    tokens: [' Once', ' upon'],
    top_logprobs: [{ ' Once': -0.5, ' upon': -1.5 }, { ' upon': -0.25, ' a': -2 }],
  });
  assert.equal(completionLogprobs([lp(10, -1)], tokenText, 0).top_logprobs, null);
  assert.equal(finiteLogprob(-Infinity), -9999);
});

test('chat logprobs: token, bytes and the requested number of alternatives', () => {
  const out = chatLogprobs([lp(13, -0.1, [[13, -0.1], [10, -3], [11, -4]])], tokenText, 2);
  assert.deepEqual(out.content[0], {
    token: 'é', logprob: -0.1, bytes: [0xc3, 0xa9],
    top_logprobs: [{ token: 'é', logprob: -0.1, bytes: [0xc3, 0xa9] }, { token: ' Once', logprob: -3, bytes: [32, 79, 110, 99, 101] }],
  });
});

test('TGI tokens: per-token texts when they add up, else the text on the last ordinary token', () => {
  assert.deepEqual(tokensFor([10, 11], ' Once upon', [lp(10, -1), lp(11, -2)], info).map((t) => t.text), [' Once', ' upon']);
  // Two byte tokens that only decode together: the character sits on the last one.
  assert.deepEqual(tokensFor([300, 301], 'é', null, info).map((t) => [t.text, t.logprob]), [['', 0], ['é', 0]]);
  // A special token keeps its own text and is flagged; it does not count toward the text.
  const withEos = tokensFor([12, 2], ' a', [lp(12, -0.5), lp(2, -0.1)], info);
  assert.deepEqual(withEos, [{ id: 12, text: ' a', logprob: -0.5, special: false }, { id: 2, text: '</s>', logprob: -0.1, special: true }]);
  assert.deepEqual(topTokensFor([lp(10, -1, [[10, -1], [1, -2]])], 1, info), [[{ id: 10, text: ' Once', logprob: -1, special: false }]]);
  assert.equal(tgiFinishReason('stop', 'END'), 'stop_sequence');
  assert.equal(tgiFinishReason('stop', 2), 'eos_token');
  assert.equal(tgiFinishReason('stop', undefined), 'eos_token');
  assert.equal(tgiFinishReason('length', undefined), 'length');
});

test('TGI stream events: one per token, numbered on', () => {
  const events = deltaEvents({ type: 'delta', index: 0, text: ' Once upon', tokenIds: [10, 11], logprobs: [lp(10, -1), lp(11, -2)] }, 5, 0, info);
  assert.deepEqual(events.map((e) => [e.index, e.token.text, e.top_tokens, e.generated_text, e.details]), [
    [5, ' Once', null, null, null],
    [6, ' upon', null, null, null],
  ]);
});

test('KServe outputs: vLLM-backend logprobs JSON, return_* flags and tensors', () => {
  const json = JSON.parse(logprobsJson([lp(10, -0.5, [[11, -0.2], [10, -0.5]])], tokenText)) as unknown;
  assert.deepEqual(json, [{ '10': { logprob: -0.5, rank: 2, decoded_token: ' Once' }, '11': { logprob: -0.2, rank: 1, decoded_token: ' upon' } }]);
  assert.equal(logprobsJson(null, tokenText), 'null');
  const extras = extraOutputs(
    { returnFinishReason: true, returnNumInputTokens: true, returnNumOutputTokens: true, returnCumulativeLogprob: true },
    { finishReason: 'length', tokenIds: [10, 11], logprobs: [lp(10, -0.5), lp(11, -0.25)], finished: true }, 7, tokenText);
  assert.deepEqual(extras, { finish_reason: 'length', cumulative_logprob: -0.75, num_input_tokens: 7, num_output_tokens: 2 });
  assert.equal(extraOutputs({ returnFinishReason: true }, { finishReason: 'stop', tokenIds: [], logprobs: null, finished: false }, 1, tokenText).finish_reason, 'None');
  const tensors = toTensors([{ text_output: 'a', num_output_tokens: 2 }, { text_output: 'b', num_output_tokens: 3 }], null);
  assert.deepEqual(tensors, [
    { name: 'text_output', datatype: 'BYTES', shape: [2], data: ['a', 'b'] },
    { name: 'num_output_tokens', datatype: 'UINT32', shape: [2], data: [2, 3] },
  ]);
  assert.deepEqual(toTensors([{ text_output: 'a', num_output_tokens: 2 }], ['text_output']).map((t) => t.name), ['text_output']);
});
