// Hugging Face TGI routes: POST /generate, /generate_stream, / (compat), GET /info.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GenerateEvent } from '../../../engine/types.js';
import { collectSamples, type SampleResult } from '../../collect.js';
import type { ServerContext } from '../../context.js';
import { renderError } from '../../error-render.js';
import { startGenerations } from '../../generation.js';
import { toHttpError } from '../../http-error.js';
import { SseWriter } from '../../sse.js';
import { TGI_LIMITS, TGI_PARAM_NAMES, planTgiRequest } from './params.js';
import {
  deltaEvents,
  sampleLogprobSum,
  sequenceDetails,
  tgiFinishReason,
  type TgiStreamEvent,
  type TokenInfo,
} from './render.js';
import { generateBodySchema, type GenerateBody } from './schemas.js';

const COMPUTE_TYPE = 'cpu';

function tokenInfo(ctx: ServerContext): TokenInfo {
  const t = ctx.engine.tokenizer;
  return { tokenText: (id) => t.decodeToken(id), isSpecial: (id) => t.isSpecial(id) };
}

async function generate(ctx: ServerContext, request: FastifyRequest<{ Body: GenerateBody }>, reply: FastifyReply) {
  const start = performance.now();
  const body = request.body;
  const plan = await planTgiRequest(body, ctx.engine.tokenizer, ctx.engine.maxModelLen, false);
  const validated = performance.now();
  const gens = await startGenerations(ctx, reply, [{ prompt: { promptTokenIds: plan.promptIds }, params: plan.params, requestId: `tgi-${request.id}` }], TGI_PARAM_NAMES);
  let samples: SampleResult[];
  try {
    const stream = gens.streams[0];
    if (!stream) throw new Error('no generation stream');
    samples = await collectSamples(stream);
  } finally {
    gens.close();
  }
  // best_of: the sample with the highest total logprob wins; the others are reported beside it.
  const ranked = [...samples].sort((a, b) => sampleLogprobSum(b) - sampleLogprobSum(a));
  const best = ranked[0];
  if (!best) throw new Error('the engine returned no sample');
  const info = tokenInfo(ctx);
  const prefix = plan.returnFullText ? body.inputs : '';
  const response: Record<string, unknown> = { generated_text: prefix + best.text };
  if (plan.details) {
    const details: Record<string, unknown> = { ...sequenceDetails(best, plan.seed, plan.topNTokens, info) };
    if (plan.bestOf > 1) {
      details.best_of_sequences = ranked.slice(1).map((s) => ({
        generated_text: prefix + s.text,
        ...sequenceDetails(s, plan.seed, plan.topNTokens, info),
      }));
    }
    response.details = details;
  }
  const end = performance.now();
  const m = best.metrics;
  const queueMs = m.firstScheduledTime !== null ? m.firstScheduledTime - m.arrivalTime : 0;
  const inferenceMs = m.firstScheduledTime !== null ? m.finishedTime - m.firstScheduledTime : 0;
  const numGenerated = best.tokenIds.length;
  reply.headers({
    'x-compute-type': COMPUTE_TYPE,
    'x-compute-time': ((end - start) / 1000).toFixed(6),
    'x-compute-characters': String(body.inputs.length),
    'x-total-time': String(Math.round(end - start)),
    'x-validation-time': String(Math.round(validated - start)),
    'x-queue-time': String(Math.round(queueMs)),
    'x-inference-time': String(Math.round(inferenceMs)),
    'x-time-per-token': String(numGenerated > 0 ? Math.round(inferenceMs / numGenerated) : 0),
    'x-prompt-tokens': String(plan.promptIds.length),
    'x-generated-tokens': String(numGenerated),
  });
  return response;
}

/** Races the next event against one turn of the event loop: is the stream's next event already here? */
function nextIfReady<T>(pending: Promise<IteratorResult<T>>): Promise<IteratorResult<T> | null> {
  return Promise.race([pending, new Promise<null>((resolve) => setImmediate(() => resolve(null)))]);
}

async function generateStream(ctx: ServerContext, request: FastifyRequest<{ Body: GenerateBody }>, reply: FastifyReply) {
  const body = request.body;
  const plan = await planTgiRequest(body, ctx.engine.tokenizer, ctx.engine.maxModelLen, true);
  const gens = await startGenerations(ctx, reply, [{ prompt: { promptTokenIds: plan.promptIds }, params: plan.params, requestId: `tgi-${request.id}` }], TGI_PARAM_NAMES);
  const info = tokenInfo(ctx);
  const sse = new SseWriter(reply);
  sse.open({ 'x-compute-type': COMPUTE_TYPE });
  const send = (event: unknown): Promise<boolean> => sse.send(event, 'data:');
  try {
    const stream = gens.streams[0];
    if (!stream) throw new Error('no generation stream');
    const it = stream[Symbol.asyncIterator]();
    let numTokens = 0;
    // TGI puts generated_text and details on the event of the last token. The engine queues a
    // sample's last token, any held-back text and its final event in the same step, so the newest
    // token event is held while the next event is already waiting (text-only deltas join it, the
    // final event closes on it); when nothing is waiting it goes out at once.
    let held: TgiStreamEvent | null = null;
    let orphanText = '';
    let result = await it.next();
    while (!result.done) {
      const event: GenerateEvent = result.value;
      const pending = it.next();
      pending.catch(() => undefined); // awaited below; this only keeps an early exit from leaving it unhandled
      if (event.type === 'delta') {
        const events = deltaEvents(event, numTokens + 1, plan.topNTokens, info);
        numTokens += events.length;
        if (events.length === 0) {
          if (held) held.token.text += event.text;
          else orphanText += event.text;
        } else {
          if (held && !(await send(held))) return reply;
          held = events.pop() ?? null;
          for (const e of events) if (!(await send(e))) return reply;
        }
        const ready = await nextIfReady(pending);
        const closesSoon = ready !== null && !ready.done && (ready.value.type === 'final' || ready.value.tokenIds.length === 0);
        if (held && !closesSoon) {
          if (!(await send(held))) return reply;
          held = null;
        }
      } else {
        const closing: TgiStreamEvent = held ?? {
          // Nothing left to close on (no token in this step): an empty special token ends the stream.
          index: numTokens + 1,
          token: { id: ctx.engine.tokenizer.eosTokenIds[0] ?? 0, text: orphanText, logprob: 0, special: orphanText === '' },
          top_tokens: null,
          generated_text: null,
          details: null,
        };
        held = null;
        orphanText = '';
        closing.generated_text = (plan.returnFullText ? body.inputs : '') + event.text;
        closing.details = {
          finish_reason: tgiFinishReason(event.finishReason, event.stopReason),
          generated_tokens: event.tokenIds.length,
          seed: plan.seed,
          input_length: plan.promptIds.length,
        };
        if (!(await send(closing))) return reply;
      }
      result = await pending;
    }
  } catch (err) {
    request.log.warn({ err }, 'generate_stream failed');
    await send(renderError(toHttpError(err, TGI_PARAM_NAMES), 'tgi').body);
  } finally {
    gens.close();
  }
  sse.end();
  return reply;
}

export function registerTgi(app: FastifyInstance, ctx: ServerContext): void {
  const schema = { body: generateBodySchema };
  app.post<{ Body: GenerateBody }>('/generate', { schema }, (request, reply) => generate(ctx, request, reply));
  app.post<{ Body: GenerateBody }>('/generate_stream', { schema }, (request, reply) => generateStream(ctx, request, reply));
  // TGI's compat route: streams when asked to, otherwise answers a one-element array.
  app.post<{ Body: GenerateBody }>('/', { schema }, async (request, reply) => {
    if (request.body.stream) return generateStream(ctx, request, reply);
    return [await generate(ctx, request, reply)];
  });
  app.get('/info', async () => ({
    model_id: ctx.modelName,
    model_sha: null,
    model_dtype: null,
    model_device_type: COMPUTE_TYPE,
    model_pipeline_tag: 'text-generation',
    max_concurrent_requests: ctx.engine.config?.maxNumQueuedRequests ?? ctx.engine.config?.maxNumSeqs ?? null,
    max_best_of: TGI_LIMITS.maxBestOf,
    max_stop_sequences: TGI_LIMITS.maxStopSequences,
    max_input_tokens: ctx.engine.maxModelLen - 1,
    max_total_tokens: ctx.engine.maxModelLen,
    validation_workers: 1,
    max_client_batch_size: 1,
    router: 'kvserve',
    version: ctx.version,
    sha: null,
    docker_label: null,
  }));
}
