// safetensors writer (F32 / F16 / BF16) for synthetic HF checkpoints: JSON header padded with
// spaces to a multiple of 8 bytes, then the tensors back to back in the order given.
import { open, rm } from 'node:fs/promises';
import { invalidArgument } from '../../errors.js';
import { dtypeInfo, dtypeName } from '../dtype-info.js';
import { quantize } from '../quant/index.js';
import { DType } from '../types.js';
import { SAFETENSORS_DTYPES } from './reader.js';

export interface SafetensorsTensorInput {
  name: string;
  dtype: DType.F32 | DType.F16 | DType.BF16;
  /** Row-major, outermost first. */
  shape: number[];
  /** F32 values (converted to dtype) or raw bytes already in dtype. */
  data: Float32Array | Uint8Array | (() => Float32Array | Uint8Array);
}

export async function writeSafetensors(
  path: string,
  tensors: SafetensorsTensorInput[],
  metadata?: Record<string, string>,
): Promise<void> {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const name = dtypeName(t.dtype);
    if (SAFETENSORS_DTYPES[name] === undefined) throw invalidArgument(`tensor '${t.name}' dtype`, 'F32, F16 or BF16', name);
    if (t.name === '__metadata__' || t.name in header) throw invalidArgument('tensor name', 'a unique name', t.name);
    const bytes = t.shape.reduce((a, b) => a * b, 1) * dtypeInfo(t.dtype).blockBytes;
    header[t.name] = { dtype: name, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const headerLength = Math.ceil(json.length / 8) * 8;
  const prefix = Buffer.alloc(8 + headerLength, 0x20);
  prefix.writeBigUInt64LE(BigInt(headerLength), 0);
  json.copy(prefix, 8);

  const fh = await open(path, 'w');
  try {
    await fh.write(prefix, 0, prefix.length, 0);
    let position = prefix.length;
    for (const t of tensors) {
      const bytes = encode(t);
      await fh.write(bytes, 0, bytes.length, position);
      position += bytes.length;
    }
  } catch (error) {
    // Never leave a half-written model behind for a later load to trip over.
    await fh.close();
    await rm(path, { force: true });
    throw error;
  }
  await fh.close();
}

function encode(t: SafetensorsTensorInput): Uint8Array {
  const data = typeof t.data === 'function' ? t.data() : t.data;
  const elements = t.shape.reduce((a, b) => a * b, 1);
  if (data instanceof Float32Array) {
    if (data.length !== elements) throw invalidArgument(`tensor '${t.name}' data`, `${elements} values`, `${data.length} values`);
    return quantize(t.dtype, data);
  }
  const expected = elements * dtypeInfo(t.dtype).blockBytes;
  if (data.length !== expected) throw invalidArgument(`tensor '${t.name}' data`, `${expected} bytes`, `${data.length} bytes`);
  return data;
}
