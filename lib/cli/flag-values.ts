// Converters for command-line flag values; errors name the flag, what was expected and what was given.
import { invalidArgument } from '../errors.js';

export function parseInteger(flag: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw invalidArgument(flag, max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`, value);
  }
  return n;
}

export function parseNumber(flag: string, value: string, min: number): number {
  const n = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(n) || n < min) throw invalidArgument(flag, `a number >= ${min}`, value);
  return n;
}

/** "30", "30s", "1.5m", "500ms", "1h" -> seconds. */
export function parseDurationSeconds(flag: string, value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (!m) throw invalidArgument(flag, 'a duration such as 60s, 500ms, 2m or 30 (seconds)', value);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return unit === 'ms' ? n / 1000 : unit === 'm' ? n * 60 : unit === 'h' ? n * 3600 : n;
}

/** "1,2,4" -> [1, 2, 4] */
export function parseIntegerList(flag: string, value: string, min: number): number[] {
  const parts = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw invalidArgument(flag, 'a comma-separated list of integers such as 1,2,4', value);
  return parts.map((p) => parseInteger(flag, p, min));
}

/** A JSON list ('["a","b"]', vLLM's form) or a comma-separated list. */
export function parseStringList(flag: string, value: string): string[] {
  const trimmed = value.trim();
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      parsed = null;
    }
    if (!Array.isArray(parsed) || !parsed.every((s) => typeof s === 'string')) {
      throw invalidArgument(flag, 'a JSON list of strings or a comma-separated list', value);
    }
    return parsed;
  }
  return trimmed.split(',').map((s) => s.trim()).filter((s) => s !== '');
}
