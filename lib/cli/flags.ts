// Numeric flag parsing with errors that name the flag, the expected form and the value.
import { invalidArgument } from '../errors.js';

export function numberFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw invalidArgument(name, 'a number', value);
  return n;
}

export function intFlag(name: string, value: string | undefined): number | undefined {
  const n = numberFlag(name, value);
  if (n !== undefined && !Number.isInteger(n)) throw invalidArgument(name, 'an integer', value);
  return n;
}
