// GGUF v3 (or v2) writer for the project's own synthetic test and bench models. Tensors are given
// as F32 values (quantized here to the requested type) or as raw bytes already in that type, one
// at a time (a callback may produce each tensor's data lazily, so big bench models never sit in
// memory whole). Data is aligned and padded like llama.cpp's writer does.
import { open, rm } from 'node:fs/promises';
import { invalidArgument } from '../../errors.js';
import { dtypeInfo } from '../dtype-info.js';
import { quantize } from '../quant/index.js';
import type { DType } from '../types.js';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_SCALAR_SIZE, GgufValueType, ggmlTypeInfo } from './constants.js';
import { ggufU32, type GgufArrayValue, type GgufValue } from './value.js';

export type TensorData = Float32Array | Uint8Array;

export interface GgufTensorInput {
  name: string;
  /** Dimensions in ggml order (ne[0] innermost) — the reverse of a row-major shape. */
  ne: number[];
  /** The kvserve type to store; F32 data is quantized to it. */
  dtype?: DType;
  /** Any ggml type id instead of `dtype` (data must then be raw bytes); for tests of other types. */
  ggmlType?: number;
  data: TensorData | (() => TensorData);
}

export interface GgufWriteOptions {
  metadata: Map<string, GgufValue> | Iterable<[string, GgufValue]>;
  tensors: GgufTensorInput[];
  /**
   * Power of two used to lay out the data; written as general.alignment when not 32 (unless
   * `metadata` already has that key, which is then written as given, e.g. to build bad files).
   */
  alignment?: number;
  version?: 2 | 3;
}

interface PlannedTensor {
  input: GgufTensorInput;
  ggmlType: number;
  typeName: string;
  byteLength: number;
  offset: number;
}

export async function writeGguf(path: string, options: GgufWriteOptions): Promise<void> {
  const alignment = options.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw invalidArgument('alignment', 'a power of two', alignment);
  }
  const metadata = new Map(options.metadata);
  if (alignment !== GGUF_DEFAULT_ALIGNMENT && !metadata.has('general.alignment')) {
    metadata.set('general.alignment', ggufU32(alignment));
  }

  let dataSize = 0;
  const planned: PlannedTensor[] = options.tensors.map((input) => {
    const p = planTensor(input, dataSize);
    dataSize = p.offset + alignUp(p.byteLength, alignment);
    return p;
  });

  const header = new ByteSink();
  header.u32(GGUF_MAGIC);
  header.u32(options.version ?? 3);
  header.u64(planned.length);
  header.u64(metadata.size);
  for (const [key, value] of metadata) {
    header.string(key);
    header.u32(value.type);
    writeValue(header, value);
  }
  for (const p of planned) {
    header.string(p.input.name);
    header.u32(p.input.ne.length);
    for (const d of p.input.ne) header.u64(d);
    header.u32(p.ggmlType);
    header.u64(p.offset);
  }
  const headerBytes = header.finish();
  const dataStart = alignUp(headerBytes.length, alignment);

  const fh = await open(path, 'w');
  try {
    await fh.write(headerBytes, 0, headerBytes.length, 0);
    await fh.write(new Uint8Array(dataStart - headerBytes.length), 0, dataStart - headerBytes.length, headerBytes.length);
    for (const p of planned) {
      const bytes = encodeTensor(p);
      const padded = alignUp(bytes.length, alignment);
      await fh.write(bytes, 0, bytes.length, dataStart + p.offset);
      if (padded > bytes.length) {
        await fh.write(new Uint8Array(padded - bytes.length), 0, padded - bytes.length, dataStart + p.offset + bytes.length);
      }
    }
  } catch (error) {
    // Never leave a half-written model behind for a later load to trip over.
    await fh.close();
    await rm(path, { force: true });
    throw error;
  }
  await fh.close();
}

function planTensor(input: GgufTensorInput, offset: number): PlannedTensor {
  const field = `tensor '${input.name}'`;
  if ((input.dtype === undefined) === (input.ggmlType === undefined)) {
    throw invalidArgument(`${field}`, 'exactly one of dtype or ggmlType', { dtype: input.dtype, ggmlType: input.ggmlType });
  }
  const ggmlType = input.ggmlType ?? dtypeInfo(input.dtype!).ggmlType;
  const info = ggmlTypeInfo(ggmlType);
  // An unknown ggmlType is written as-is (1 byte per element) so tests can build such files.
  const blockSize = info?.blockSize ?? 1;
  const blockBytes = info?.blockBytes ?? 1;
  if (input.ne.length < 1 || !input.ne.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw invalidArgument(`${field} ne`, 'one or more positive integers', input.ne);
  }
  if (input.ne[0]! % blockSize !== 0) {
    throw invalidArgument(`${field} ne[0]`, `a multiple of the ${info?.name} block size ${blockSize}`, input.ne[0]);
  }
  const elements = input.ne.reduce((a, b) => a * b, 1);
  return { input, ggmlType, typeName: info?.name ?? String(ggmlType), byteLength: (elements / blockSize) * blockBytes, offset };
}

function encodeTensor(p: PlannedTensor): Uint8Array {
  const field = `tensor '${p.input.name}' data`;
  const data = typeof p.input.data === 'function' ? p.input.data() : p.input.data;
  if (data instanceof Float32Array) {
    if (p.input.dtype === undefined) throw invalidArgument(field, 'raw bytes when ggmlType is given', 'Float32Array');
    const elements = p.input.ne.reduce((a, b) => a * b, 1);
    if (data.length !== elements) throw invalidArgument(field, `${elements} values`, `${data.length} values`);
    return quantize(p.input.dtype, data);
  }
  if (data.length !== p.byteLength) throw invalidArgument(field, `${p.byteLength} bytes of ${p.typeName}`, `${data.length} bytes`);
  return data;
}

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** Growable little-endian byte buffer for the header. */
class ByteSink {
  private buf = Buffer.alloc(4096);
  private len = 0;
  private readonly encoder = new TextEncoder();

  private reserve(n: number): number {
    if (this.len + n > this.buf.length) {
      const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
      this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    }
    const at = this.len;
    this.len += n;
    return at;
  }

  // reserve() may replace this.buf, so it must run before this.buf is read.
  u8(v: number): void {
    const at = this.reserve(1);
    this.buf[at] = v & 0xff;
  }
  u32(v: number): void {
    const at = this.reserve(4);
    this.buf.writeUInt32LE(v >>> 0, at);
  }
  u64(v: number | bigint): void {
    const at = this.reserve(8);
    this.buf.writeBigUInt64LE(BigInt(v), at);
  }
  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
  }
  string(s: string): void {
    const b = this.encoder.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  scalar(type: GgufValueType, v: number | bigint | boolean): void {
    const at = this.reserve(GGUF_SCALAR_SIZE[type]!);
    switch (type) {
      case GgufValueType.UINT8:
        this.buf.writeUInt8(Number(v), at);
        break;
      case GgufValueType.INT8:
        this.buf.writeInt8(Number(v), at);
        break;
      case GgufValueType.UINT16:
        this.buf.writeUInt16LE(Number(v), at);
        break;
      case GgufValueType.INT16:
        this.buf.writeInt16LE(Number(v), at);
        break;
      case GgufValueType.UINT32:
        this.buf.writeUInt32LE(Number(v), at);
        break;
      case GgufValueType.INT32:
        this.buf.writeInt32LE(Number(v), at);
        break;
      case GgufValueType.FLOAT32:
        this.buf.writeFloatLE(Number(v), at);
        break;
      case GgufValueType.FLOAT64:
        this.buf.writeDoubleLE(Number(v), at);
        break;
      case GgufValueType.BOOL:
        this.buf.writeUInt8(v ? 1 : 0, at);
        break;
      case GgufValueType.UINT64:
        this.buf.writeBigUInt64LE(BigInt(v), at);
        break;
      case GgufValueType.INT64:
        this.buf.writeBigInt64LE(BigInt(v), at);
        break;
      default:
        throw invalidArgument('GGUF scalar type', 'a fixed-size type', type);
    }
  }
  finish(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

function writeValue(sink: ByteSink, value: GgufValue): void {
  switch (value.type) {
    case GgufValueType.STRING:
      sink.string(value.value);
      return;
    case GgufValueType.ARRAY:
      writeArray(sink, value);
      return;
    default:
      sink.scalar(value.type, value.value);
  }
}

function writeArray(sink: ByteSink, value: GgufArrayValue): void {
  sink.u32(value.itemType);
  sink.u64(value.value.length);
  const items = value.value;
  if (value.itemType === GgufValueType.STRING) {
    for (const s of items as string[]) sink.string(s);
  } else if (value.itemType === GgufValueType.ARRAY) {
    for (const nested of items as GgufArrayValue[]) writeArray(sink, nested);
  } else {
    const list = items as ArrayLike<number | bigint | boolean>;
    for (let i = 0; i < list.length; i++) sink.scalar(value.itemType, list[i]!);
  }
}
