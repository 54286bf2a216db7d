// GET /v1/models, and vLLM's /tokenize and /detokenize.
import type { FastifyInstance } from 'fastify';
import { nowSeconds, type ServerContext } from '../../context.js';
import { badRequest } from '../../http-error.js';
import { chatPromptIds, toChatMessages } from './chat.js';
import { checkModel } from './common.js';
import { detokenizeBodySchema, tokenizeBodySchema, type DetokenizeBody, type TokenizeBody } from './schemas.js';

export function registerModels(app: FastifyInstance, ctx: ServerContext): void {
  const created = nowSeconds();
  app.get('/v1/models', async () => ({
    object: 'list',
    data: ctx.servedModelNames.map((id) => ({
      id,
      object: 'model',
      created,
      owned_by: 'kvserve',
      root: ctx.modelSource,
      parent: null,
      max_model_len: ctx.engine.maxModelLen,
    })),
  }));

  app.post<{ Body: TokenizeBody }>('/tokenize', { schema: { body: tokenizeBodySchema } }, async (request) => {
    const body = request.body;
    checkModel(ctx, body.model);
    const tokenizer = ctx.engine.tokenizer;
    let tokens: number[];
    if (body.messages !== undefined) {
      if (body.prompt !== undefined) throw badRequest('prompt: give either prompt or messages, not both', 'prompt');
      tokens = await chatPromptIds(ctx, toChatMessages(body.messages), {
        addGenerationPrompt: body.add_generation_prompt,
        continueFinalMessage: body.continue_final_message,
        addSpecialTokens: body.add_special_tokens,
      });
    } else if (body.prompt !== undefined) {
      tokens = await tokenizer.encode(body.prompt, { addSpecialTokens: body.add_special_tokens ?? true });
    } else {
      throw badRequest('prompt: required field is missing (or give messages)', 'prompt');
    }
    return {
      count: tokens.length,
      max_model_len: ctx.engine.maxModelLen,
      tokens,
      token_strs: body.return_token_strs ? tokens.map((id) => tokenizer.tokenText(id)) : null,
    };
  });

  app.post<{ Body: DetokenizeBody }>('/detokenize', { schema: { body: detokenizeBodySchema } }, async (request) => {
    const body = request.body;
    checkModel(ctx, body.model);
    const tokenizer = ctx.engine.tokenizer;
    body.tokens.forEach((id, i) => {
      if (id >= tokenizer.vocabSize) throw badRequest(`tokens[${i}]: expected a token id below the vocabulary size ${tokenizer.vocabSize}, got ${id}`, 'tokens');
    });
    return { prompt: tokenizer.decode(body.tokens) };
  });
}
