// Typed access to GGUF metadata with errors that name the file, the key, and what was expected.
import { formatError } from '../format-error.js';
import { GgufValueType, ggufValueTypeName } from './constants.js';
import type { GgufValue } from './value.js';

export class GgufMetadata {
  constructor(
    readonly file: string,
    readonly entries: Map<string, GgufValue>,
  ) {}

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Any numeric scalar (64-bit integers must fit a double exactly). */
  number(key: string): number | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    if (v.type === GgufValueType.UINT64 || v.type === GgufValueType.INT64) {
      const n = Number(v.value);
      if (!Number.isSafeInteger(n)) throw this.wrongType(key, 'a number that fits 53 bits', v);
      return n;
    }
    if (typeof v.value === 'number') return v.value;
    throw this.wrongType(key, 'a number', v);
  }

  /** An integer scalar of any width; `min` bounds it (counts are >= 1, ids >= 0). */
  integer(key: string, min: number): number | undefined {
    const n = this.number(key);
    if (n === undefined) return undefined;
    if (!Number.isInteger(n) || n < min) {
      throw formatError(this.file, `metadata '${key}' must be an integer >= ${min}, got ${n}`);
    }
    return n;
  }

  requireInteger(key: string, min: number): number {
    const n = this.integer(key, min);
    if (n === undefined) throw formatError(this.file, `required metadata '${key}' is missing`);
    return n;
  }

  requireNumber(key: string): number {
    const n = this.number(key);
    if (n === undefined) throw formatError(this.file, `required metadata '${key}' is missing`);
    return n;
  }

  string(key: string): string | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    if (v.type !== GgufValueType.STRING) throw this.wrongType(key, 'a string', v);
    return v.value;
  }

  /** Length of an array value (any item type). */
  arrayLength(key: string): number | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    if (v.type !== GgufValueType.ARRAY) throw this.wrongType(key, 'an array', v);
    return v.value.length;
  }

  isArray(key: string): boolean {
    return this.entries.get(key)?.type === GgufValueType.ARRAY;
  }

  private wrongType(key: string, expected: string, v: GgufValue): Error {
    const shown = v.type === GgufValueType.ARRAY ? `an array of ${ggufValueTypeName(v.itemType)}` : ggufValueTypeName(v.type);
    return formatError(this.file, `metadata '${key}' must be ${expected}, got ${shown}`);
  }
}
