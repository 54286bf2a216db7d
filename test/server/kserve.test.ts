// KServe v2 / Open Inference Protocol and both Triton generate shapes, with raw fetch against the
// real engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SERVED_NAME, direct, postJson, postSse, servedModel } from '../helpers/serving.js';

const serve = servedModel();
const PROMPT = 'Once upon a time';

async function greedy(s: NonNullable<Awaited<ReturnType<typeof serve>>>, maxTokens: number) {
  const [sample] = await direct(s.engine, { promptTokenIds: await s.engine.tokenizer.encode(PROMPT) }, { temperature: 0, maxTokens });
  assert.ok(sample);
  return sample;
}

test('server and model metadata, health and readiness', async (t) => {
  const s = await serve(t);
  if (!s) return;
  const server = await (await fetch(`${s.url}/v2`)).json() as { name: string; version: string; extensions: string[] };
  assert.equal(server.name, 'kvserve');
  assert.ok(server.extensions.includes('generate'));
  assert.deepEqual(await (await fetch(`${s.url}/v2/health/live`)).json(), { live: true });
  assert.deepEqual(await (await fetch(`${s.url}/v2/health/ready`)).json(), { ready: true });
  for (const path of [`/v2/models/${SERVED_NAME}`, `/v2/models/${SERVED_NAME}/versions/1`]) {
    const meta = await (await fetch(s.url + path)).json() as { name: string; versions: string[]; inputs: Array<{ name: string; datatype: string }>; outputs: Array<{ name: string }> };
    assert.equal(meta.name, SERVED_NAME);
    assert.deepEqual(meta.versions, ['1']);
    assert.deepEqual(meta.inputs.find((i) => i.name === 'text_input'), { name: 'text_input', datatype: 'BYTES', shape: [-1] });
    assert.ok(meta.outputs.some((o) => o.name === 'text_output'));
  }
  assert.deepEqual(await (await fetch(`${s.url}/v2/models/${SERVED_NAME}/ready`)).json(), { name: SERVED_NAME, ready: true });
  const unknown = await fetch(`${s.url}/v2/models/nope`);
  assert.equal(unknown.status, 404);
  assert.deepEqual(await unknown.json(), { error: "Request for unknown model: 'nope' is not found" });
  const badVersion = await fetch(`${s.url}/v2/models/${SERVED_NAME}/versions/7/ready`);
  assert.equal(badVersion.status, 404);
});

test('infer: BYTES text_input in, text_output out (prompt prepended unless excluded), batches, extra outputs', async (t) => {
  const s = await serve(t);
  if (!s) return;
  const expected = await greedy(s, 10);
  const res = await postJson(`${s.url}/v2/models/${SERVED_NAME}/infer`, {
    id: 'req-1',
    parameters: { max_tokens: 10, temperature: 0 },
    inputs: [
      { name: 'text_input', datatype: 'BYTES', shape: [1], data: [PROMPT] },
      { name: 'return_num_output_tokens', datatype: 'BOOL', shape: [1], data: [true] },
    ],
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.model_name, SERVED_NAME);
  assert.equal(res.body.model_version, '1');
  assert.equal(res.body.id, 'req-1');
  assert.deepEqual(res.body.outputs, [
    { name: 'text_output', datatype: 'BYTES', shape: [1], data: [PROMPT + expected.text] },
    { name: 'num_output_tokens', datatype: 'UINT32', shape: [1], data: [expected.tokenIds.length] },
  ]);

  const batch = await postJson(`${s.url}/v2/models/${SERVED_NAME}/versions/1/infer`, {
    inputs: [
      { name: 'text_input', datatype: 'BYTES', shape: [2], data: [PROMPT, 'The dog'] },
      { name: 'exclude_input_in_output', datatype: 'BOOL', shape: [1], data: [true] },
      { name: 'sampling_parameters', datatype: 'BYTES', shape: [1], data: [JSON.stringify({ max_tokens: 10, temperature: 0 })] },
    ],
    outputs: [{ name: 'text_output' }],
  });
  assert.equal(batch.status, 200, JSON.stringify(batch.body));
  assert.equal(batch.body.outputs.length, 1);
  assert.deepEqual(batch.body.outputs[0].shape, [2]);
  assert.equal(batch.body.outputs[0].data[0], expected.text);
  assert.notEqual(batch.body.outputs[0].data[1], expected.text);

  const bad = await postJson(`${s.url}/v2/models/${SERVED_NAME}/infer`, { inputs: [{ name: 'text_input', datatype: 'FP32', shape: [1], data: [1] }] });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error, /inputs\[text_input\]\.datatype: expected "BYTES", got "FP32"/);
});

test('generate, current Triton shape: text_input + parameters -> text_output and the return_* outputs', async (t) => {
  const s = await serve(t);
  if (!s) return;
  const expected = await greedy(s, 12);
  const res = await postJson(`${s.url}/v2/models/${SERVED_NAME}/generate`, {
    text_input: PROMPT,
    parameters: { stream: false, temperature: 0, max_tokens: 12 },
    return_finish_reason: true,
    return_num_input_tokens: true,
    return_num_output_tokens: true,
    return_cumulative_logprob: true,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.model_name, SERVED_NAME);
  assert.equal(res.body.text_output, PROMPT + expected.text);
  assert.equal(res.body.finish_reason, expected.finishReason);
  assert.equal(res.body.num_input_tokens, (await s.engine.tokenizer.encode(PROMPT)).length);
  assert.equal(res.body.num_output_tokens, expected.tokenIds.length);
  assert.ok(res.body.cumulative_logprob <= 0);

  const excluded = await postJson(`${s.url}/v2/models/${SERVED_NAME}/versions/1/generate`, {
    text_input: PROMPT, exclude_input_in_output: true, sampling_parameters: JSON.stringify({ temperature: 0, max_tokens: 12 }),
  });
  assert.equal(excluded.body.text_output, expected.text);
});

test('generate, original vLLM-backend shape: prompt + sampling_parameters as a JSON string, sent the way curl -d sends it', async (t) => {
  const s = await serve(t);
  if (!s) return;
  // curl -d without -H sends application/x-www-form-urlencoded; the body is still JSON.
  const response = await fetch(`${s.url}/v2/models/${SERVED_NAME}/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: JSON.stringify({ prompt: PROMPT, stream: false, sampling_parameters: JSON.stringify({ temperature: 0.7, top_p: 0.95, max_tokens: 1024 }) }),
  });
  assert.equal(response.status, 200);
  const body = await response.json() as { model_name: string; text: string; response: string };
  assert.equal(body.model_name, SERVED_NAME);
  // The text under both names: `text` (the backend's output tensor) and `response` (what its example clients read).
  assert.equal(body.response, body.text);
  assert.ok(body.text.startsWith(PROMPT) && body.text.length > PROMPT.length);
  // max_tokens 1024 is clipped to the context the prompt leaves.
  const ids = await s.engine.tokenizer.encode(body.text.slice(PROMPT.length), { addSpecialTokens: false });
  assert.ok(ids.length <= s.engine.maxModelLen);

  const greedyLegacy = await postJson(`${s.url}/v2/models/${SERVED_NAME}/generate`, {
    prompt: PROMPT, stream: false, sampling_parameters: JSON.stringify({ temperature: 0, max_tokens: 8 }),
  });
  assert.equal(greedyLegacy.body.text, PROMPT + (await greedy(s, 8)).text);
  assert.equal(greedyLegacy.body.response, greedyLegacy.body.text);
});

test('generate_stream: deltas in the current shape, cumulative text in the original one', async (t) => {
  const s = await serve(t);
  if (!s) return;
  const expected = await greedy(s, 12);
  const current = await postSse(`${s.url}/v2/models/${SERVED_NAME}/generate_stream`, {
    text_input: PROMPT, stream: true, parameters: { temperature: 0, max_tokens: 12 }, return_finish_reason: true,
  });
  assert.equal(current.status, 200);
  const events = current.events as Array<{ text_output: string; finish_reason: string; model_name: string }>;
  assert.ok(events.length > 2);
  assert.equal(events.map((e) => e.text_output).join(''), expected.text);
  assert.equal(events[events.length - 1]?.finish_reason, expected.finishReason);
  assert.ok(events.slice(0, -1).every((e) => e.finish_reason === 'None'));

  const legacy = await postSse(`${s.url}/v2/models/${SERVED_NAME}/generate_stream`, {
    prompt: PROMPT, stream: true, sampling_parameters: JSON.stringify({ temperature: 0, max_tokens: 12 }),
  });
  const legacyEvents = legacy.events as Array<{ text: string; response: string }>;
  assert.ok(legacyEvents.every((e) => e.response === e.text));
  const texts = legacyEvents.map((e) => e.text);
  assert.equal(texts[texts.length - 1], PROMPT + expected.text);
  assert.ok(texts.every((text, i) => i === 0 || text.startsWith(texts[i - 1] ?? '')));

  const once = await postSse(`${s.url}/v2/models/${SERVED_NAME}/generate_stream`, { text_input: PROMPT, stream: false, parameters: { temperature: 0, max_tokens: 12 } });
  assert.equal(once.events.length, 1);
  assert.equal((once.events[0] as { text_output: string }).text_output, PROMPT + expected.text);
});

test('generate errors: unknown parameters, streaming rules, bad JSON strings', async (t) => {
  const s = await serve(t);
  if (!s) return;
  const url = `${s.url}/v2/models/${SERVED_NAME}`;
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['/generate', { text_input: PROMPT, parameters: { beam_width: 2 } }, /parameters\.beam_width: unknown parameter/],
    ['/generate', { text_input: PROMPT, stream: true }, /use \/generate_stream/],
    ['/generate', { text_input: PROMPT, parameters: { max_tokens: 'many' } }, /parameters\.max_tokens: expected an integer, got "many"/],
    ['/generate', { prompt: PROMPT, sampling_parameters: '{"temperature": ' }, /sampling_parameters: expected a JSON object string/],
    ['/generate', { parameters: {} }, /text_input: required field is missing/],
    ['/generate', { text_input: PROMPT, parameters: { temperature: -1 } }, /temperature: expected a number in \[0, 100\], got -1/],
    ['/generate_stream', { text_input: PROMPT, exclude_input_in_output: false }, /exclude_input_in_output/],
  ];
  for (const [path, body, message] of cases) {
    const res = await postJson(url + path, body);
    assert.equal(res.status, 400, `${path} ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
    assert.match(res.body.error, message);
  }
  const unknownModel = await postJson(`${s.url}/v2/models/other/generate`, { text_input: PROMPT });
  assert.equal(unknownModel.status, 404);
});
