// Mutators of the coverage-guided loader fuzzer: libFuzzer's byte-level set (bit flips, interesting
// integers, arithmetic, insert / erase / duplicate / truncate, splice with another corpus entry,
// dictionary words) plus a JSON-aware one for JSON files (replace any value with a hostile one:
// wrong types, NaN-like and huge numbers, negative values, deep nesting, long strings; drop or add
// keys). Positions lean towards the start of a file, where headers live.
import type { Random } from './random.js';

export type Parts = Buffer[];

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff];
const INTERESTING_INTS = [
  0n, 1n, 2n, 3n, 7n, 8n, 15n, 16n, 31n, 32n, 63n, 64n, 127n, 128n, 255n, 256n, 1023n, 1024n, 4095n, 4096n,
  0x7fffn, 0x8000n, 0xffffn, 0x10000n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n,
  (1n << 53n) - 1n, 1n << 53n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n,
];

/** Word list for dictionary mutations, collected from the seeds (printable runs) plus format words. */
export class Dictionary {
  readonly words: Buffer[] = [];
  private readonly seen = new Set<string>();

  add(word: Buffer | string): void {
    const b = typeof word === 'string' ? Buffer.from(word, 'utf8') : word;
    const key = b.toString('latin1');
    if (b.length === 0 || b.length > 64 || this.seen.has(key) || this.words.length >= 4096) return;
    this.seen.add(key);
    this.words.push(b);
  }

  /** Printable ASCII runs of 3-64 bytes from the first `limit` bytes of a seed (keys, names, JSON tokens). */
  addFrom(data: Buffer, limit = 1 << 20): void {
    let start = -1;
    const end = Math.min(data.length, limit);
    for (let i = 0; i <= end; i++) {
      const c = i < end ? (data[i] as number) : 0;
      const printable = c >= 0x20 && c < 0x7f;
      if (printable && start < 0) start = i;
      if (!printable && start >= 0) {
        if (i - start >= 3) this.add(data.subarray(start, Math.min(i, start + 64)));
        start = -1;
      }
    }
  }
}

function position(rng: Random, length: number): number {
  if (length <= 0) return 0;
  // Half of the time anywhere, half of the time near the start (headers).
  const u = rng.float();
  return Math.min(length - 1, Math.floor(length * (rng.bool() ? u : u * u * u)));
}

function writeInt(buf: Buffer, at: number, width: 1 | 2 | 4 | 8, value: bigint, bigEndian: boolean): void {
  if (at + width > buf.length) return;
  const mask = (1n << BigInt(width * 8)) - 1n;
  let v = BigInt.asUintN(64, value) & mask;
  for (let i = 0; i < width; i++) {
    const byte = Number(v & 0xffn);
    buf[bigEndian ? at + width - 1 - i : at + i] = byte;
    v >>= 8n;
  }
}

function readInt(buf: Buffer, at: number, width: 1 | 2 | 4 | 8): bigint {
  let v = 0n;
  for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[at + i] ?? 0);
  return v;
}

type ByteMutator = (data: Buffer, rng: Random, ctx: MutationContext) => Buffer;

export interface MutationContext {
  dictionary: Dictionary;
  /** Another input's bytes for the same part (splicing). */
  other: () => Buffer | null;
  maxSize: number;
}

const BYTE_MUTATORS: Array<[string, ByteMutator]> = [
  ['flip-bit', (d, r) => {
    if (d.length === 0) return d;
    const out = Buffer.from(d);
    const at = position(r, out.length);
    out[at] = (out[at] as number) ^ (1 << r.int(8));
    return out;
  }],
  ['interesting-byte', (d, r) => {
    if (d.length === 0) return d;
    const out = Buffer.from(d);
    out[position(r, out.length)] = r.pick(INTERESTING_8);
    return out;
  }],
  ['random-byte', (d, r) => {
    if (d.length === 0) return d;
    const out = Buffer.from(d);
    out[position(r, out.length)] = r.int(256);
    return out;
  }],
  ['interesting-int', (d, r) => {
    const out = Buffer.from(d);
    const width = r.pick([1, 2, 4, 8] as const);
    let value = r.pick(INTERESTING_INTS);
    if (r.int(4) === 0) value = BigInt(d.length + r.int(17) - 8);
    if (r.bool()) value = -value;
    writeInt(out, position(r, Math.max(1, out.length - width + 1)), width, value, r.int(8) === 0);
    return out;
  }],
  ['arith', (d, r) => {
    const out = Buffer.from(d);
    const width = r.pick([1, 2, 4, 8] as const);
    const at = position(r, Math.max(1, out.length - width + 1));
    const delta = BigInt(r.int(35) - 17);
    writeInt(out, at, width, readInt(out, at, width) + delta, false);
    return out;
  }],
  ['insert-bytes', (d, r, c) => {
    const n = 1 + r.int(r.bool() ? 8 : 128);
    if (d.length + n > c.maxSize) return d;
    const at = position(r, d.length + 1);
    const fill = Buffer.alloc(n);
    const mode = r.int(3);
    for (let i = 0; i < n; i++) fill[i] = mode === 0 ? 0 : mode === 1 ? 0xff : r.int(256);
    return Buffer.concat([d.subarray(0, at), fill, d.subarray(at)]);
  }],
  ['erase-bytes', (d, r) => {
    if (d.length < 2) return d;
    const at = position(r, d.length);
    const n = 1 + r.int(Math.min(d.length - at, r.bool() ? 8 : 512));
    return Buffer.concat([d.subarray(0, at), d.subarray(at + n)]);
  }],
  ['duplicate-range', (d, r, c) => {
    if (d.length === 0) return d;
    const from = position(r, d.length);
    const n = 1 + r.int(Math.min(d.length - from, 256));
    if (d.length + n > c.maxSize) return d;
    const at = position(r, d.length + 1);
    return Buffer.concat([d.subarray(0, at), d.subarray(from, from + n), d.subarray(at)]);
  }],
  ['copy-range', (d, r) => {
    if (d.length < 2) return d;
    const out = Buffer.from(d);
    const from = position(r, d.length);
    const to = position(r, d.length);
    const n = 1 + r.int(Math.min(d.length - Math.max(from, to), 64));
    d.copy(out, to, from, from + n);
    return out;
  }],
  ['truncate', (d, r) => (d.length === 0 ? d : d.subarray(0, position(r, d.length)))],
  ['splice', (d, r, c) => {
    const other = c.other();
    if (!other || other.length === 0 || d.length === 0) return d;
    const cut = position(r, Math.min(d.length, other.length));
    const out = Buffer.concat([d.subarray(0, cut), other.subarray(cut)]);
    return out.length > c.maxSize ? out.subarray(0, c.maxSize) : out;
  }],
  ['dictionary', (d, r, c) => {
    if (c.dictionary.words.length === 0) return d;
    const word = r.pick(c.dictionary.words);
    const at = position(r, d.length + 1);
    if (r.bool() || d.length + word.length > c.maxSize) {
      const out = Buffer.from(d);
      word.copy(out, at, 0, Math.min(word.length, out.length - at));
      return out;
    }
    return Buffer.concat([d.subarray(0, at), word, d.subarray(at)]);
  }],
];

const HOSTILE_JSON: Array<(r: Random) => unknown> = [
  () => null, () => true, () => false, () => 0, () => -1, () => 1, () => 0.5, () => -0.0001,
  () => 1e308, () => -1e308, () => 2 ** 53, () => 2 ** 31, () => -(2 ** 31), () => 2 ** 64, () => 65536,
  () => '', () => 'NaN', () => 'Infinity', () => '-1', () => '1e999', () => 'x'.repeat(5000),
  () => '\u0000\ud800\uffff', () => '<s>', () => '</s>', () => '{{ raise_exception("x") }}',
  () => [], () => {}, () => [1, 'a', null], () => ({ a: 1 }),
  (r) => nest(1 + r.int(2000)),
];

function nest(depth: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

type JsonContainer = Record<string, unknown> | unknown[];

function containers(root: unknown, out: JsonContainer[] = [], depth = 0): JsonContainer[] {
  if (depth > 64 || out.length > 4096) return out;
  if (Array.isArray(root)) {
    out.push(root);
    // Large arrays (vocabularies, merges): sample a few children only.
    const step = Math.max(1, Math.floor(root.length / 32));
    for (let i = 0; i < root.length; i += step) containers(root[i], out, depth + 1);
  } else if (root !== null && typeof root === 'object') {
    out.push(root as Record<string, unknown>);
    const values = Object.values(root as Record<string, unknown>);
    const step = Math.max(1, Math.floor(values.length / 32));
    for (let i = 0; i < values.length; i += step) containers(values[i], out, depth + 1);
  }
  return out;
}

/** A structural JSON mutation, or null when `data` is not JSON (the byte mutators apply then). */
export function mutateJson(data: Buffer, rng: Random, ctx: MutationContext): Buffer | null {
  // Only JSON documents (objects or arrays): decoding a binary file as text would cost more than its run.
  let first = 0;
  while (first < data.length && (data[first] === 0x20 || data[first] === 0x0a || data[first] === 0x0d || data[first] === 0x09)) first++;
  if (data[first] !== 0x7b && data[first] !== 0x5b) return null;
  let root: unknown;
  try {
    root = JSON.parse(data.toString('utf8'));
  } catch {
    return null;
  }
  const all = containers(root);
  if (all.length === 0) return null;
  const target = rng.pick(all);
  const keys: Array<string | number> = Array.isArray(target) ? target.map((_, i) => i) : Object.keys(target);
  const op = rng.int(6);
  const set = (key: string | number, value: unknown): void => {
    (target as Record<string | number, unknown>)[key] = value;
  };
  if ((op === 0 || keys.length === 0) && !Array.isArray(target)) {
    const word = ctx.dictionary.words.length > 0 ? rng.pick(ctx.dictionary.words).toString('latin1') : 'unknown_field';
    set(word.replace(/"/g, ''), rng.pick(HOSTILE_JSON)(rng));
  } else if (keys.length > 0) {
    const key = rng.pick(keys);
    if (op === 1) {
      if (Array.isArray(target)) target.splice(key as number, 1);
      else delete (target as Record<string, unknown>)[key as string];
    } else if (op === 2) {
      const value = (target as Record<string | number, unknown>)[key];
      // Nearby or negated numbers, repeated strings.
      set(key, typeof value === 'number' ? (rng.bool() ? -value : value + rng.int(5) - 2)
        : typeof value === 'string' ? value.repeat(1 + rng.int(4)) : rng.pick(HOSTILE_JSON)(rng));
    } else if (op === 3) {
      const value = (target as Record<string | number, unknown>)[key];
      // Same value, another type: 5 -> "5", "5" -> 5, true -> 1, {..} -> "{..}".
      set(key, typeof value === 'number' ? String(value) : typeof value === 'string' ? Number(value) || value.length
        : typeof value === 'boolean' ? Number(value) : JSON.stringify(value ?? null));
    } else {
      set(key, rng.pick(HOSTILE_JSON)(rng));
    }
  }
  let text: string;
  try {
    text = JSON.stringify(root);
  } catch {
    return null;
  }
  const out = Buffer.from(text, 'utf8');
  return out.length <= ctx.maxSize ? out : null;
}

/** One to five stacked mutations of one part of the input. */
export function mutate(parts: Parts, rng: Random, ctxFor: (part: number) => MutationContext): { parts: Parts; ops: string[] } {
  const out = parts.slice();
  const ops: string[] = [];
  const numOps = 1 + Math.floor(-Math.log2(1 - rng.float() * 0.97));
  const which = rng.int(out.length);
  for (let k = 0; k < Math.min(numOps, 5); k++) {
    const ctx = ctxFor(which);
    const data = out[which] as Buffer;
    if (rng.int(3) === 0) {
      const json = mutateJson(data, rng, ctx);
      if (json) {
        out[which] = json;
        ops.push('json');
        continue;
      }
    }
    const [name, fn] = rng.pick(BYTE_MUTATORS);
    out[which] = fn(data, rng, ctx);
    ops.push(name);
  }
  return { parts: out, ops };
}
