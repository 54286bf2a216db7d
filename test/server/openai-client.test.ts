// The official `openai` npm client against the server (real engine, real tiny model): every result
// is compared with what the engine generates directly for the same request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { EXPECTED_TEXT } from '../helpers/models.js';
import { SERVED_NAME, STORY_TEMPLATE, direct, servedModel, type Served } from '../helpers/serving.js';

const serve = servedModel();
const PROMPT = 'Once upon a time';

async function setup(t: import('node:test').TestContext) {
  const served = await serve(t);
  if (!served) return null;
  return { ...served, client: new OpenAI({ baseURL: `${served.url}/v1`, apiKey: 'not-needed', maxRetries: 0 }) };
}

test('models.list shows the served name and the context length', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const models = await s.client.models.list();
  assert.equal(models.data[0]?.id, SERVED_NAME);
  assert.equal((models.data[0] as unknown as { max_model_len: number }).max_model_len, s.engine.maxModelLen);
});

test('completions, greedy: the text, ids and usage the engine produces; the model continues the story', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const res = await s.client.completions.create({ model: SERVED_NAME, prompt: PROMPT, max_tokens: 24, temperature: 0 });
  const promptIds = await s.engine.tokenizer.encode(PROMPT, { addSpecialTokens: true });
  const [expected] = await direct(s.engine, { promptTokenIds: promptIds }, { temperature: 0, maxTokens: 24 });
  assert.ok(expected);
  assert.equal(res.object, 'text_completion');
  assert.equal(res.model, SERVED_NAME);
  assert.equal(res.choices.length, 1);
  assert.equal(res.choices[0]?.text, expected.text);
  assert.equal(res.choices[0]?.finish_reason, expected.finishReason);
  assert.equal(res.usage?.prompt_tokens, promptIds.length);
  assert.equal(res.usage?.completion_tokens, expected.tokenIds.length);
  assert.equal(res.usage?.total_tokens, promptIds.length + expected.tokenIds.length);
  // The real model: greedy continuation of the story the reference run produced.
  assert.ok(EXPECTED_TEXT.stories260k.startsWith(`${PROMPT}${res.choices[0]?.text ?? ''}`.slice(0, 40)),
    `unexpected continuation: ${JSON.stringify(res.choices[0]?.text)}`);
});

test('completions, streaming: chunks add up to the non-streamed text; include_usage ends with usage', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const body = { model: SERVED_NAME, prompt: PROMPT, max_tokens: 20, temperature: 0 } as const;
  const whole = await s.client.completions.create(body);
  const stream = await s.client.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | null | undefined = null;
  let numChunks = 0;
  for await (const chunk of stream) {
    numChunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.text;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(text, whole.choices[0]?.text);
  assert.equal(finish, whole.choices[0]?.finish_reason);
  assert.deepEqual(usage, whole.usage);
  assert.ok(numChunks >= 3, `only ${numChunks} chunks: not streamed`);
});

test('completions: n samples, seed, several prompts and logprobs', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const res = await s.client.completions.create({ model: SERVED_NAME, prompt: PROMPT, max_tokens: 12, temperature: 1, n: 3, seed: 11 });
  assert.deepEqual(res.choices.map((c) => c.index), [0, 1, 2]);
  const promptIds = await s.engine.tokenizer.encode(PROMPT);
  const expected = await direct(s.engine, { promptTokenIds: promptIds }, { temperature: 1, n: 3, seed: 11, maxTokens: 12 });
  assert.deepEqual(res.choices.map((c) => c.text), expected.map((e) => e.text));
  assert.equal(res.usage?.completion_tokens, expected.reduce((sum, e) => sum + e.tokenIds.length, 0));
  const again = await s.client.completions.create({ model: SERVED_NAME, prompt: PROMPT, max_tokens: 12, temperature: 1, n: 3, seed: 11 });
  assert.deepEqual(again.choices.map((c) => c.text), res.choices.map((c) => c.text));

  const multi = await s.client.completions.create({ model: SERVED_NAME, prompt: ['Once upon a time', 'The cat'], max_tokens: 6, temperature: 0, n: 2 });
  assert.deepEqual(multi.choices.map((c) => c.index), [0, 1, 2, 3]);
  assert.equal(multi.choices[0]?.text, multi.choices[1]?.text);
  assert.notEqual(multi.choices[0]?.text, multi.choices[2]?.text);

  const lp = await s.client.completions.create({ model: SERVED_NAME, prompt: PROMPT, max_tokens: 8, temperature: 0, logprobs: 3 });
  const logprobs = lp.choices[0]?.logprobs;
  assert.ok(logprobs?.tokens && logprobs.token_logprobs && logprobs.top_logprobs && logprobs.text_offset);
  assert.equal(logprobs.tokens.length, lp.usage?.completion_tokens);
  assert.equal(logprobs.tokens.join(''), lp.choices[0]?.text);
  for (let i = 0; i < logprobs.tokens.length; i++) {
    const top = logprobs.top_logprobs[i] ?? {};
    const values = Object.values(top);
    assert.ok(values.length >= 1 && values.length <= 3);
    // Greedy picks the most likely token: its logprob is the best of the alternatives.
    assert.ok(Math.abs((logprobs.token_logprobs[i] ?? 0) - Math.max(...values)) < 1e-4);
    assert.ok((logprobs.token_logprobs[i] ?? 1) <= 0);
  }
  assert.deepEqual(logprobs.text_offset.slice(0, 2), [0, logprobs.tokens[0]?.length]);
});

test('completions: stop strings, vLLM extras and penalties reach the engine unchanged', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const promptIds = await s.engine.tokenizer.encode(PROMPT);
  const greedy = await direct(s.engine, { promptTokenIds: promptIds }, { temperature: 0, maxTokens: 40 });
  const full = greedy[0]?.text ?? '';
  const stopWord = full.trim().split(' ').slice(2, 3)[0] ?? 'was';
  const stopped = await s.client.completions.create({ model: SERVED_NAME, prompt: PROMPT, max_tokens: 40, temperature: 0, stop: [stopWord] });
  assert.equal(stopped.choices[0]?.finish_reason, 'stop');
  assert.equal((stopped.choices[0] as unknown as { stop_reason: string }).stop_reason, stopWord);
  assert.equal(stopped.choices[0]?.text, full.slice(0, full.indexOf(stopWord)));

  const extras = {
    temperature: 0.8, seed: 3, top_k: 20, min_p: 0.05, top_p: 0.9, repetition_penalty: 1.3, presence_penalty: 0.5,
    frequency_penalty: 0.4, min_tokens: 10, ignore_eos: true,
  };
  const res = await s.client.completions.create({ model: SERVED_NAME, prompt: PROMPT, max_tokens: 16, ...extras } as OpenAI.CompletionCreateParamsNonStreaming);
  const [expected] = await direct(s.engine, { promptTokenIds: promptIds }, {
    temperature: 0.8, seed: 3, topK: 20, minP: 0.05, topP: 0.9, repetitionPenalty: 1.3, presencePenalty: 0.5,
    frequencyPenalty: 0.4, minTokens: 10, ignoreEos: true, maxTokens: 16,
  });
  assert.equal(res.choices[0]?.text, expected?.text);
  assert.equal(res.usage?.completion_tokens, 16);

  // logit_bias: +100 on one token makes greedy decoding choose it every time.
  const forced = promptIds[promptIds.length - 1] ?? 1;
  const biased = await s.client.completions.create({ model: SERVED_NAME, prompt: PROMPT, max_tokens: 5, temperature: 0, logit_bias: { [forced]: 100 } });
  const [reference] = await direct(s.engine, { promptTokenIds: promptIds }, { temperature: 0, maxTokens: 5, logitBias: { [forced]: 100 } });
  assert.deepEqual(reference?.tokenIds, new Array(5).fill(forced));
  assert.equal(biased.choices[0]?.text, reference?.text);
});

test('completions: stop_token_ids and include_stop_str_in_output', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const promptIds = await s.engine.tokenizer.encode(PROMPT);
  const [greedy] = await direct(s.engine, { promptTokenIds: promptIds }, { temperature: 0, maxTokens: 30 });
  const stopId = greedy?.tokenIds[3];
  assert.ok(stopId !== undefined);
  const res = await s.client.completions.create({ model: SERVED_NAME, prompt: PROMPT, max_tokens: 30, temperature: 0, stop_token_ids: [stopId] } as OpenAI.CompletionCreateParamsNonStreaming);
  const [expected] = await direct(s.engine, { promptTokenIds: promptIds }, { temperature: 0, maxTokens: 30, stopTokenIds: [stopId] });
  assert.equal(res.choices[0]?.finish_reason, 'stop');
  assert.equal((res.choices[0] as unknown as { stop_reason: number }).stop_reason, stopId);
  assert.equal(res.choices[0]?.text, expected?.text);
  assert.equal(res.usage?.completion_tokens, 4);

  const full = greedy?.text ?? '';
  const word = full.trim().split(' ')[3] ?? 'girl';
  const kept = await s.client.completions.create({ model: SERVED_NAME, prompt: PROMPT, max_tokens: 30, temperature: 0, stop: [word], include_stop_str_in_output: true } as OpenAI.CompletionCreateParamsNonStreaming);
  assert.equal(kept.choices[0]?.text, full.slice(0, full.indexOf(word) + word.length));
});

test('chat: template, greedy result, streaming with role and logprobs, usage', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const messages = [{ role: 'user' as const, content: 'Once upon a time, there was a cat.' }];
  const res = await s.client.chat.completions.create({ model: SERVED_NAME, messages, max_completion_tokens: 20, temperature: 0, logprobs: true, top_logprobs: 2 });
  const text = s.engine.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true, template: STORY_TEMPLATE });
  const promptIds = await s.engine.tokenizer.encode(text, { addSpecialTokens: false });
  const [expected] = await direct(s.engine, { promptTokenIds: promptIds }, { temperature: 0, maxTokens: 20, logprobs: 2 });
  assert.equal(res.object, 'chat.completion');
  assert.equal(res.choices[0]?.message.role, 'assistant');
  assert.equal(res.choices[0]?.message.content, expected?.text);
  assert.equal(res.usage?.prompt_tokens, promptIds.length);
  const content = res.choices[0]?.logprobs?.content ?? [];
  assert.equal(content.length, res.usage?.completion_tokens);
  assert.ok(content.every((c) => c.top_logprobs.length >= 1 && c.top_logprobs.length <= 2 && c.bytes !== null));
  assert.deepEqual(content.map((c) => c.logprob), expected?.logprobs.map((l) => l.logprob));

  const stream = await s.client.chat.completions.create({
    model: SERVED_NAME, messages, max_tokens: 20, temperature: 0, stream: true, stream_options: { include_usage: true }, logprobs: true,
  });
  let streamed = '';
  let role: string | undefined;
  let usage: OpenAI.CompletionUsage | undefined;
  let numLogprobs = 0;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    role ??= choice.delta.role;
    streamed += choice.delta.content ?? '';
    numLogprobs += choice.logprobs?.content?.length ?? 0;
  }
  assert.equal(role, 'assistant');
  assert.equal(streamed, res.choices[0]?.message.content);
  assert.deepEqual(usage, res.usage);
  assert.equal(numLogprobs, res.usage?.completion_tokens);
});

test('chat: n choices with a seed and stop', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const res = await s.client.chat.completions.create({
    model: SERVED_NAME, messages: [{ role: 'user', content: 'Once upon a time' }], n: 2, seed: 5, temperature: 1, max_tokens: 10,
  });
  assert.deepEqual(res.choices.map((c) => c.index), [0, 1]);
  assert.ok(res.choices.every((c) => c.finish_reason === 'length' || c.finish_reason === 'stop'));
  const again = await s.client.chat.completions.create({
    model: SERVED_NAME, messages: [{ role: 'user', content: 'Once upon a time' }], n: 2, seed: 5, temperature: 1, max_tokens: 10,
  });
  assert.deepEqual(again.choices.map((c) => c.message.content), res.choices.map((c) => c.message.content));
});

test('client errors: status classes and OpenAI error bodies', async (t) => {
  const s = await setup(t);
  if (!s) return;
  await assert.rejects(s.client.completions.create({ model: SERVED_NAME, prompt: PROMPT, temperature: -1 }), (err: unknown) => {
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.match(err.message, /temperature: expected a number >= 0, got -1/);
    return true;
  });
  await assert.rejects(s.client.completions.create({ model: 'gpt-4', prompt: PROMPT }), (err: unknown) => {
    assert.ok(err instanceof OpenAI.NotFoundError);
    assert.match(err.message, /The model `gpt-4` does not exist/);
    return true;
  });
  await assert.rejects(s.client.completions.create({ model: SERVED_NAME, prompt: PROMPT, max_tokens: 10_000 }), (err: unknown) => {
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.match(err.message, /maximum context length is 256 tokens and your request has \d+ input tokens/);
    return true;
  });
});

/** The text `outputIds` add after the prompt when the whole sequence is decoded at once (a leading space kept). */
function decodeAfter(tokenizer: Served['engine']['tokenizer'], promptIds: number[], outputIds: number[], skipSpecialTokens: boolean): string {
  const before = tokenizer.decode(promptIds, { skipSpecialTokens });
  const whole = tokenizer.decode([...promptIds, ...outputIds], { skipSpecialTokens });
  assert.ok(whole.startsWith(before), `${JSON.stringify(whole)} starts with the prompt ${JSON.stringify(before)}`);
  return whole.slice(before.length);
}

test('skip_special_tokens: the default hides special tokens the model emits, false shows them (completions, streaming, chat)', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const tokenizer = s.engine.tokenizer;
  // Greedy from "The cat", stories260K ends its story and starts the next one with <s> (id 1, a
  // special token) at output position 209: a natural special token in the middle of the text.
  const prompt = 'The cat';
  const bos = '<s>';
  const promptIds = await tokenizer.encode(prompt);
  const maxTokens = 215;
  const body = { model: SERVED_NAME, prompt, max_tokens: maxTokens, temperature: 0 };
  const hidden = await s.client.completions.create(body);
  const shown = await s.client.completions.create({ ...body, skip_special_tokens: false } as OpenAI.CompletionCreateParamsNonStreaming);

  const [reference] = await direct(s.engine, { promptTokenIds: promptIds }, { temperature: 0, maxTokens, skipSpecialTokens: false });
  assert.ok(reference);
  const specialIds = reference.tokenIds.filter((id) => tokenizer.isSpecial(id));
  assert.deepEqual(specialIds, [1], `expected the model to emit <s> once, got ${JSON.stringify(specialIds)}`);
  assert.equal(tokenizer.tokenText(1), bos);
  assert.equal(shown.choices[0]?.text, reference.text);
  assert.equal(shown.choices[0]?.text, decodeAfter(tokenizer, promptIds, reference.tokenIds, false));
  assert.equal(hidden.choices[0]?.text, decodeAfter(tokenizer, promptIds, reference.tokenIds, true));
  const [defaults] = await direct(s.engine, { promptTokenIds: promptIds }, { temperature: 0, maxTokens });
  assert.equal(hidden.choices[0]?.text, defaults?.text);
  assert.equal(shown.choices[0]?.text.split(bos).length - 1, 1, `<s> should appear once in ${JSON.stringify(shown.choices[0]?.text)}`);
  assert.ok(!hidden.choices[0]?.text.includes(bos), `<s> should be hidden in ${JSON.stringify(hidden.choices[0]?.text)}`);
  assert.equal(hidden.usage?.completion_tokens, maxTokens);
  assert.equal(shown.usage?.completion_tokens, maxTokens);

  // Streaming goes through the incremental detokenizer: the chunks add up to the same two texts.
  for (const [skip, expected] of [[undefined, hidden.choices[0]?.text], [false, shown.choices[0]?.text]] as const) {
    const stream = await s.client.completions.create({ ...body, stream: true, ...(skip === undefined ? {} : { skip_special_tokens: skip }) } as OpenAI.CompletionCreateParamsStreaming);
    let text = '';
    for await (const chunk of stream) text += chunk.choices.map((c) => c.text).join('');
    assert.equal(text, expected, `streamed text with skip_special_tokens=${String(skip)}`);
  }

  // Chat: the story template renders the message as its text, so the same continuation follows.
  const messages = [{ role: 'user' as const, content: prompt }];
  const chatBody = { model: SERVED_NAME, messages, max_tokens: maxTokens, temperature: 0 };
  const chatHidden = await s.client.chat.completions.create(chatBody);
  const chatShown = await s.client.chat.completions.create({ ...chatBody, skip_special_tokens: false } as OpenAI.ChatCompletionCreateParamsNonStreaming);
  const chatIds = await tokenizer.encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true, template: STORY_TEMPLATE }), { addSpecialTokens: false });
  const [chatReference] = await direct(s.engine, { promptTokenIds: chatIds }, { temperature: 0, maxTokens, skipSpecialTokens: false });
  assert.ok(chatReference?.tokenIds.some((id) => tokenizer.isSpecial(id)), 'the chat continuation contains a special token');
  assert.equal(chatShown.choices[0]?.message.content, chatReference?.text);
  assert.equal(chatHidden.choices[0]?.message.content, decodeAfter(tokenizer, chatIds, chatReference?.tokenIds ?? [], true));
  assert.notEqual(chatShown.choices[0]?.message.content, chatHidden.choices[0]?.message.content);
});

test('skip_special_tokens with EOS forced by logit_bias and ignore_eos: "" by default, the EOS text when false', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const tokenizer = s.engine.tokenizer;
  const eos = tokenizer.eosTokenIds[0];
  assert.equal(eos, 2);
  const eosText = tokenizer.tokenText(2);
  assert.equal(eosText, '</s>');
  const body = { model: SERVED_NAME, prompt: PROMPT, max_tokens: 3, temperature: 0, ignore_eos: true, logit_bias: { 2: 100 } };
  const hidden = await s.client.completions.create(body as OpenAI.CompletionCreateParamsNonStreaming);
  const shown = await s.client.completions.create({ ...body, skip_special_tokens: false } as OpenAI.CompletionCreateParamsNonStreaming);
  const [reference] = await direct(s.engine, { promptTokenIds: await tokenizer.encode(PROMPT) }, { temperature: 0, maxTokens: 3, ignoreEos: true, logitBias: { 2: 100 }, skipSpecialTokens: false });
  assert.deepEqual(reference?.tokenIds, [2, 2, 2]);
  assert.equal(hidden.choices[0]?.text, '');
  assert.equal(shown.choices[0]?.text, reference?.text);
  assert.equal(shown.choices[0]?.text, eosText.repeat(3));
  assert.equal(shown.choices[0]?.finish_reason, 'length');
  assert.equal(hidden.usage?.completion_tokens, 3);
});
