// Errors about a model file always start with the file's path, so a user with several models
// can tell which one is broken, and say what was expected and what was found.
import { KvserveError } from '../errors.js';

export function formatError(file: string, message: string, cause?: unknown): KvserveError {
  return new KvserveError('ERR_MODEL_FORMAT', `${file}: ${message}`, cause === undefined ? undefined : { cause });
}

export function unsupportedError(file: string, message: string): KvserveError {
  return new KvserveError('ERR_MODEL_UNSUPPORTED', `${file}: ${message}`);
}

export function missingTensorError(file: string, message: string): KvserveError {
  return new KvserveError('ERR_MODEL_MISSING_TENSOR', `${file}: ${message}`);
}

/** Any I/O failure while reading a model file (EISDIR, EACCES, ...) as a KvserveError. */
export function ioError(file: string, error: unknown): KvserveError {
  if (error instanceof KvserveError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') {
    return new KvserveError('ERR_MODEL_NOT_FOUND', `${file}: no such file`, { cause: error });
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new KvserveError('ERR_MODEL_FORMAT', `${file}: cannot read file (${detail})`, { cause: error });
}
