// Pieces shared by the OpenAI routes: model-name check, unsupported-feature checks, stream errors.
import type { ServerContext } from '../../context.js';
import { HttpError, badRequest, toHttpError } from '../../http-error.js';
import { renderError } from '../../error-render.js';
import { VLLM_PARAM_NAMES } from '../../vllm-params.js';
import type { SamplingFields } from './schemas.js';

/** vLLM answers 404 for a model name it does not serve; no name means the served model. */
export function checkModel(ctx: ServerContext, model: string | null | undefined): void {
  if (model === null || model === undefined || model === '') return;
  if (ctx.servedModelNames.includes(model)) return;
  throw new HttpError(404, 'not_found', `The model \`${model}\` does not exist.`, { param: 'model', code: 'model_not_found' });
}

/** Fields kvserve accepts in the schema but cannot honour: refused, never silently ignored. */
export function rejectUnsupported(body: SamplingFields): void {
  if (body.use_beam_search) throw badRequest('use_beam_search: beam search is not supported', 'use_beam_search');
  if (body.best_of !== null && body.best_of !== undefined && body.best_of !== (body.n ?? 1)) {
    throw badRequest(`best_of: expected null or equal to n (${body.n ?? 1}), got ${body.best_of}`, 'best_of');
  }
  if (body.response_format && body.response_format.type !== 'text') {
    throw badRequest(`response_format.type: expected "text" (structured output is not supported), got ${JSON.stringify(body.response_format.type)}`, 'response_format');
  }
  if (body.prompt_logprobs !== null && body.prompt_logprobs !== undefined) {
    throw badRequest('prompt_logprobs: prompt logprobs are not supported', 'prompt_logprobs');
  }
  if (body.stream_options && !body.stream) {
    throw badRequest('stream_options: can only be set when stream is true', 'stream_options');
  }
}

/** The `data: {"error": ...}` event sent when a stream fails after its headers went out. */
export function streamErrorBody(err: unknown): unknown {
  return renderError(toHttpError(err, VLLM_PARAM_NAMES), 'openai').body;
}

export function requestIdFor(prefix: string, fastifyRequestId: string): string {
  return `${prefix}-${fastifyRequestId}`;
}
