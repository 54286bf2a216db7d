// Every error code kvserve raises, in one place. Codes are ERR_<AREA>_<WHAT>.

export const ErrorCodes = {
  ERR_MODEL_NOT_FOUND: 'model path does not exist',
  ERR_MODEL_FORMAT: 'model file is malformed (bad magic, truncated, out-of-range offsets or sizes)',
  ERR_MODEL_UNSUPPORTED: 'model uses an unsupported architecture, tensor type or feature',
  ERR_MODEL_MISSING_TENSOR: 'a tensor the architecture needs is absent',
  ERR_TOKENIZER_LOAD: 'tokenizer files are missing or malformed',
  ERR_TOKENIZER_TEMPLATE: 'chat template is missing or failed to render',
  ERR_NATIVE_LOAD: 'no native addon could be loaded',
  ERR_NATIVE_CUDA_UNAVAILABLE: 'the CUDA backend was asked for but cannot run here',
  ERR_NATIVE_STEP: 'a native forward step failed',
  ERR_ENGINE_REQUEST_FAILED: "handling one request's output failed (its detokenizer, stop strings or events); only that request ends",
  ERR_ENGINE_INTERNAL: 'the step loop failed outside any one request; the requests in flight ended with this error',
  ERR_INVALID_ARGUMENT: 'an argument is out of range or of the wrong type',
  ERR_ENGINE_CLOSED: 'the engine was closed',
  ERR_ENGINE_ABORTED: 'the request was aborted',
  ERR_ENGINE_QUEUE_FULL: 'the waiting queue is full',
  ERR_ENGINE_PROMPT_TOO_LONG: 'the prompt is longer than the maximum model length',
  ERR_ENGINE_KV_CAPACITY: 'the KV cache cannot hold the requested length',
  ERR_HUB_DOWNLOAD: 'a model download failed (bad response, size or checksum mismatch)',
  ERR_HUB_UNREACHABLE: 'the Hugging Face hub endpoint cannot be reached (network error or timeout)',
  ERR_HUB_NOT_FOUND: 'no such model, revision or file on the hub',
  ERR_HUB_ACCESS_DENIED: 'the hub refused access (gated or private model, missing or invalid HF_TOKEN)',
  ERR_HUB_OFFLINE: 'offline mode (HF_HUB_OFFLINE) and the model is not in the cache',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class KvserveError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KvserveError';
    this.code = code;
  }
}

/** Error for a bad argument: names the field, what was expected and what was received. */
export function invalidArgument(field: string, expected: string, actual: unknown): KvserveError {
  return new KvserveError(
    'ERR_INVALID_ARGUMENT',
    `${field}: expected ${expected}, got ${formatValue(actual)}`,
  );
}

export function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 80)}...` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Engine errors are KvserveErrors (ERR_ENGINE_*, ERR_INVALID_ARGUMENT, ...); the alias names them for API users. */
export { KvserveError as EngineError };
