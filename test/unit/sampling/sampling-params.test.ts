import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvserveError } from '../../../lib/errors.js';
import {
  snakeCaseFieldName, validateSamplingParams, VLLM_DEFAULTS, type SamplingParamsInput,
} from '../../../lib/sampling/sampling-params.js';
import { Request } from '../../../lib/scheduler/request.js';

const options = { vocabSize: 32000, maxModelLen: 2048 };
const validate = (input: unknown, extra: Partial<Parameters<typeof validateSamplingParams>[1]> = {}) =>
  validateSamplingParams(input as SamplingParamsInput, { ...options, ...extra });

/** Asserts ERR_INVALID_ARGUMENT with exactly this message. */
function rejects(input: unknown, message: string, extra: Partial<Parameters<typeof validateSamplingParams>[1]> = {}): void {
  assert.throws(() => validate(input, extra), (e: unknown) => {
    assert.ok(e instanceof KvserveError);
    assert.equal(e.code, 'ERR_INVALID_ARGUMENT');
    assert.equal(e.message, message);
    return true;
  });
}

test('no input gives vLLM defaults (maxTokens null = up to maxModelLen - prompt)', () => {
  assert.deepEqual(validate(undefined), VLLM_DEFAULTS);
  assert.deepEqual(validate({}), VLLM_DEFAULTS);
  assert.deepEqual(validate({ temperature: null, maxTokens: null }), VLLM_DEFAULTS, 'null means not given');
  assert.equal(VLLM_DEFAULTS.temperature, 1);
  assert.equal(VLLM_DEFAULTS.topP, 1);
  assert.equal(VLLM_DEFAULTS.topK, 0);
  assert.equal(VLLM_DEFAULTS.maxTokens, null);
});

test('model defaults (generation_config) fill what the input leaves out; the input wins', () => {
  const defaults = { temperature: 0.6, topP: 0.9, topK: 50, repetitionPenalty: 1.1 };
  const params = validate({ topP: 0.5 }, { defaults });
  assert.equal(params.temperature, 0.6);
  assert.equal(params.topP, 0.5);
  assert.equal(params.topK, 50);
  assert.equal(params.repetitionPenalty, 1.1);
  assert.equal(params.minP, 0, 'vLLM default for the rest');
  rejects({}, 'topP: expected a number in (0, 1], got 2', { defaults: { topP: 2 } });
});

test('greedy (temperature 0) turns the other filters off; topK -1 and topK >= vocab mean off', () => {
  const greedy = validate({ temperature: 0, topK: 5, topP: 0.3, minP: 0.2 });
  assert.deepEqual([greedy.temperature, greedy.topK, greedy.topP, greedy.minP], [0, 0, 1, 0]);
  assert.equal(validate({ topK: -1 }).topK, 0);
  assert.equal(validate({ topK: 40 }).topK, 40);
  assert.equal(validate({ topK: 32000 }).topK, 0);
});

test('range errors name the field, the allowed range and the value', () => {
  rejects({ temperature: -1 }, 'temperature: expected a number in [0, 100], got -1');
  rejects({ temperature: 'hot' }, 'temperature: expected a number in [0, 100], got "hot"');
  rejects({ temperature: Number.NaN }, 'temperature: expected a number in [0, 100], got NaN');
  rejects({ topP: 0 }, 'topP: expected a number in (0, 1], got 0');
  rejects({ topP: 1.5 }, 'topP: expected a number in (0, 1], got 1.5');
  rejects({ topK: -2 }, 'topK: expected an integer >= -1 (-1 or 0 = off), got -2');
  rejects({ topK: 2.5 }, 'topK: expected an integer >= -1 (-1 or 0 = off), got 2.5');
  rejects({ minP: 1.1 }, 'minP: expected a number in [0, 1], got 1.1');
  rejects({ repetitionPenalty: 0 }, 'repetitionPenalty: expected a number in (0, inf), got 0');
  rejects({ presencePenalty: 2.5 }, 'presencePenalty: expected a number in [-2, 2], got 2.5');
  rejects({ frequencyPenalty: -3 }, 'frequencyPenalty: expected a number in [-2, 2], got -3');
  rejects({ n: 0 }, 'n: expected an integer >= 1, got 0');
  rejects({ seed: 1.5 }, 'seed: expected a safe integer, got 1.5');
  rejects({ maxTokens: 0 }, 'maxTokens: expected an integer in [1, 2048], got 0');
  rejects({ maxTokens: 4096 }, 'maxTokens: expected an integer in [1, 2048], got 4096');
  rejects({ maxTokens: 10, minTokens: 11 }, 'minTokens: expected an integer in [0, maxTokens = 10], got 11');
  rejects({ minTokens: -1 }, 'minTokens: expected an integer in [0, 2048], got -1');
  rejects({ logprobs: 21 }, 'logprobs: expected an integer in [0, 20], got 21');
  rejects({ ignoreEos: 'yes' }, 'ignoreEos: expected a boolean, got "yes"');
  rejects('hot', 'sampling parameters: expected an object, got "hot"');
});

test('stop strings: one string or up to 16 non-empty strings', () => {
  assert.deepEqual(validate({ stop: 'END' }).stop, ['END']);
  assert.deepEqual(validate({ stop: ['a', 'b'] }).stop, ['a', 'b']);
  rejects({ stop: ['a', ''] }, 'stop[1]: expected a non-empty string, got ""');
  rejects({ stop: [1] }, 'stop[0]: expected a non-empty string, got 1');
  rejects({ stop: Array.from({ length: 17 }, (_, i) => `s${i}`) }, 'stop: expected at most 16 stop strings, got "17 strings"');
  rejects({ stop: 5 }, 'stop: expected a string or an array of strings, got 5');
});

test('token ids (stopTokenIds, logitBias keys) must be in the vocabulary; biases in [-100, 100]', () => {
  assert.deepEqual(validate({ stopTokenIds: [0, 31999] }).stopTokenIds, [0, 31999]);
  rejects({ stopTokenIds: [32000] }, 'stopTokenIds[0]: expected a token id in [0, 32000), got 32000');
  assert.deepEqual(validate({ logitBias: { 5: -100, '7': 2.5 } }).logitBias, { 5: -100, 7: 2.5 });
  rejects({ logitBias: { 32000: 1 } }, 'logitBias key: expected a token id in [0, 32000), got "32000"');
  rejects({ logitBias: { '-1': 1 } }, 'logitBias key: expected a token id in [0, 32000), got "-1"');
  rejects({ logitBias: { abc: 1 } }, 'logitBias key: expected a token id in [0, 32000), got "abc"');
  rejects({ logitBias: { 5: 101 } }, 'logitBias[5]: expected a number in [-100, 100], got 101');
  rejects({ logitBias: [1, 2] }, 'logitBias: expected an object mapping token ids to numbers, got [1,2]');
});

test('unknown fields are rejected by name; field names can be rendered snake_case for HTTP routes', () => {
  assert.throws(() => validate({ temprature: 1 }), (e: unknown) =>
    e instanceof KvserveError && e.code === 'ERR_INVALID_ARGUMENT' && /unknown field "temprature"/.test(e.message) && /temperature/.test(e.message));
  rejects({ topP: 0 }, 'top_p: expected a number in (0, 1], got 0', { fieldName: snakeCaseFieldName });
  rejects({ stop: [''] }, 'stop[0]: expected a non-empty string, got ""', { fieldName: snakeCaseFieldName });
  assert.equal(snakeCaseFieldName('includeStopStrInOutput'), 'include_stop_str_in_output');
});

test('Request.fromSamplingParams carries the limits the scheduler needs', () => {
  const params = validate({ maxTokens: 7, minTokens: 2, stopTokenIds: [9], ignoreEos: true });
  const request = Request.fromSamplingParams('r', [1, 2, 3], params, { eosTokenIds: [2], priority: 3, cacheSalt: 's' });
  assert.equal(request.maxTokens, 7);
  assert.equal(request.minTokens, 2);
  assert.equal(request.ignoreEos, true);
  assert.deepEqual([...request.stopTokenIds], [9]);
  assert.deepEqual([...request.eosTokenIds], [2]);
  assert.equal(request.priority, 3);
  assert.equal(request.cacheSalt, 's');
  assert.equal(request.samplingParams, params);
  assert.equal(request.numTokens, 3);
  request.appendOutputToken(5);
  assert.deepEqual(request.allTokenIds, [1, 2, 3, 5]);
  assert.deepEqual(request.outputTokenIds, [5]);
});
