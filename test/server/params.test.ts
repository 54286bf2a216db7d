// Protocol parameters -> engine parameters, without a model: vLLM fields, Triton parameters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpError } from '../../lib/server/http-error.js';
import { resolveMaxTokens, samplingFromVllmFields } from '../../lib/server/vllm-params.js';
import { clampMaxTokens, parseSamplingParameters, readParams, type TritonParams } from '../../lib/server/routes/kserve/params.js';

const rejects400 = (fn: () => unknown, message: RegExp) =>
  assert.throws(fn, (err: unknown) => err instanceof HttpError && err.statusCode === 400 && message.test(err.message));

test('vLLM fields become engine fields; -1 top_k is off; one stop string becomes a list', () => {
  assert.deepEqual(samplingFromVllmFields({
    n: 2, temperature: 0.5, top_p: 0.9, top_k: -1, min_p: 0.1, repetition_penalty: 1.1, presence_penalty: 0.5,
    frequency_penalty: -0.5, seed: 7, min_tokens: 3, stop: 'END', stop_token_ids: [2], ignore_eos: true,
    skip_special_tokens: false, include_stop_str_in_output: true, logit_bias: { '5': -100, '10': 2.5 },
  }, 512), {
    n: 2, temperature: 0.5, topP: 0.9, minP: 0.1, repetitionPenalty: 1.1, presencePenalty: 0.5, frequencyPenalty: -0.5,
    seed: 7, minTokens: 3, stop: ['END'], stopTokenIds: [2], ignoreEos: true, skipSpecialTokens: false,
    includeStopStrInOutput: true, logitBias: { 5: -100, 10: 2.5 },
  });
  assert.deepEqual(samplingFromVllmFields({ top_k: 40, temperature: null }, 512), { topK: 40 });
  rejects400(() => samplingFromVllmFields({ logit_bias: { abc: 1 } }, 512), /^logit_bias: expected token ids .* got "abc"$/);
  rejects400(() => samplingFromVllmFields({ logit_bias: { '512': 1 } }, 512), /below the vocabulary size 512/);
  rejects400(() => samplingFromVllmFields({ stop_token_ids: [600] }, 512), /^stop_token_ids: .* got 600$/);
});

test('resolveMaxTokens follows vLLM: the prompt must leave room, an explicit max must fit', () => {
  assert.equal(resolveMaxTokens(10, undefined, 512), 502);
  assert.equal(resolveMaxTokens(10, 100, 512), 100);
  assert.equal(resolveMaxTokens(10, 502, 512), 502);
  rejects400(() => resolveMaxTokens(10, 503, 512), /'max_tokens' or 'max_completion_tokens' is too large: 503\. .* 512 tokens and your request has 10 input tokens/);
  rejects400(() => resolveMaxTokens(512, 1, 512), /maximum context length is 512 tokens\. However, your request has 512 input tokens/);
});

test('Triton parameters: strings converted like the vLLM backend does, flags read, unknown keys refused', () => {
  const p: TritonParams = { sampling: {}, flags: {} };
  readParams(p, { temperature: '0.7', top_p: 0.95, max_tokens: '1024', stop: 'x', stream: 'false', return_finish_reason: true }, 'parameters');
  readParams(p, parseSamplingParameters('{"temperature": 0.2, "seed": 3, "ignore_eos": "true"}', 'sampling_parameters'), 'sampling_parameters');
  assert.deepEqual(p.sampling, { temperature: 0.2, top_p: 0.95, max_tokens: 1024, stop: ['x'], seed: 3, ignore_eos: true });
  assert.deepEqual(p.flags, { stream: false, returnFinishReason: true });
  rejects400(() => readParams(p, { max_tokens: 'ten' }, 'parameters'), /^parameters\.max_tokens: expected an integer, got "ten"$/);
  rejects400(() => readParams(p, { temperature: 'hot' }, ''), /^temperature: expected a number, got "hot"$/);
  rejects400(() => readParams(p, { stream: 'maybe' }, ''), /^stream: expected a boolean/);
  rejects400(() => readParams(p, { beam_width: 4 }, 'parameters'), /^parameters\.beam_width: unknown parameter/);
  rejects400(() => readParams(p, { lora_name: 'x' }, ''), /LoRA adapters are not supported/);
  rejects400(() => parseSamplingParameters('{"temperature": ', 'sampling_parameters'), /^sampling_parameters: expected a JSON object string/);
  rejects400(() => parseSamplingParameters('[1]', 'sampling_parameters'), /^sampling_parameters: expected a JSON object/);
});

test('Triton max_tokens: 16 by default, clipped to the context left, prompt must leave room', () => {
  assert.equal(clampMaxTokens(undefined, 10, 512), 16);
  assert.equal(clampMaxTokens(1024, 10, 512), 502);
  rejects400(() => clampMaxTokens(5, 512, 512), /prompt has 512 tokens but the model's maximum length is 512/);
  rejects400(() => clampMaxTokens(0, 5, 512), /max_tokens: expected an integer >= 1, got 0/);
});
