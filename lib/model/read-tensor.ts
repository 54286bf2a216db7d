// Reads one tensor of a ModelSpec back from disk: its raw bytes, or its values as F32 (through the
// TS dequantizers). For tests and tools; the runtime path is the native mmap.
import { open } from 'node:fs/promises';
import { KvserveError } from '../errors.js';
import { numElements } from './dtype-info.js';
import { ioError } from './format-error.js';
import { dequantize } from './quant/index.js';
import type { ModelSpec, TensorSpec } from './types.js';

export function findTensor(spec: ModelSpec, name: string): TensorSpec {
  const tensor = spec.tensors.find((t) => t.name === name);
  if (tensor === undefined) throw new KvserveError('ERR_MODEL_MISSING_TENSOR', `${spec.source}: no tensor '${name}'`);
  return tensor;
}

export async function readTensorBytes(spec: ModelSpec, name: string): Promise<Uint8Array> {
  const tensor = findTensor(spec, name);
  const file = spec.files[tensor.fileIndex]!;
  const out = new Uint8Array(tensor.byteLength);
  try {
    const fh = await open(file, 'r');
    try {
      for (let got = 0; got < out.length; ) {
        const { bytesRead } = await fh.read(out, got, out.length - got, tensor.offset + got);
        if (bytesRead === 0) throw new Error(`file ended after ${got} of ${out.length} bytes of '${name}'`);
        got += bytesRead;
      }
    } finally {
      await fh.close();
    }
  } catch (error) {
    throw ioError(file, error);
  }
  return out;
}

export async function readTensorF32(spec: ModelSpec, name: string): Promise<Float32Array> {
  const tensor = findTensor(spec, name);
  return dequantize(tensor.dtype, await readTensorBytes(spec, name), numElements(tensor.shape));
}
