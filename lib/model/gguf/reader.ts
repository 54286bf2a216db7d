// GGUF v2/v3 (little-endian) header reader: metadata, tensor infos, alignment, data offset.
// Reads the header only, through bounded chunks; the tensor data stays on disk for native mmap.
// Every count, length and offset is checked against the file size before anything is allocated,
// so a corrupt or hostile file yields an ERR_MODEL_FORMAT / ERR_MODEL_UNSUPPORTED KvserveError
// naming the file and the problem, never a crash or a huge allocation.
import { KvserveError } from '../../errors.js';
import { formatError, unsupportedError } from '../format-error.js';
import { ChunkedFileReader } from '../io/chunked-file-reader.js';
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_MAX_DIMS,
  GGUF_SCALAR_SIZE,
  GGUF_SUPPORTED_VERSIONS,
  GgufValueType,
  ggmlTypeInfo,
  ggufValueTypeName,
} from './constants.js';
import { typedArrayFor, type GgufArrayItems, type GgufArrayValue, type GgufValue } from './value.js';

export interface GgufTensorInfo {
  name: string;
  /** ggml type id (0 = F32, 1 = F16, 8 = Q8_0, ...). */
  ggmlType: number;
  /** ggml type name ('F32', 'Q4_K', ...). */
  typeName: string;
  /** Dimensions in ggml order: ne[0] is the contiguous (innermost) dimension. */
  ne: number[];
  /** Absolute byte offset of the tensor's data in the file. */
  offset: number;
  byteLength: number;
}

export interface GgufFile {
  path: string;
  fileSize: number;
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  /** Absolute offset of the (aligned) tensor data section. */
  dataOffset: number;
  alignment: number;
}

// Caps that no real file comes near but that keep a hostile header from exhausting memory or the
// stack: a key is at most 65535 bytes (GGUF spec), an array at most 64M items, nesting 8 deep.
const MAX_KEY_BYTES = 65535;
const MAX_NAME_BYTES = 65535;
const MAX_ARRAY_ITEMS = 1 << 26;
const MAX_ARRAY_DEPTH = 8;
// Smallest encodings, used to reject counts the remaining bytes cannot possibly hold.
const MIN_KV_BYTES = 8 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;

export async function readGguf(path: string): Promise<GgufFile> {
  return readGgufSync(path);
}

/** Synchronous variant: the header is read with bounded synchronous reads (typically < 10 MB). */
export function readGgufSync(path: string): GgufFile {
  const reader = ChunkedFileReader.open(path);
  try {
    return parse(reader);
  } catch (error) {
    if (error instanceof KvserveError) throw error;
    // A parser bug must still surface as a model error that names the file.
    const detail = error instanceof Error ? error.message : String(error);
    throw formatError(path, `cannot parse GGUF header (${detail})`, error);
  } finally {
    reader.close();
  }
}

function parse(r: ChunkedFileReader): GgufFile {
  const file = r.file;
  r.context = 'the GGUF magic';
  const magicBytes = r.bytes(4);
  const magic = magicBytes[0]! | (magicBytes[1]! << 8) | (magicBytes[2]! << 16) | (magicBytes[3]! << 24);
  if (magic >>> 0 !== GGUF_MAGIC) {
    const shown = Array.from(magicBytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw formatError(file, `not a GGUF file: magic bytes are ${shown}, expected 47 47 55 46 ("GGUF")`);
  }
  r.context = 'the GGUF version';
  const version = r.u32();
  if (!GGUF_SUPPORTED_VERSIONS.includes(version)) {
    if (version !== 0 && (version & 0xffff) === 0) {
      throw unsupportedError(file, 'big-endian GGUF files are not supported');
    }
    throw unsupportedError(file, `GGUF version ${version} is not supported (supported: 2, 3)`);
  }
  r.context = 'the tensor count';
  const numTensors = r.u64('tensor count');
  r.context = 'the metadata count';
  const numKv = r.u64('metadata count');
  if (numTensors * MIN_TENSOR_INFO_BYTES > r.remaining) {
    throw formatError(file, `tensor count ${numTensors} is impossible for a file of ${r.size} bytes`);
  }
  if (numKv * MIN_KV_BYTES > r.remaining) {
    throw formatError(file, `metadata count ${numKv} is impossible for a file of ${r.size} bytes`);
  }

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < numKv; i++) {
    r.context = `the key of metadata entry ${i}`;
    const key = readString(r, MAX_KEY_BYTES, true);
    if (metadata.has(key)) throw formatError(file, `duplicate metadata key '${key}'`);
    r.context = `the type of metadata '${key}'`;
    const type = r.u32();
    r.context = `the value of metadata '${key}'`;
    metadata.set(key, readValue(r, type, 0));
  }

  const alignment = readAlignment(file, metadata);

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < numTensors; i++) {
    r.context = `the name of tensor ${i}`;
    const name = readString(r, MAX_NAME_BYTES, true);
    if (names.has(name)) throw formatError(file, `duplicate tensor name '${name}'`);
    names.add(name);
    r.context = `tensor '${name}' info`;
    const numDims = r.u32();
    if (numDims < 1 || numDims > GGUF_MAX_DIMS) {
      throw formatError(file, `tensor '${name}' has ${numDims} dimensions (expected 1 to ${GGUF_MAX_DIMS})`);
    }
    const ne: number[] = [];
    let elements = 1;
    for (let d = 0; d < numDims; d++) {
      const dim = r.u64(`tensor '${name}' dimension ${d}`);
      if (dim < 1) throw formatError(file, `tensor '${name}' has dimension ${d} of size ${dim}`);
      ne.push(dim);
      elements *= dim;
      if (elements > r.size * 8) {
        // Even at 1 bit per element no tensor can have more elements than the file has bits.
        throw formatError(file, `tensor '${name}' dimensions [${ne.join(', ')}...] are too large for the file`);
      }
    }
    const ggmlType = r.u32();
    const typeInfo = ggmlTypeInfo(ggmlType);
    if (typeInfo === undefined) {
      throw formatError(file, `tensor '${name}' has unknown ggml type ${ggmlType}`);
    }
    if (ne[0]! % typeInfo.blockSize !== 0) {
      throw formatError(
        file,
        `tensor '${name}' row length ${ne[0]} is not a multiple of the ${typeInfo.name} block size ${typeInfo.blockSize}`,
      );
    }
    const byteLength = (elements / typeInfo.blockSize) * typeInfo.blockBytes;
    const offset = r.u64(`tensor '${name}' offset`);
    if (offset % alignment !== 0) {
      throw formatError(file, `tensor '${name}' data offset ${offset} is not a multiple of the alignment ${alignment}`);
    }
    tensors.push({ name, ggmlType, typeName: typeInfo.name, ne, offset, byteLength });
  }

  const dataOffset = Math.ceil(r.position / alignment) * alignment;
  if (numTensors > 0 && dataOffset > r.size) {
    throw formatError(file, `truncated: the data section would start at ${dataOffset} but the file is ${r.size} bytes`);
  }
  for (const tensor of tensors) {
    tensor.offset += dataOffset;
    if (tensor.offset + tensor.byteLength > r.size) {
      throw formatError(
        file,
        `tensor '${tensor.name}' data [offset ${tensor.offset}, ${tensor.byteLength} bytes] extends past end of file (${r.size} bytes)`,
      );
    }
  }
  return { path: file, fileSize: r.size, version, metadata, tensors, dataOffset, alignment };
}

function readString(r: ChunkedFileReader, maxBytes: number, strict: boolean): string {
  const length = r.u64('string length');
  if (length > r.remaining) {
    throw formatError(r.file, `string length ${length} in ${r.context} at offset ${r.position - 8} runs past the end of the file (${r.size} bytes)`);
  }
  if (length > maxBytes) {
    throw formatError(r.file, `string length ${length} in ${r.context} exceeds the limit of ${maxBytes} bytes`);
  }
  return r.utf8(length, strict);
}

function readValue(r: ChunkedFileReader, type: number, depth: number): GgufValue {
  switch (type) {
    case GgufValueType.UINT8:
      return { type, value: r.u8() };
    case GgufValueType.INT8:
      return { type, value: (r.u8() << 24) >> 24 };
    case GgufValueType.UINT16:
      return { type, value: r.view(2).readUInt16LE(0) };
    case GgufValueType.INT16:
      return { type, value: r.view(2).readInt16LE(0) };
    case GgufValueType.UINT32:
      return { type, value: r.u32() };
    case GgufValueType.INT32:
      return { type, value: r.view(4).readInt32LE(0) };
    case GgufValueType.FLOAT32:
      return { type, value: r.view(4).readFloatLE(0) };
    case GgufValueType.FLOAT64:
      return { type, value: r.view(8).readDoubleLE(0) };
    case GgufValueType.UINT64:
      return { type, value: r.view(8).readBigUInt64LE(0) };
    case GgufValueType.INT64:
      return { type, value: r.view(8).readBigInt64LE(0) };
    case GgufValueType.BOOL: {
      const b = r.u8();
      if (b > 1) throw formatError(r.file, `invalid bool byte ${b} in ${r.context}`);
      return { type, value: b === 1 };
    }
    case GgufValueType.STRING:
      return { type, value: readString(r, r.size, false) };
    case GgufValueType.ARRAY:
      return readArray(r, depth);
    default:
      throw formatError(r.file, `unknown value type ${type} in ${r.context}`);
  }
}

function readArray(r: ChunkedFileReader, depth: number): GgufArrayValue {
  if (depth >= MAX_ARRAY_DEPTH) throw formatError(r.file, `arrays nested more than ${MAX_ARRAY_DEPTH} deep in ${r.context}`);
  const itemType = r.u32();
  const count = r.u64('array length');
  const fixed = GGUF_SCALAR_SIZE[itemType];
  const minItemBytes =
    fixed ?? (itemType === GgufValueType.STRING ? 8 : itemType === GgufValueType.ARRAY ? 12 : undefined);
  if (minItemBytes === undefined) {
    throw formatError(r.file, `unknown array item type ${itemType} in ${r.context}`);
  }
  if (count * minItemBytes > r.remaining) {
    throw formatError(
      r.file,
      `array of ${count} ${ggufValueTypeName(itemType)} items in ${r.context} runs past the end of the file (${r.size} bytes)`,
    );
  }
  if (count > MAX_ARRAY_ITEMS) {
    throw formatError(r.file, `array of ${count} items in ${r.context} exceeds the limit of ${MAX_ARRAY_ITEMS}`);
  }
  let items: GgufArrayItems;
  if (itemType === GgufValueType.STRING) {
    const strings: string[] = new Array<string>(count);
    for (let i = 0; i < count; i++) strings[i] = readString(r, r.size, false);
    items = strings;
  } else if (itemType === GgufValueType.BOOL) {
    const raw = r.view(count);
    const bools: boolean[] = new Array<boolean>(count);
    for (let i = 0; i < count; i++) {
      const b = raw[i]!;
      if (b > 1) throw formatError(r.file, `invalid bool byte ${b} in ${r.context}[${i}]`);
      bools[i] = b === 1;
    }
    items = bools;
  } else if (itemType === GgufValueType.ARRAY) {
    const nested: GgufArrayValue[] = new Array<GgufArrayValue>(count);
    for (let i = 0; i < count; i++) nested[i] = readArray(r, depth + 1);
    items = nested;
  } else {
    const typed = typedArrayFor(itemType, count)!;
    // Copy the little-endian bytes into a fresh (aligned) typed array.
    new Uint8Array(typed.buffer).set(r.view(count * fixed!));
    items = typed;
  }
  return { type: GgufValueType.ARRAY, itemType, value: items };
}

function readAlignment(file: string, metadata: Map<string, GgufValue>): number {
  const value = metadata.get('general.alignment');
  if (value === undefined) return GGUF_DEFAULT_ALIGNMENT;
  const n = value.type === GgufValueType.UINT64 || value.type === GgufValueType.INT64 ? Number(value.value) : value.value;
  if (
    value.type === GgufValueType.FLOAT32 ||
    value.type === GgufValueType.FLOAT64 ||
    typeof n !== 'number' ||
    !Number.isSafeInteger(n) ||
    n <= 0 ||
    (n & (n - 1)) !== 0 ||
    n > 1 << 30
  ) {
    throw formatError(file, `general.alignment must be a positive power-of-two integer, got ${String(value.value)}`);
  }
  return n;
}
