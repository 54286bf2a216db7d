// POST /v1/completions: one engine request per prompt; choice index = prompt * n + sample.
import type { FastifyInstance } from 'fastify';
import { cachedTokensOf, collectSamples } from '../../collect.js';
import { nowSeconds, type ServerContext } from '../../context.js';
import { startGenerations, type GenerationSpec } from '../../generation.js';
import { badRequest } from '../../http-error.js';
import { SseWriter } from '../../sse.js';
import { VLLM_PARAM_NAMES, resolveMaxTokens, samplingFromVllmFields, type MutableSamplingParams } from '../../vllm-params.js';
import { checkModel, rejectUnsupported, requestIdFor, streamErrorBody } from './common.js';
import {
  completionBody,
  completionChunk,
  completionLogprobs,
  usageBody,
  type CompletionChoice,
} from './render.js';
import { completionBodySchema, type CompletionBody } from './schemas.js';

/** OpenAI's default for /v1/completions. */
const DEFAULT_MAX_TOKENS = 16;

interface TokenizedPrompt {
  ids: number[];
  /** Text to echo back: the prompt string, or the token ids decoded. */
  text: string;
}

async function tokenizePrompts(ctx: ServerContext, body: CompletionBody): Promise<TokenizedPrompt[]> {
  const tokenizer = ctx.engine.tokenizer;
  const addSpecialTokens = body.add_special_tokens ?? true;
  const checkIds = (ids: number[], field: string): number[] => {
    for (const id of ids) {
      if (id >= tokenizer.vocabSize) throw badRequest(`${field}: expected token ids below the vocabulary size ${tokenizer.vocabSize}, got ${id}`, 'prompt');
    }
    return ids;
  };
  const prompt = body.prompt;
  if (typeof prompt === 'string') return [{ ids: await tokenizer.encode(prompt, { addSpecialTokens }), text: prompt }];
  if (prompt.every((p): p is string => typeof p === 'string')) {
    return Promise.all(prompt.map(async (text) => ({ ids: await tokenizer.encode(text, { addSpecialTokens }), text })));
  }
  if (prompt.every((p): p is number => typeof p === 'number')) {
    const ids = checkIds(prompt, 'prompt');
    return [{ ids, text: tokenizer.decode(ids) }];
  }
  return (prompt as number[][]).map((ids, i) => {
    checkIds(ids, `prompt[${i}]`);
    return { ids, text: tokenizer.decode(ids) };
  });
}

export function registerCompletions(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: CompletionBody }>('/v1/completions', { schema: { body: completionBodySchema } }, async (request, reply) => {
    const body = request.body;
    checkModel(ctx, body.model);
    rejectUnsupported(body);
    if (body.suffix) throw badRequest('suffix: suffix is not supported', 'suffix');
    if (body.echo && body.logprobs !== null && body.logprobs !== undefined) {
      throw badRequest('echo: echo together with logprobs needs prompt logprobs, which are not supported', 'echo');
    }
    const tokenizer = ctx.engine.tokenizer;
    const prompts = await tokenizePrompts(ctx, body);
    const n = body.n ?? 1;
    const base: MutableSamplingParams = samplingFromVllmFields(body, tokenizer.vocabSize);
    const numLogprobs = body.logprobs ?? null;
    if (numLogprobs !== null) base.logprobs = numLogprobs;
    const id = requestIdFor('cmpl', request.id);
    const specs: GenerationSpec[] = prompts.map((p, i) => ({
      prompt: { promptTokenIds: p.ids },
      params: { ...base, maxTokens: resolveMaxTokens(p.ids.length, body.max_tokens ?? DEFAULT_MAX_TOKENS, ctx.engine.maxModelLen) },
      requestId: prompts.length === 1 ? id : `${id}-${i}`,
      ...(body.priority !== null && body.priority !== undefined ? { priority: body.priority } : {}),
      ...(body.cache_salt ? { cacheSalt: body.cache_salt } : {}),
    }));
    const created = nowSeconds();
    const model = ctx.modelName;
    const numPromptTokens = prompts.reduce((s, p) => s + p.ids.length, 0);
    const tokenText = (tokenId: number): string => tokenizer.decodeToken(tokenId);
    const gens = await startGenerations(ctx, reply, specs, VLLM_PARAM_NAMES);
    try {
      if (!body.stream) {
        const results = await Promise.all(gens.streams.map((s) => collectSamples(s)));
        const choices: CompletionChoice[] = [];
        let completionTokens = 0;
        let cachedTokens = 0;
        results.forEach((samples, p) => {
          cachedTokens += cachedTokensOf(samples);
          const echo = body.echo ? (prompts[p]?.text ?? '') : '';
          for (const s of samples) {
            completionTokens += s.tokenIds.length;
            choices.push({
              index: p * n + s.index,
              text: echo + s.text,
              logprobs: numLogprobs !== null ? completionLogprobs(s.logprobs ?? [], tokenText, numLogprobs, echo.length) : null,
              finish_reason: s.finishReason,
              stop_reason: s.stopReason,
            });
          }
        });
        choices.sort((a, b) => a.index - b.index);
        return completionBody(id, created, model, choices, usageBody(numPromptTokens, completionTokens, cachedTokens));
      }

      const sse = new SseWriter(reply);
      sse.open();
      const includeUsage = body.stream_options?.include_usage ?? false;
      const continuousUsage = includeUsage && (body.stream_options?.continuous_usage_stats ?? false);
      const offsets = new Map<number, number>();
      const echoed = new Set<number>();
      const generated = new Map<number, number>();
      const cachedByPrompt = new Map<number, number>();
      const sum = (m: Map<number, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
      const usageSoFar = () => usageBody(numPromptTokens, sum(generated), sum(cachedByPrompt));
      try {
        for await (const [p, event] of gens.merged()) {
          const index = p * n + event.index;
          let prefix = '';
          if (body.echo && !echoed.has(index)) {
            echoed.add(index);
            prefix = prompts[p]?.text ?? '';
            offsets.set(index, prefix.length);
          }
          let choice: CompletionChoice;
          if (event.type === 'delta') {
            generated.set(index, (generated.get(index) ?? 0) + event.tokenIds.length);
            const offset = offsets.get(index) ?? 0;
            const logprobs = numLogprobs !== null ? completionLogprobs(event.logprobs ?? [], tokenText, numLogprobs, offset) : null;
            offsets.set(index, offset + event.text.length);
            if (prefix === '' && event.text === '' && (logprobs === null || logprobs.tokens.length === 0)) continue;
            choice = { index, text: prefix + event.text, logprobs, finish_reason: null, stop_reason: null };
          } else {
            cachedByPrompt.set(p, Math.max(cachedByPrompt.get(p) ?? 0, event.usage.cachedTokens));
            choice = { index, text: prefix, logprobs: null, finish_reason: event.finishReason, stop_reason: event.stopReason ?? null };
          }
          const usage = continuousUsage ? usageSoFar() : null;
          if (!(await sse.send(completionChunk(id, created, model, [choice], usage)))) return reply;
        }
        if (includeUsage) {
          await sse.send(completionChunk(id, created, model, [], usageSoFar()));
        }
      } catch (err) {
        request.log.warn({ err }, 'completion stream failed');
        await sse.send(streamErrorBody(err));
      }
      await sse.send('[DONE]');
      sse.end();
      return reply;
    } finally {
      gens.close();
    }
  });
}
