// KServe v2 / Open Inference Protocol and Triton's generate extension (vLLM backend semantics):
// server and model metadata, health, /infer with BYTES tensors, /generate and /generate_stream in the
// current shape (text_input -> text_output) and the backend's original one (prompt -> text).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { collectSamples } from '../../collect.js';
import type { ServerContext } from '../../context.js';
import { renderError } from '../../error-render.js';
import { startGenerations, type GenerationSpec } from '../../generation.js';
import { HttpError, badRequest, toHttpError } from '../../http-error.js';
import { SseWriter } from '../../sse.js';
import { VLLM_PARAM_NAMES, samplingFromVllmFields, type MutableSamplingParams } from '../../vllm-params.js';
import { clampMaxTokens, parseSamplingParameters, readParams, type TritonParams } from './params.js';
import { MODEL_VERSION, extraOutputs, modelMetadata, toTensors } from './render.js';
import { generateBodySchema, inferBodySchema, type GenerateBody, type InferBody } from './schemas.js';

type ModelParams = { model: string; version?: string };

function checkModel(ctx: ServerContext, params: ModelParams): void {
  if (!ctx.servedModelNames.includes(params.model)) {
    throw new HttpError(404, 'not_found', `Request for unknown model: '${params.model}' is not found`);
  }
  if (params.version !== undefined && params.version !== MODEL_VERSION) {
    throw new HttpError(404, 'not_found', `Request for unknown model: '${params.model}' version ${params.version} is not found`);
  }
}

/** Both the plain and the versioned form of a model route. */
function paths(suffix: string): string[] {
  return [`/v2/models/:model${suffix}`, `/v2/models/:model/versions/:version${suffix}`];
}

function emptyParams(): TritonParams {
  return { sampling: {}, flags: {} };
}

function flatten(data: unknown[]): unknown[] {
  return data.flatMap((d) => (Array.isArray(d) ? flatten(d) : [d]));
}

interface PlannedPrompt {
  text: string;
  ids: number[];
}

function buildSpecs(ctx: ServerContext, prompts: PlannedPrompt[], p: TritonParams, requestId: string): GenerationSpec[] {
  const base: MutableSamplingParams = samplingFromVllmFields(p.sampling, ctx.engine.tokenizer.vocabSize);
  const needLogprobs = p.flags.returnLogprobs || p.flags.returnCumulativeLogprob || p.flags.details;
  if (p.sampling.logprobs !== null && p.sampling.logprobs !== undefined) base.logprobs = p.sampling.logprobs;
  else if (needLogprobs) base.logprobs = 0;
  return prompts.map((prompt, i) => ({
    prompt: { promptTokenIds: prompt.ids },
    params: { ...base, maxTokens: clampMaxTokens(p.sampling.max_tokens, prompt.ids.length, ctx.engine.maxModelLen) },
    requestId: prompts.length === 1 ? requestId : `${requestId}-${i}`,
  }));
}

async function infer(ctx: ServerContext, request: FastifyRequest<{ Body: InferBody; Params: ModelParams }>, reply: FastifyReply) {
  checkModel(ctx, request.params);
  const body = request.body;
  const p = emptyParams();
  if (body.parameters) readParams(p, body.parameters, 'parameters');
  let texts: string[] | null = null;
  let samplingJson: Record<string, unknown> | null = null;
  for (const input of body.inputs) {
    const values = flatten(input.data);
    const field = `inputs[${input.name}]`;
    if (input.name === 'text_input' || input.name === 'prompt') {
      if (input.datatype !== 'BYTES') throw badRequest(`${field}.datatype: expected "BYTES", got ${JSON.stringify(input.datatype)}`, field);
      if (values.length === 0 || !values.every((v): v is string => typeof v === 'string')) {
        throw badRequest(`${field}.data: expected one or more strings, got ${JSON.stringify(input.data).slice(0, 80)}`, field);
      }
      texts = values;
    } else if (input.name === 'sampling_parameters') {
      samplingJson = parseSamplingParameters(values[0], field);
    } else if (values.length === 1) {
      readParams(p, { [input.name]: values[0] }, 'inputs');
    } else {
      throw badRequest(`${field}.data: expected a single element, got ${values.length}`, field);
    }
  }
  if (samplingJson) readParams(p, samplingJson, 'sampling_parameters');
  if (texts === null) throw badRequest('inputs: the text_input tensor (BYTES) is missing', 'inputs');
  if (p.flags.stream) throw badRequest('stream: /infer answers once; use /generate_stream to stream', 'stream');
  const prepend = !(p.flags.excludeInputInOutput ?? false);
  const tokenizer = ctx.engine.tokenizer;
  const prompts = await Promise.all(texts.map(async (text) => ({ text, ids: await tokenizer.encode(text, { addSpecialTokens: true }) })));
  const gens = await startGenerations(ctx, reply, buildSpecs(ctx, prompts, p, `infer-${request.id}`), VLLM_PARAM_NAMES);
  let results;
  try {
    results = await Promise.all(gens.streams.map((s) => collectSamples(s)));
  } finally {
    gens.close();
  }
  const tokenText = (id: number): string => tokenizer.decodeToken(id);
  const rows = results.flatMap((samples, i) => samples.map((s) => ({
    text_output: (prepend ? (prompts[i]?.text ?? '') : '') + s.text,
    ...extraOutputs(p.flags, { ...s, finished: true }, prompts[i]?.ids.length ?? 0, tokenText),
  })));
  const requested = body.outputs ? body.outputs.map((o) => o.name) : null;
  return {
    model_name: request.params.model,
    model_version: MODEL_VERSION,
    ...(body.id !== undefined ? { id: body.id } : {}),
    outputs: toTensors(rows, requested),
  };
}

const STRUCTURAL_KEYS: ReadonlySet<string> = new Set(['id', 'text_input', 'prompt', 'PROMPT', 'parameters', 'sampling_parameters', 'SAMPLING_PARAMETERS']);

type LegacyKey = 'text' | 'TEXT';

interface GeneratePlan {
  legacyKey: LegacyKey | null;
  prompt: PlannedPrompt;
  params: TritonParams;
}

async function planGenerate(ctx: ServerContext, body: GenerateBody): Promise<GeneratePlan> {
  let text: string;
  let legacyKey: GeneratePlan['legacyKey'] = null;
  if (typeof body.text_input === 'string') text = body.text_input;
  else if (typeof body.prompt === 'string') [text, legacyKey] = [body.prompt, 'text'];
  else if (typeof body.PROMPT === 'string') [text, legacyKey] = [body.PROMPT, 'TEXT'];
  else throw badRequest('text_input: required field is missing (or "prompt" in the original vLLM-backend shape)', 'text_input');
  const p = emptyParams();
  if (body.parameters) readParams(p, body.parameters, 'parameters');
  // Other top-level keys are model inputs (stream, exclude_input_in_output, return_*, ...).
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (STRUCTURAL_KEYS.has(key)) continue;
    rest[key === 'STREAM' ? 'stream' : key] = value;
  }
  readParams(p, rest, '');
  const sp = body.sampling_parameters ?? body.SAMPLING_PARAMETERS;
  if (sp !== undefined && sp !== null) readParams(p, parseSamplingParameters(sp, 'sampling_parameters'), 'sampling_parameters');
  const ids = await ctx.engine.tokenizer.encode(text, { addSpecialTokens: true });
  return { legacyKey, prompt: { text, ids }, params: p };
}

/**
 * The original vLLM-backend shape's output: its tensor was `text` (`TEXT` for upper-case inputs);
 * clients written for the example servers of that time read `response`, so both carry the text.
 */
function legacyOutput<T>(key: LegacyKey, value: T): Record<string, T> {
  return key === 'TEXT' ? { TEXT: value, RESPONSE: value } : { text: value, response: value };
}

function scalarOrList<T>(values: T[]): T | T[] {
  return values.length === 1 ? (values[0] as T) : values;
}

/** Runs a generate request to its end and builds the one response body. */
async function generateOnce(ctx: ServerContext, request: FastifyRequest<{ Body: GenerateBody; Params: ModelParams }>, reply: FastifyReply, plan: GeneratePlan) {
  const { flags } = plan.params;
  const tokenizer = ctx.engine.tokenizer;
  const gens = await startGenerations(ctx, reply, buildSpecs(ctx, [plan.prompt], plan.params, `gen-${request.id}`), VLLM_PARAM_NAMES);
  let samples;
  try {
    const stream = gens.streams[0];
    if (!stream) throw new Error('no generation stream');
    samples = await collectSamples(stream);
  } finally {
    gens.close();
  }
  const head = {
    model_name: request.params.model,
    model_version: MODEL_VERSION,
    ...(request.body.id !== undefined ? { id: request.body.id } : {}),
  };
  if (plan.legacyKey !== null) {
    // The original backend always returned prompt + generated text.
    return { ...head, ...legacyOutput(plan.legacyKey, scalarOrList(samples.map((s) => plan.prompt.text + s.text))) };
  }
  const prepend = !(flags.excludeInputInOutput ?? false);
  const tokenText = (id: number): string => tokenizer.decodeToken(id);
  const extras = samples.map((s) => extraOutputs(flags, { ...s, finished: true }, plan.prompt.ids.length, tokenText));
  const out: Record<string, unknown> = { ...head, text_output: scalarOrList(samples.map((s) => (prepend ? plan.prompt.text : '') + s.text)) };
  for (const key of Object.keys(extras[0] ?? {})) out[key] = scalarOrList(extras.map((e) => e[key] ?? null));
  const first = samples[0];
  if (flags.details && first) {
    out.details = {
      finish_reason: first.finishReason,
      logprobs: (first.logprobs ?? []).map((lp) => ({
        id: lp.tokenId, text: tokenizer.decodeToken(lp.tokenId), logprob: Number.isFinite(lp.logprob) ? lp.logprob : -9999, special: tokenizer.isSpecial(lp.tokenId),
      })),
    };
  }
  return out;
}

async function generate(ctx: ServerContext, request: FastifyRequest<{ Body: GenerateBody; Params: ModelParams }>, reply: FastifyReply) {
  checkModel(ctx, request.params);
  const plan = await planGenerate(ctx, request.body);
  if (plan.params.flags.stream) throw badRequest('stream: /generate answers once; use /generate_stream to stream', 'stream');
  return generateOnce(ctx, request, reply, plan);
}

async function generateStream(ctx: ServerContext, request: FastifyRequest<{ Body: GenerateBody; Params: ModelParams }>, reply: FastifyReply) {
  checkModel(ctx, request.params);
  const plan = await planGenerate(ctx, request.body);
  const { flags } = plan.params;
  if ((plan.params.sampling.n ?? 1) > 1) throw badRequest('n: streaming returns one sequence; n > 1 needs /generate', 'n');
  const legacy = plan.legacyKey !== null;
  if (flags.stream === false) {
    // The backend sends a single, final response when the request does not ask to stream.
    const body = await generateOnce(ctx, request, reply, plan);
    const sse = new SseWriter(reply);
    await sse.send(body);
    sse.end();
    return reply;
  }
  if (!legacy && flags.excludeInputInOutput === false) {
    throw badRequest('exclude_input_in_output: when streaming, `exclude_input_in_output` = False is not allowed', 'exclude_input_in_output');
  }
  const tokenizer = ctx.engine.tokenizer;
  const tokenText = (id: number): string => tokenizer.decodeToken(id);
  const gens = await startGenerations(ctx, reply, buildSpecs(ctx, [plan.prompt], plan.params, `gen-${request.id}`), VLLM_PARAM_NAMES);
  const head = {
    model_name: request.params.model,
    model_version: MODEL_VERSION,
    ...(request.body.id !== undefined ? { id: request.body.id } : {}),
  };
  const sse = new SseWriter(reply);
  sse.open();
  try {
    const stream = gens.streams[0];
    if (!stream) throw new Error('no generation stream');
    let text = '';
    const tokenIds: number[] = [];
    const logprobs: NonNullable<Parameters<typeof extraOutputs>[1]['logprobs']> = [];
    for await (const event of stream) {
      let body: Record<string, unknown>;
      if (event.type === 'delta') {
        text += event.text;
        tokenIds.push(...event.tokenIds);
        if (event.logprobs) logprobs.push(...event.logprobs);
        if (legacy) {
          // The original backend sent prompt + everything generated so far with each response.
          body = { ...head, ...legacyOutput(plan.legacyKey as LegacyKey, plan.prompt.text + text) };
        } else {
          body = {
            ...head,
            text_output: event.text,
            ...extraOutputs(flags, { finishReason: 'stop', tokenIds: event.tokenIds, logprobs: event.logprobs ?? (flags.returnLogprobs ? [] : null), finished: false }, plan.prompt.ids.length, tokenText),
          };
          if (flags.details) body.details = { finish_reason: null };
        }
      } else {
        if (legacy) continue;
        body = {
          ...head,
          text_output: '',
          ...extraOutputs(flags, { finishReason: event.finishReason, tokenIds: [], logprobs: flags.returnLogprobs ? [] : null, finished: true }, plan.prompt.ids.length, tokenText),
        };
        if (flags.returnCumulativeLogprob) body.cumulative_logprob = logprobs.reduce((s, lp) => s + lp.logprob, 0);
        if (flags.details) body.details = { finish_reason: event.finishReason };
      }
      if (!(await sse.send(body))) return reply;
    }
  } catch (err) {
    request.log.warn({ err }, 'generate_stream failed');
    await sse.send(renderError(toHttpError(err, VLLM_PARAM_NAMES), 'kserve').body);
  } finally {
    gens.close();
  }
  sse.end();
  return reply;
}

export function registerKserve(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/v2', async () => ({ name: 'kvserve', version: ctx.version, extensions: ['generate', 'parameters'] }));
  app.get('/v2/health/live', async () => ({ live: true }));
  app.get('/v2/health/ready', async (_request, reply) => {
    const ready = !ctx.lifecycle.draining;
    return reply.code(ready ? 200 : 503).send({ ready });
  });
  for (const path of paths('')) {
    app.get<{ Params: ModelParams }>(path, async (request) => {
      checkModel(ctx, request.params);
      return modelMetadata(request.params.model);
    });
  }
  for (const path of paths('/ready')) {
    app.get<{ Params: ModelParams }>(path, async (request, reply) => {
      checkModel(ctx, request.params);
      const ready = !ctx.lifecycle.draining;
      return reply.code(ready ? 200 : 503).send({ name: request.params.model, ready });
    });
  }
  for (const path of paths('/infer')) {
    app.post<{ Body: InferBody; Params: ModelParams }>(path, { schema: { body: inferBodySchema } }, (request, reply) => infer(ctx, request, reply));
  }
  for (const path of paths('/generate')) {
    app.post<{ Body: GenerateBody; Params: ModelParams }>(path, { schema: { body: generateBodySchema } }, (request, reply) => generate(ctx, request, reply));
  }
  for (const path of paths('/generate_stream')) {
    app.post<{ Body: GenerateBody; Params: ModelParams }>(path, { schema: { body: generateBodySchema } }, (request, reply) => generateStream(ctx, request, reply));
  }
}
