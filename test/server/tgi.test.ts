// TGI routes with the real engine: @huggingface/inference (its textGeneration / textGenerationStream
// with an endpointUrl, which the v4 client sends to /v1/completions like TGI's own OpenAI route, and its
// request / streamingRequest against /generate and /generate_stream), plus raw fetch for details.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as hfRequest, streamingRequest as hfStreamingRequest, textGeneration, textGenerationStream } from '@huggingface/inference';
import { SERVED_NAME, direct, postJson, postSse, servedModel } from '../helpers/serving.js';

const serve = servedModel();
const PROMPT = 'Once upon a time';

interface TgiToken { id: number; text: string; logprob: number; special: boolean }
interface TgiEvent { index: number; token: TgiToken; top_tokens: TgiToken[] | null; generated_text: string | null; details: null | { finish_reason: string; generated_tokens: number; seed: number | null; input_length: number } }

// The v4 client logs a deprecation warning for request/streamingRequest; keep test output clean.
function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = () => undefined;
  return fn().finally(() => { console.warn = warn; });
}

test('@huggingface/inference textGeneration and textGenerationStream (endpointUrl)', async (t) => {
  const s = await serve(t);
  if (!s) return;
  const promptIds = await s.engine.tokenizer.encode(PROMPT);
  const [expected] = await direct(s.engine, { promptTokenIds: promptIds }, { temperature: 0, maxTokens: 16 });
  const out = await textGeneration({ endpointUrl: s.url, model: SERVED_NAME, inputs: PROMPT, parameters: { max_new_tokens: 16, temperature: 0 } });
  assert.equal(out.generated_text, expected?.text);
  let streamed = '';
  for await (const chunk of textGenerationStream({ endpointUrl: s.url, model: SERVED_NAME, inputs: PROMPT, parameters: { max_new_tokens: 16, temperature: 0 } })) {
    // The v4 client yields the server's chunks as they are: OpenAI completion chunks on this route.
    streamed += (chunk as unknown as { choices: Array<{ text: string }> }).choices[0]?.text ?? '';
  }
  assert.equal(streamed, expected?.text);
});

test('@huggingface/inference against /generate: greedy text, details, tokens', async (t) => {
  const s = await serve(t);
  if (!s) return;
  const promptIds = await s.engine.tokenizer.encode(PROMPT);
  const [expected] = await direct(s.engine, { promptTokenIds: promptIds }, { temperature: 0, maxTokens: 12, logprobs: 0 });
  const out = await quietly(() => hfRequest({ endpointUrl: `${s.url}/generate`, inputs: PROMPT, parameters: { max_new_tokens: 12, details: true } } as never)) as {
    generated_text: string; details: { finish_reason: string; generated_tokens: number; seed: number | null; prefill: unknown[]; tokens: TgiToken[]; top_tokens: unknown[] };
  };
  assert.equal(out.generated_text, expected?.text);
  assert.equal(out.details.generated_tokens, expected?.tokenIds.length);
  assert.equal(out.details.finish_reason, expected?.finishReason === 'length' ? 'length' : 'eos_token');
  assert.equal(out.details.seed, null, 'greedy: no seed');
  assert.deepEqual(out.details.tokens.map((tok) => tok.id), expected?.tokenIds);
  assert.deepEqual(out.details.tokens.map((tok) => tok.logprob), expected?.logprobs.map((l) => l.logprob));
  assert.equal(out.details.tokens.filter((tok) => !tok.special).map((tok) => tok.text).join(''), out.generated_text);
  assert.deepEqual(out.details.prefill, []);
});

test('@huggingface/inference against /generate_stream: one event per token, the last carries text and details', async (t) => {
  const s = await serve(t);
  if (!s) return;
  const whole = await postJson(`${s.url}/generate`, { inputs: PROMPT, parameters: { max_new_tokens: 20, details: true } });
  const events: TgiEvent[] = [];
  await quietly(async () => {
    for await (const e of hfStreamingRequest({ endpointUrl: `${s.url}/generate_stream`, inputs: PROMPT, parameters: { max_new_tokens: 20 } } as never)) events.push(e as TgiEvent);
  });
  const last = events[events.length - 1];
  assert.ok(last);
  assert.equal(events.length, whole.body.details.generated_tokens);
  assert.deepEqual(events.map((e) => e.index), events.map((_, i) => i + 1));
  assert.ok(events.slice(0, -1).every((e) => e.generated_text === null && e.details === null));
  assert.equal(last.generated_text, whole.body.generated_text);
  assert.equal(events.filter((e) => !e.token.special).map((e) => e.token.text).join(''), last.generated_text);
  assert.deepEqual(events.map((e) => e.token.id), whole.body.details.tokens.map((tok: TgiToken) => tok.id));
  assert.equal(last.details?.finish_reason, whole.body.details.finish_reason);
  assert.equal(last.details?.input_length, (await s.engine.tokenizer.encode(PROMPT)).length);
});

test('TGI sampling: do_sample with a seed is reproducible and reported; best_of and top_n_tokens', async (t) => {
  const s = await serve(t);
  if (!s) return;
  const body = { inputs: PROMPT, parameters: { max_new_tokens: 10, do_sample: true, seed: 42, details: true, top_n_tokens: 3 } };
  const a = await postJson(`${s.url}/generate`, body);
  const b = await postJson(`${s.url}/generate`, body);
  assert.equal(a.status, 200);
  assert.equal(a.body.generated_text, b.body.generated_text);
  assert.equal(a.body.details.seed, 42);
  const [expected] = await direct(s.engine, { promptTokenIds: await s.engine.tokenizer.encode(PROMPT) }, { temperature: 1, seed: 42, maxTokens: 10 });
  assert.equal(a.body.generated_text, expected?.text);
  assert.equal(a.body.details.top_tokens.length, a.body.details.generated_tokens);
  assert.ok(a.body.details.top_tokens.every((top: TgiToken[]) => top.length === 3));

  const random = await postJson(`${s.url}/generate`, { inputs: PROMPT, parameters: { max_new_tokens: 4, temperature: 0.9, details: true } });
  assert.equal(typeof random.body.details.seed, 'number', 'sampling without a seed reports the one drawn');

  const best = await postJson(`${s.url}/generate`, { inputs: PROMPT, parameters: { max_new_tokens: 8, best_of: 2, do_sample: true, details: true } });
  assert.equal(best.status, 200);
  assert.equal(best.body.details.best_of_sequences.length, 1);
  const sum = (tokens: TgiToken[]) => tokens.reduce((acc, tok) => acc + tok.logprob, 0);
  assert.ok(sum(best.body.details.tokens) >= sum(best.body.details.best_of_sequences[0].tokens));
});

test('TGI temperature, top_k, top_p, repetition_penalty: /generate equals the engine with the same sampling params and seed', async (t) => {
  const s = await serve(t);
  if (!s) return;
  const promptIds = await s.engine.tokenizer.encode(PROMPT);
  const seed = 1234;
  const maxTokens = 24;
  // Each TGI parameter set next to the engine's equivalent (TGI's defaults: temperature 1, no top-k/top-p, no penalty).
  const cases = {
    plain: [{}, { temperature: 1 }],
    cold: [{ temperature: 0.3 }, { temperature: 0.3 }],
    hot: [{ temperature: 1.8 }, { temperature: 1.8 }],
    topK1: [{ top_k: 1 }, { temperature: 1, topK: 1 }],
    topK3: [{ top_k: 3 }, { temperature: 1, topK: 3 }],
    topP: [{ top_p: 0.3 }, { temperature: 1, topP: 0.3 }],
    penalty: [{ repetition_penalty: 3 }, { temperature: 1, repetitionPenalty: 3 }],
    all: [{ temperature: 0.7, top_k: 20, top_p: 0.9, repetition_penalty: 1.3 }, { temperature: 0.7, topK: 20, topP: 0.9, repetitionPenalty: 1.3 }],
  } satisfies Record<string, [Record<string, number>, Record<string, number>]>;
  const texts: Record<string, string> = {};
  for (const [name, [tgi, engine]] of Object.entries(cases)) {
    const what = `${name} ${JSON.stringify(tgi)}`;
    const res = await postJson(`${s.url}/generate`, { inputs: PROMPT, parameters: { do_sample: true, seed, max_new_tokens: maxTokens, details: true, ...tgi } });
    assert.equal(res.status, 200, `${what}: ${JSON.stringify(res.body)}`);
    const [expected] = await direct(s.engine, { promptTokenIds: promptIds }, { ...engine, seed, maxTokens });
    assert.ok(expected);
    assert.equal(res.body.generated_text, expected.text, what);
    assert.deepEqual(res.body.details.tokens.map((tok: TgiToken) => tok.id), expected.tokenIds, what);
    assert.equal(res.body.details.seed, seed, what);
    texts[name] = res.body.generated_text;
  }
  // The parameters really change what is sampled with the same seed: top_k 1 is greedy whatever the
  // seed, and this seed's plain sample is not; a hot temperature and a strong penalty leave it.
  const [greedy] = await direct(s.engine, { promptTokenIds: promptIds }, { temperature: 0, maxTokens });
  assert.notEqual(texts.plain, greedy?.text, 'this seed samples off the greedy path at temperature 1');
  assert.equal(texts.topK1, greedy?.text);
  assert.equal(texts.cold, greedy?.text, 'temperature 0.3 sharpens this seed back onto the greedy path');
  assert.notEqual(texts.hot, texts.plain);
  assert.notEqual(texts.penalty, texts.plain);

  // Greedy (no do_sample, no warper) with repetition_penalty: the penalty still applies, as in TGI.
  const penalised = await postJson(`${s.url}/generate`, { inputs: PROMPT, parameters: { max_new_tokens: maxTokens, repetition_penalty: 3, details: true } });
  const [expectedPenalised] = await direct(s.engine, { promptTokenIds: promptIds }, { temperature: 0, repetitionPenalty: 3, maxTokens });
  assert.equal(penalised.body.details.seed, null);
  assert.equal(penalised.body.generated_text, expectedPenalised?.text);
  assert.notEqual(penalised.body.generated_text, greedy?.text);

  // temperature 1.0 changes nothing, so (as in TGI) it does not turn sampling on: greedy, no seed.
  const neutral = await postJson(`${s.url}/generate`, { inputs: PROMPT, parameters: { max_new_tokens: maxTokens, temperature: 1.0, details: true } });
  assert.equal(neutral.body.generated_text, greedy?.text);
  assert.equal(neutral.body.details.seed, null);

  // /generate_stream samples the same tokens for the same parameters and seed.
  const streamed = await postSse(`${s.url}/generate_stream`, { inputs: PROMPT, parameters: { do_sample: true, seed, max_new_tokens: maxTokens, ...cases.hot[0] } });
  const events = streamed.events as TgiEvent[];
  assert.equal(events.map((e) => e.token.text).join(''), texts.hot);
  assert.equal(events[events.length - 1]?.generated_text, texts.hot);
  assert.equal(events[events.length - 1]?.details?.seed, seed);
});

test('TGI: stop sequences, return_full_text, truncate, headers, POST / and /info', async (t) => {
  const s = await serve(t);
  if (!s) return;
  const plain = await postJson(`${s.url}/generate`, { inputs: PROMPT, parameters: { max_new_tokens: 30 } });
  const word = String(plain.body.generated_text).trim().split(' ')[2] ?? 'was';
  const stopped = await postJson(`${s.url}/generate`, { inputs: PROMPT, parameters: { max_new_tokens: 30, stop: [word], details: true } });
  assert.equal(stopped.body.details.finish_reason, 'stop_sequence');
  assert.equal(stopped.body.generated_text, plain.body.generated_text.slice(0, plain.body.generated_text.indexOf(word)));

  const full = await postJson(`${s.url}/generate`, { inputs: PROMPT, parameters: { max_new_tokens: 30, return_full_text: true, details: true } });
  assert.equal(full.body.generated_text, PROMPT + plain.body.generated_text);
  assert.equal(full.headers.get('x-compute-type'), 'cpu');
  assert.equal(full.headers.get('x-generated-tokens'), String(full.body.details.generated_tokens));
  assert.equal(full.headers.get('x-prompt-tokens'), String((await s.engine.tokenizer.encode(PROMPT)).length));

  const truncated = await postJson(`${s.url}/generate`, { inputs: `${PROMPT} ${PROMPT} ${PROMPT}`, parameters: { max_new_tokens: 2, truncate: 3 } });
  assert.equal(truncated.headers.get('x-prompt-tokens'), '3');

  const compat = await postJson(`${s.url}/`, { inputs: PROMPT, parameters: { max_new_tokens: 30 } });
  assert.deepEqual(compat.body, [{ generated_text: plain.body.generated_text }]);
  const compatStream = await postSse(`${s.url}/`, { inputs: PROMPT, stream: true, parameters: { max_new_tokens: 30 } });
  assert.equal((compatStream.events[compatStream.events.length - 1] as TgiEvent).generated_text, plain.body.generated_text);

  const info = await (await fetch(`${s.url}/info`)).json() as Record<string, unknown>;
  assert.equal(info.model_id, SERVED_NAME);
  assert.equal(info.max_total_tokens, s.engine.maxModelLen);
  assert.equal(info.max_input_tokens, s.engine.maxModelLen - 1);
  assert.equal(info.model_pipeline_tag, 'text-generation');
  assert.equal(typeof info.version, 'string');
});

test('TGI validation: 422 with error_type "validation" and TGI wording', async (t) => {
  const s = await serve(t);
  if (!s) return;
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ temperature: 0 }, /`temperature` must be strictly positive/],
    [{ top_p: 1 }, /`top_p` must be > 0.0 and < 1.0/],
    [{ top_k: 0 }, /`top_k` must be strictly positive/],
    [{ max_new_tokens: 0 }, /`max_new_tokens` must be strictly positive/],
    [{ best_of: 2 }, /you must use sampling when `best_of` is > 1/],
    [{ stop: ['a', 'b', 'c', 'd', 'e'] }, /`stop` supports up to 4 stop sequences. Given: 5/],
    [{ top_n_tokens: 9 }, /`top_n_tokens` must be >= 0 and <= 5. Given: 9/],
    [{ max_new_tokens: 1000 }, /`inputs` tokens \+ `max_new_tokens` must be <= 256. Given: \d+ `inputs` tokens and 1000 `max_new_tokens`/],
    [{ decoder_input_details: true }, /decoder_input_details/],
    [{ temperature: 'hot' }, /parameters.temperature: expected a number or null, got "hot"/],
  ];
  for (const [parameters, message] of cases) {
    const res = await postJson(`${s.url}/generate`, { inputs: PROMPT, parameters });
    assert.equal(res.status, 422, JSON.stringify(parameters));
    assert.equal(res.body.error_type, 'validation');
    assert.match(res.body.error, message);
  }
  const empty = await postJson(`${s.url}/generate`, { inputs: '' });
  assert.match(empty.body.error, /`inputs` cannot be empty/);
  const streamBestOf = await postJson(`${s.url}/generate_stream`, { inputs: PROMPT, parameters: { best_of: 2, do_sample: true } });
  assert.equal(streamBestOf.status, 422);
  assert.match(streamBestOf.body.error, /`best_of` != 1 is not supported when streaming tokens/);
});
