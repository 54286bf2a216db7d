// Assertions for model-loading errors: a KvserveError with the expected code whose message names
// the offending file (and optionally contains more text), never any other exception type.
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { KvserveError, type ErrorCode } from '../../lib/errors.js';

export function expectModelError(
  fn: () => unknown,
  code: ErrorCode | ErrorCode[],
  file: string,
  ...fragments: (string | RegExp)[]
): KvserveError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  return check(caught, code, file, fragments);
}

export async function expectModelErrorAsync(
  fn: () => Promise<unknown>,
  code: ErrorCode | ErrorCode[],
  file: string,
  ...fragments: (string | RegExp)[]
): Promise<KvserveError> {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  return check(caught, code, file, fragments);
}

function check(caught: unknown, code: ErrorCode | ErrorCode[], file: string, fragments: (string | RegExp)[]): KvserveError {
  assert.ok(caught !== undefined, `expected a KvserveError (${String(code)}) but nothing was thrown`);
  if (!(caught instanceof KvserveError)) {
    assert.fail(`expected a KvserveError, got ${String((caught as Error)?.name)}: ${String((caught as Error)?.message ?? caught)}`);
  }
  const codes = Array.isArray(code) ? code : [code];
  assert.ok(codes.includes(caught.code), `expected code ${codes.join(' or ')}, got ${caught.code}: ${caught.message}`);
  assert.ok(caught.message.includes(basename(file)), `message should name ${basename(file)}: ${caught.message}`);
  for (const fragment of fragments) {
    if (typeof fragment === 'string') {
      assert.ok(caught.message.includes(fragment), `message should contain '${fragment}': ${caught.message}`);
    } else {
      assert.match(caught.message, fragment);
    }
  }
  return caught;
}
