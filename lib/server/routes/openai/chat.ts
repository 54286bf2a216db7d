// POST /v1/chat/completions: messages -> chat template -> token ids -> one engine request (n samples).
import type { FastifyInstance } from 'fastify';
import type { ChatMessage } from '../../../engine/types.js';
import { cachedTokensOf, collectSamples } from '../../collect.js';
import { nowSeconds, type ServerContext } from '../../context.js';
import { startGenerations } from '../../generation.js';
import { badRequest } from '../../http-error.js';
import { SseWriter } from '../../sse.js';
import { VLLM_PARAM_NAMES, resolveMaxTokens, samplingFromVllmFields, type MutableSamplingParams } from '../../vllm-params.js';
import { checkModel, rejectUnsupported, requestIdFor, streamErrorBody } from './common.js';
import { chatBody, chatChunk, chatLogprobs, usageBody, type ChatChoice } from './render.js';
import { chatBodySchema, type ChatBody, type ChatMessageBody } from './schemas.js';

/** Flattens message content to text; only text parts are supported. */
export function toChatMessages(messages: ChatMessageBody[]): ChatMessage[] {
  return messages.map((m, i) => {
    let content = '';
    if (typeof m.content === 'string') {
      content = m.content;
    } else if (Array.isArray(m.content)) {
      content = m.content
        .map((part, j) => {
          if (part.type !== 'text' || typeof part.text !== 'string') {
            throw badRequest(`messages[${i}].content[${j}]: expected a text part ({"type": "text", "text": ...}), got type ${JSON.stringify(part.type)}`, 'messages');
          }
          return part.text;
        })
        .join('\n');
    }
    return { role: m.role, content };
  });
}

export interface ChatPromptOptions {
  addGenerationPrompt?: boolean | null;
  continueFinalMessage?: boolean | null;
  addSpecialTokens?: boolean | null;
}

/** Renders the chat template and tokenizes it, as vLLM does (special tokens come from the template). */
export async function chatPromptIds(ctx: ServerContext, messages: ChatMessage[], options: ChatPromptOptions): Promise<number[]> {
  const tokenizer = ctx.engine.tokenizer;
  const continueFinal = options.continueFinalMessage ?? false;
  const addGenerationPrompt = options.addGenerationPrompt ?? !continueFinal;
  if (continueFinal && addGenerationPrompt) {
    throw badRequest('continue_final_message: cannot be used together with add_generation_prompt', 'continue_final_message');
  }
  let text = tokenizer.applyChatTemplate(messages, {
    addGenerationPrompt,
    ...(ctx.chatTemplate !== undefined ? { template: ctx.chatTemplate } : {}),
  });
  if (continueFinal) {
    // Cut the rendered conversation right after the final message's text, dropping its end-of-turn.
    const last = messages[messages.length - 1]?.content ?? '';
    const at = last === '' ? -1 : text.lastIndexOf(last);
    if (at < 0) throw badRequest('continue_final_message: the final message is not found in the rendered chat template', 'continue_final_message');
    text = text.slice(0, at + last.length);
  }
  return tokenizer.encode(text, { addSpecialTokens: options.addSpecialTokens ?? false });
}

export function registerChat(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: ChatBody }>('/v1/chat/completions', { schema: { body: chatBodySchema } }, async (request, reply) => {
    const body = request.body;
    checkModel(ctx, body.model);
    rejectUnsupported(body);
    if (body.tools && body.tools.length > 0) throw badRequest('tools: tool calling is not supported', 'tools');
    if (body.chat_template) throw badRequest('chat_template: per-request templates are not accepted; start the server with --chat-template', 'chat_template');
    if (body.echo) throw badRequest('echo: echo is not supported for chat completions', 'echo');
    if (body.top_logprobs !== null && body.top_logprobs !== undefined && !body.logprobs) {
      throw badRequest('top_logprobs: requires logprobs to be true', 'top_logprobs');
    }
    const tokenizer = ctx.engine.tokenizer;
    const promptIds = await chatPromptIds(ctx, toChatMessages(body.messages), {
      addGenerationPrompt: body.add_generation_prompt,
      continueFinalMessage: body.continue_final_message,
      addSpecialTokens: body.add_special_tokens,
    });
    const params: MutableSamplingParams = samplingFromVllmFields(body, tokenizer.vocabSize);
    const numTop = body.logprobs ? (body.top_logprobs ?? 0) : null;
    if (numTop !== null) params.logprobs = numTop;
    params.maxTokens = resolveMaxTokens(promptIds.length, body.max_completion_tokens ?? body.max_tokens, ctx.engine.maxModelLen);
    const id = requestIdFor('chatcmpl', request.id);
    const created = nowSeconds();
    const model = ctx.modelName;
    const n = body.n ?? 1;
    const tokenText = (tokenId: number): string => tokenizer.decodeToken(tokenId);
    const gens = await startGenerations(ctx, reply, [{
      prompt: { promptTokenIds: promptIds },
      params,
      requestId: id,
      ...(body.priority !== null && body.priority !== undefined ? { priority: body.priority } : {}),
      ...(body.cache_salt ? { cacheSalt: body.cache_salt } : {}),
    }], VLLM_PARAM_NAMES);
    try {
      const stream = gens.streams[0];
      if (!stream) throw new Error('no generation stream');
      if (!body.stream) {
        const samples = await collectSamples(stream);
        const choices: ChatChoice[] = samples.map((s) => ({
          index: s.index,
          message: { role: 'assistant', content: s.text },
          logprobs: numTop !== null ? chatLogprobs(s.logprobs ?? [], tokenText, numTop) : null,
          finish_reason: s.finishReason,
          stop_reason: s.stopReason,
        }));
        const completionTokens = samples.reduce((sum, s) => sum + s.tokenIds.length, 0);
        return chatBody(id, created, model, choices, usageBody(promptIds.length, completionTokens, cachedTokensOf(samples)));
      }

      const sse = new SseWriter(reply);
      sse.open();
      const includeUsage = body.stream_options?.include_usage ?? false;
      const continuousUsage = includeUsage && (body.stream_options?.continuous_usage_stats ?? false);
      let completionTokens = 0;
      let cachedTokens = 0;
      const usageSoFar = () => usageBody(promptIds.length, completionTokens, cachedTokens);
      try {
        // Every choice opens with the assistant role, as OpenAI's stream does.
        for (let index = 0; index < n; index++) {
          const first = chatChunk(id, created, model, [{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
            continuousUsage ? usageSoFar() : null);
          if (!(await sse.send(first))) return reply;
        }
        for await (const event of stream) {
          let chunk;
          if (event.type === 'delta') {
            completionTokens += event.tokenIds.length;
            const logprobs = numTop !== null ? chatLogprobs(event.logprobs ?? [], tokenText, numTop) : null;
            if (event.text === '' && (logprobs === null || logprobs.content.length === 0)) continue;
            chunk = chatChunk(id, created, model, [{ index: event.index, delta: { content: event.text }, logprobs, finish_reason: null }],
              continuousUsage ? usageSoFar() : null);
          } else {
            cachedTokens = Math.max(cachedTokens, event.usage.cachedTokens);
            chunk = chatChunk(id, created, model, [{
              index: event.index, delta: {}, logprobs: null, finish_reason: event.finishReason, stop_reason: event.stopReason ?? null,
            }], continuousUsage ? usageSoFar() : null);
          }
          if (!(await sse.send(chunk))) return reply;
        }
        if (includeUsage) await sse.send(chatChunk(id, created, model, [], usageSoFar()));
      } catch (err) {
        request.log.warn({ err }, 'chat stream failed');
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
