// A deliberately small GGUF reader for the tokenizer: it reads only the metadata key/value section
// (header + KV pairs) and stops before the tensor infos. It exists so the tokenizer does not depend
// on the full model reader (lib/model/gguf); the one function below can later be swapped for it.
import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { KvserveError } from '../errors.js';

const GGUF_MAGIC = 'GGUF';
const CHUNK_BYTES = 4 << 20;
const MAX_ARRAY_DEPTH = 4;

// GGUF value types (gguf.h: enum gguf_type).
const enum GgufType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

const FIXED_SIZES: Record<number, number> = {
  [GgufType.UINT8]: 1,
  [GgufType.INT8]: 1,
  [GgufType.UINT16]: 2,
  [GgufType.INT16]: 2,
  [GgufType.UINT32]: 4,
  [GgufType.INT32]: 4,
  [GgufType.FLOAT32]: 4,
  [GgufType.BOOL]: 1,
  [GgufType.UINT64]: 8,
  [GgufType.INT64]: 8,
  [GgufType.FLOAT64]: 8,
};

/**
 * Reads the `tokenizer.*` keys and `general.architecture` from a GGUF file's metadata.
 * Scalars become number / bigint (64-bit ints) / boolean / string; arrays of numbers become typed
 * arrays (Float32Array for scores, Int32Array for token types, ...), arrays of strings string[].
 * Throws ERR_MODEL_NOT_FOUND / ERR_MODEL_FORMAT (bad magic, unsupported version, lengths past the
 * end of the file).
 */
export async function readGgufTokenizerMetadata(path: string): Promise<Map<string, unknown>> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new KvserveError('ERR_MODEL_NOT_FOUND', `cannot open GGUF file ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    const { size } = await fh.stat();
    const reader = new ChunkedReader(fh, size, path);
    return await readMetadata(reader, (key) => key.startsWith('tokenizer.') || key === 'general.architecture');
  } finally {
    await fh.close();
  }
}

async function readMetadata(r: ChunkedReader, wanted: (key: string) => boolean): Promise<Map<string, unknown>> {
  if (endianness() !== 'LE') throw r.fail('big-endian hosts are not supported');
  await r.ensure(24);
  const magic = r.buf.toString('latin1', r.pos - r.bufStart, r.pos - r.bufStart + 4);
  if (magic !== GGUF_MAGIC) throw r.fail(`bad magic ${JSON.stringify(magic)} (expected "GGUF")`);
  r.pos += 4;
  const version = r.u32();
  if (version !== 2 && version !== 3) throw r.fail(`unsupported GGUF version ${version} (expected 2 or 3)`);
  r.u64(); // tensor count: the tensor infos follow the KV section and are not read here
  const numKv = r.u64();
  // Every KV pair needs at least 8 (key length) + 4 (type) + 1 bytes.
  if (numKv * 13 > r.fileSize) throw r.fail(`KV count ${numKv} does not fit in a ${r.fileSize}-byte file`);

  const out = new Map<string, unknown>();
  for (let i = 0; i < numKv; i++) {
    const key = await r.string();
    await r.ensure(4);
    const type = r.u32();
    if (wanted(key)) out.set(key, await readValue(r, type, 0));
    else await skipValue(r, type, 0);
  }
  return out;
}

async function readValue(r: ChunkedReader, type: number, depth: number): Promise<unknown> {
  if (type === GgufType.STRING) return r.string();
  if (type === GgufType.ARRAY) return readArray(r, depth);
  const size = FIXED_SIZES[type];
  if (size === undefined) throw r.fail(`unknown value type ${type}`);
  await r.ensure(size);
  return r.scalar(type);
}

async function readArray(r: ChunkedReader, depth: number): Promise<unknown> {
  if (depth >= MAX_ARRAY_DEPTH) throw r.fail('arrays nested too deeply');
  await r.ensure(12);
  const elemType = r.u32();
  const count = r.u64();
  if (elemType === GgufType.STRING) {
    r.checkFits(count * 8, 'string array');
    const out: string[] = new Array<string>(count);
    for (let i = 0; i < count; i++) out[i] = r.bufferedString() ?? (await r.string());
    return out;
  }
  if (elemType === GgufType.ARRAY) {
    r.checkFits(count * 12, 'nested array');
    const out: unknown[] = [];
    for (let i = 0; i < count; i++) out.push(await readArray(r, depth + 1));
    return out;
  }
  const size = FIXED_SIZES[elemType];
  if (size === undefined) throw r.fail(`unknown array element type ${elemType}`);
  const bytes = count * size;
  r.checkFits(bytes, 'array');
  // Copy into a fresh (aligned) buffer so typed-array views are valid.
  const raw = new Uint8Array(bytes);
  let done = 0;
  while (done < bytes) {
    await r.ensure(Math.min(CHUNK_BYTES, bytes - done));
    const n = Math.min(bytes - done, r.available());
    raw.set(r.buf.subarray(r.pos - r.bufStart, r.pos - r.bufStart + n), done);
    r.pos += n;
    done += n;
  }
  const ab = raw.buffer;
  switch (elemType) {
    case GgufType.UINT8: return raw;
    case GgufType.INT8: return new Int8Array(ab);
    case GgufType.UINT16: return new Uint16Array(ab);
    case GgufType.INT16: return new Int16Array(ab);
    case GgufType.UINT32: return new Uint32Array(ab);
    case GgufType.INT32: return new Int32Array(ab);
    case GgufType.FLOAT32: return new Float32Array(ab);
    case GgufType.BOOL: return Array.from(raw, (b) => b !== 0);
    case GgufType.UINT64: return new BigUint64Array(ab);
    case GgufType.INT64: return new BigInt64Array(ab);
    default: return new Float64Array(ab);
  }
}

async function skipValue(r: ChunkedReader, type: number, depth: number): Promise<void> {
  if (type === GgufType.STRING) {
    await r.ensure(8);
    r.skip(r.u64());
    return;
  }
  if (type === GgufType.ARRAY) {
    if (depth >= MAX_ARRAY_DEPTH) throw r.fail('arrays nested too deeply');
    await r.ensure(12);
    const elemType = r.u32();
    const count = r.u64();
    if (elemType === GgufType.STRING || elemType === GgufType.ARRAY) {
      r.checkFits(count * 8, 'array');
      for (let i = 0; i < count; i++) await skipValue(r, elemType, depth + 1);
      return;
    }
    const size = FIXED_SIZES[elemType];
    if (size === undefined) throw r.fail(`unknown array element type ${elemType}`);
    r.skip(count * size);
    return;
  }
  const size = FIXED_SIZES[type];
  if (size === undefined) throw r.fail(`unknown value type ${type}`);
  r.skip(size);
}

/** Sequential reader over a file handle with a sliding buffer; every length is checked against the file size. */
class ChunkedReader {
  buf: Buffer = Buffer.alloc(0);
  /** File offset of buf[0]. */
  bufStart = 0;
  /** Current absolute file offset. */
  pos = 0;

  constructor(
    private readonly fh: FileHandle,
    readonly fileSize: number,
    private readonly path: string,
  ) {}

  fail(message: string): KvserveError {
    return new KvserveError('ERR_MODEL_FORMAT', `${this.path}: GGUF metadata at byte ${this.pos}: ${message}`);
  }

  available(): number {
    return this.bufStart + this.buf.length - this.pos;
  }

  checkFits(numBytes: number, what: string): void {
    if (!Number.isSafeInteger(numBytes) || this.pos + numBytes > this.fileSize) {
      throw this.fail(`${what} of ${numBytes} bytes runs past the end of the ${this.fileSize}-byte file`);
    }
  }

  /** Makes at least n bytes from pos available in buf. */
  async ensure(n: number): Promise<void> {
    if (this.available() >= n) return;
    this.checkFits(n, 'value');
    const keep = this.buf.subarray(this.pos - this.bufStart);
    const want = Math.min(Math.max(n, CHUNK_BYTES), this.fileSize - this.pos);
    const next = Buffer.allocUnsafe(want);
    keep.copy(next, 0);
    let filled = keep.length;
    while (filled < want) {
      const { bytesRead } = await this.fh.read(next, filled, want - filled, this.pos + filled);
      if (bytesRead === 0) throw this.fail('unexpected end of file');
      filled += bytesRead;
    }
    this.buf = next;
    this.bufStart = this.pos;
  }

  skip(n: number): void {
    this.checkFits(n, 'value');
    this.pos += n;
  }

  private off(): number {
    return this.pos - this.bufStart;
  }

  u32(): number {
    const v = this.buf.readUInt32LE(this.off());
    this.pos += 4;
    return v;
  }

  /** A u64 length/count; must be a safe integer (anything larger cannot fit in the file anyway). */
  u64(): number {
    const v = this.buf.readBigUInt64LE(this.off());
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail(`length ${v} is out of range`);
    return Number(v);
  }

  /** The next string if it is entirely in the buffer (no await per vocabulary entry), else null. */
  bufferedString(): string | null {
    const o = this.off();
    if (this.available() < 8) return null;
    const len = Number(this.buf.readBigUInt64LE(o));
    if (this.available() < 8 + len) return null;
    this.pos += 8 + len;
    return this.buf.toString('utf8', o + 8, o + 8 + len);
  }

  async string(): Promise<string> {
    await this.ensure(8);
    const len = this.u64();
    this.checkFits(len, 'string');
    await this.ensure(len);
    const s = this.buf.toString('utf8', this.off(), this.off() + len);
    this.pos += len;
    return s;
  }

  scalar(type: number): unknown {
    const o = this.off();
    let v: unknown;
    switch (type) {
      case GgufType.UINT8: v = this.buf.readUInt8(o); break;
      case GgufType.INT8: v = this.buf.readInt8(o); break;
      case GgufType.UINT16: v = this.buf.readUInt16LE(o); break;
      case GgufType.INT16: v = this.buf.readInt16LE(o); break;
      case GgufType.UINT32: v = this.buf.readUInt32LE(o); break;
      case GgufType.INT32: v = this.buf.readInt32LE(o); break;
      case GgufType.FLOAT32: v = this.buf.readFloatLE(o); break;
      case GgufType.BOOL: v = this.buf.readUInt8(o) !== 0; break;
      case GgufType.UINT64: v = this.buf.readBigUInt64LE(o); break;
      case GgufType.INT64: v = this.buf.readBigInt64LE(o); break;
      default: v = this.buf.readDoubleLE(o); break;
    }
    this.pos += FIXED_SIZES[type] ?? 0;
    return v;
  }
}
