// safetensors reader: 8-byte little-endian header length, a JSON header mapping tensor names to
// {dtype, shape, data_offsets} (offsets relative to the byte after the header), and an optional
// `__metadata__` string map. Only the header is read; every offset is validated so the native side
// can mmap the data section and trust the TensorSpecs.
import { KvserveError } from '../../errors.js';
import { DType } from '../types.js';
import { formatError, unsupportedError } from '../format-error.js';
import { ChunkedFileReader } from '../io/chunked-file-reader.js';

/** safetensors dtype names kvserve can load, and their kvserve DType. */
export const SAFETENSORS_DTYPES: Readonly<Record<string, DType>> = { F32: DType.F32, F16: DType.F16, BF16: DType.BF16 };
const ELEMENT_BYTES: Readonly<Record<string, number>> = { F32: 4, F16: 2, BF16: 2 };

/** Real headers are a few hundred KB at most; this bounds the allocation for a corrupt length. */
export const MAX_SAFETENSORS_HEADER_BYTES = 100 * 1024 * 1024;

export interface SafetensorsTensorInfo {
  name: string;
  dtype: DType;
  /** The dtype as written in the file ('F32', 'F16', 'BF16'). */
  dtypeName: string;
  shape: number[];
  /** Absolute byte offset of the tensor's data in the file. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsFile {
  path: string;
  fileSize: number;
  headerLength: number;
  /** Absolute offset of the data section (8 + headerLength). */
  dataOffset: number;
  metadata: Record<string, string>;
  tensors: SafetensorsTensorInfo[];
}

export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  return readSafetensorsSync(path);
}

export function readSafetensorsSync(path: string): SafetensorsFile {
  const reader = ChunkedFileReader.open(path);
  try {
    return parse(reader);
  } catch (error) {
    if (error instanceof KvserveError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw formatError(path, `cannot parse safetensors header (${detail})`, error);
  } finally {
    reader.close();
  }
}

function parse(r: ChunkedFileReader): SafetensorsFile {
  const file = r.file;
  r.context = 'the safetensors header length';
  const headerLength = r.u64('header length');
  if (headerLength > r.remaining) {
    throw formatError(file, `header length ${headerLength} exceeds the ${r.remaining} bytes after it (file is ${r.size} bytes)`);
  }
  if (headerLength > MAX_SAFETENSORS_HEADER_BYTES) {
    throw formatError(file, `header length ${headerLength} exceeds the limit of ${MAX_SAFETENSORS_HEADER_BYTES} bytes`);
  }
  r.context = 'the safetensors JSON header';
  const text = r.utf8(headerLength, true);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw formatError(file, `header is not valid JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(header)) throw formatError(file, 'header must be a JSON object');

  const dataOffset = 8 + headerLength;
  const dataLength = r.size - dataOffset;
  const metadata: Record<string, string> = {};
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isPlainObject(entry)) throw formatError(file, '__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw formatError(file, `__metadata__['${k}'] must be a string, got ${typeof v}`);
        metadata[k] = v;
      }
      continue;
    }
    tensors.push(parseTensor(file, name, entry, dataOffset, dataLength));
  }
  return { path: file, fileSize: r.size, headerLength, dataOffset, metadata, tensors };
}

function parseTensor(
  file: string,
  name: string,
  entry: unknown,
  dataOffset: number,
  dataLength: number,
): SafetensorsTensorInfo {
  const where = `tensor '${name}'`;
  if (!isPlainObject(entry)) throw formatError(file, `${where}: entry must be an object`);
  const { dtype: dtypeName, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtypeName !== 'string') throw formatError(file, `${where}: dtype must be a string`);
  const dtype = SAFETENSORS_DTYPES[dtypeName];
  if (dtype === undefined) {
    throw unsupportedError(file, `${where} has dtype ${dtypeName}; kvserve loads ${Object.keys(SAFETENSORS_DTYPES).join(', ')}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw formatError(file, `${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)
  ) {
    throw formatError(file, `${where}: data_offsets must be [begin, end] byte offsets, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw formatError(file, `${where}: data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataLength) {
    throw formatError(
      file,
      `${where} data [offset ${dataOffset + begin}, ${end - begin} bytes] extends past end of file (${dataOffset + dataLength} bytes)`,
    );
  }
  let elements = 1;
  for (const d of shape as number[]) elements *= d;
  const expected = elements * ELEMENT_BYTES[dtypeName]!;
  if (!Number.isSafeInteger(expected) || expected !== end - begin) {
    throw formatError(
      file,
      `${where}: shape [${(shape as number[]).join(', ')}] of ${dtypeName} needs ${expected} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`,
    );
  }
  return { name, dtype, dtypeName, shape: shape as number[], offset: dataOffset + begin, byteLength: end - begin };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
