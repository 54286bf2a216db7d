// Parses human byte sizes for flags such as --kv-cache-memory: "2GiB", "512MiB", "1.5GB", "1048576".
import { invalidArgument } from '../errors.js';

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  ki: 2 ** 10, kib: 2 ** 10, mi: 2 ** 20, mib: 2 ** 20, gi: 2 ** 30, gib: 2 ** 30, ti: 2 ** 40, tib: 2 ** 40,
};

export function parseByteSize(field: string, value: string | number): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value > 0) return Math.floor(value);
    throw invalidArgument(field, 'a positive byte count', value);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) throw invalidArgument(field, 'a size such as 2GiB, 512MiB or 1048576', value);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!(bytes > 0)) throw invalidArgument(field, 'a positive size', value);
  return bytes;
}
