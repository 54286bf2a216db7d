// Error mapping: engine errors -> HTTP statuses, and each protocol's error shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvserveError, invalidArgument } from '../../lib/errors.js';
import { protocolOf, renderError } from '../../lib/server/error-render.js';
import { HttpError, fromEngineError, toHttpError } from '../../lib/server/http-error.js';
import { VLLM_PARAM_NAMES } from '../../lib/server/vllm-params.js';
import { TGI_PARAM_NAMES } from '../../lib/server/routes/tgi/params.js';

test('protocolOf routes errors to the protocol of the path', () => {
  assert.equal(protocolOf('/v1/chat/completions'), 'openai');
  assert.equal(protocolOf('/tokenize?x=1'), 'openai');
  assert.equal(protocolOf('/generate'), 'tgi');
  assert.equal(protocolOf('/generate_stream'), 'tgi');
  assert.equal(protocolOf('/info'), 'tgi');
  assert.equal(protocolOf('/'), 'tgi');
  assert.equal(protocolOf('/v2'), 'kserve');
  assert.equal(protocolOf('/v2/models/m/versions/1/generate'), 'kserve');
  assert.equal(protocolOf('/v2x'), 'openai');
});

test('engine errors map to statuses; invalid-argument messages use the protocol field names', () => {
  const bad = fromEngineError(invalidArgument('topP', 'a number in (0, 1]', 2), VLLM_PARAM_NAMES);
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.param, 'top_p');
  assert.equal(bad.message, 'top_p: expected a number in (0, 1], got 2');
  const indexed = fromEngineError(invalidArgument('stopTokenIds[1]', 'a token id in [0, 512)', 900), VLLM_PARAM_NAMES);
  assert.equal(indexed.message, 'stop_token_ids[1]: expected a token id in [0, 512), got 900');
  const keyed = fromEngineError(invalidArgument('logitBias key', 'a token id in [0, 512)', 'x'), VLLM_PARAM_NAMES);
  assert.equal(keyed.message, 'logit_bias key: expected a token id in [0, 512), got "x"');
  const tgi = fromEngineError(invalidArgument('maxTokens', 'an integer in [1, 512]', 0), TGI_PARAM_NAMES);
  assert.equal(tgi.message, 'max_new_tokens: expected an integer in [1, 512], got 0');

  const full = fromEngineError(new KvserveError('ERR_ENGINE_QUEUE_FULL', 'the waiting queue is full (8 requests)'));
  assert.equal(full.statusCode, 503);
  assert.equal(full.headers['retry-after'], '1');
  assert.equal(fromEngineError(new KvserveError('ERR_ENGINE_PROMPT_TOO_LONG', 'prompt has 600 tokens, max 512')).statusCode, 400);
  assert.equal(fromEngineError(new KvserveError('ERR_ENGINE_CLOSED', 'closed')).statusCode, 503);
  assert.equal(fromEngineError(new KvserveError('ERR_NATIVE_STEP', 'step failed')).statusCode, 500);
  assert.equal(toHttpError(new Error('boom')).statusCode, 500);
});

test('OpenAI, TGI and KServe error shapes', () => {
  const err = new HttpError(400, 'invalid_request', 'temperature: expected a number >= 0, got -1', { param: 'temperature' });
  assert.deepEqual(renderError(err, 'openai'), {
    statusCode: 400,
    headers: {},
    body: { error: { message: err.message, type: 'invalid_request_error', param: 'temperature', code: null } },
  });
  // TGI: validation is 422 with error_type "validation"; an overloaded queue is 429.
  assert.deepEqual(renderError(err, 'tgi').body, { error: `Input validation error: ${err.message}`, error_type: 'validation' });
  assert.equal(renderError(err, 'tgi').statusCode, 422);
  const overloaded = fromEngineError(new KvserveError('ERR_ENGINE_QUEUE_FULL', 'full'));
  assert.equal(renderError(overloaded, 'tgi').statusCode, 429);
  assert.deepEqual(renderError(overloaded, 'tgi').body, { error: 'full', error_type: 'overloaded' });
  assert.equal(renderError(overloaded, 'tgi').headers['retry-after'], '1');
  assert.equal(renderError(overloaded, 'openai').statusCode, 503);
  assert.deepEqual(renderError(err, 'kserve'), { statusCode: 400, headers: {}, body: { error: err.message } });
  const unauthorized = new HttpError(401, 'unauthorized', 'Incorrect API key provided');
  assert.equal((renderError(unauthorized, 'openai').body as { error: { code: string } }).error.code, 'invalid_api_key');
});
