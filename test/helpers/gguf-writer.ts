// Minimal GGUF (v3, little-endian) writing for tests and golden generation: build a tensor-less file
// from key/value pairs, or copy a tensor-less file with some keys replaced or added.

export type GgufValue =
  | { type: 'string'; value: string }
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string[]'; value: readonly string[] }
  | { type: 'f32[]'; value: ArrayLike<number> }
  | { type: 'i32[]'; value: ArrayLike<number> };

const T = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9 } as const;

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

function str(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  return Buffer.concat([u64(bytes.length), bytes]);
}

function numbers(values: ArrayLike<number>, write: (b: Buffer, v: number, at: number) => void): Buffer {
  const b = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) write(b, values[i] as number, i * 4);
  return b;
}

/** Type tag + payload of one value. */
function encodeValue(v: GgufValue): Buffer {
  switch (v.type) {
    case 'string': return Buffer.concat([u32(T.string), str(v.value)]);
    case 'u32': return Buffer.concat([u32(T.u32), u32(v.value)]);
    case 'i32': { const b = Buffer.alloc(4); b.writeInt32LE(v.value); return Buffer.concat([u32(T.i32), b]); }
    case 'f32': { const b = Buffer.alloc(4); b.writeFloatLE(v.value); return Buffer.concat([u32(T.f32), b]); }
    case 'bool': return Buffer.concat([u32(T.bool), Buffer.of(v.value ? 1 : 0)]);
    case 'string[]': return Buffer.concat([u32(T.array), u32(T.string), u64(v.value.length), ...v.value.map(str)]);
    case 'f32[]': return Buffer.concat([u32(T.array), u32(T.f32), u64(v.value.length), numbers(v.value, (b, x, at) => b.writeFloatLE(x, at))]);
    case 'i32[]': return Buffer.concat([u32(T.array), u32(T.i32), u64(v.value.length), numbers(v.value, (b, x, at) => b.writeInt32LE(x, at))]);
  }
}

function header(numKv: number): Buffer {
  return Buffer.concat([Buffer.from('GGUF', 'latin1'), u32(3), u64(0), u64(numKv)]);
}

/** A complete GGUF file with no tensors. */
export function encodeGguf(kvs: ReadonlyArray<readonly [string, GgufValue]>): Buffer {
  return Buffer.concat([header(kvs.length), ...kvs.map(([k, v]) => Buffer.concat([str(k), encodeValue(v)]))]);
}

/**
 * Copies a tensor-less GGUF, replacing the values of keys in `changes` (or appending them). Used to
 * make vocabulary variants (another tokenizer.ggml.pre, add_space_prefix = false, ...).
 */
export function patchGguf(file: Buffer, changes: ReadonlyMap<string, GgufValue>): Buffer {
  if (file.toString('latin1', 0, 4) !== 'GGUF' || file.readUInt32LE(4) !== 3) throw new Error('expected a GGUF v3 file');
  if (file.readBigUInt64LE(8) !== 0n) throw new Error('patchGguf only handles files without tensors');
  const numKv = Number(file.readBigUInt64LE(16));
  let pos = 24;
  const sizes: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const skip = (type: number): void => {
    if (type === T.string) pos += 8 + Number(file.readBigUInt64LE(pos));
    else if (type === T.array) {
      const elem = file.readUInt32LE(pos);
      const count = Number(file.readBigUInt64LE(pos + 4));
      pos += 12;
      for (let i = 0; i < count; i++) {
        if (elem === T.string || elem === T.array) skip(elem);
        else pos += (sizes[elem] as number);
      }
    } else pos += sizes[type] as number;
  };
  const kept: Buffer[] = [];
  const pending = new Map(changes);
  for (let i = 0; i < numKv; i++) {
    const start = pos;
    const keyLen = Number(file.readBigUInt64LE(pos));
    const key = file.toString('utf8', pos + 8, pos + 8 + keyLen);
    pos += 8 + keyLen;
    const type = file.readUInt32LE(pos);
    pos += 4;
    skip(type);
    const change = pending.get(key);
    if (change) {
      kept.push(Buffer.concat([str(key), encodeValue(change)]));
      pending.delete(key);
    } else {
      kept.push(file.subarray(start, pos));
    }
  }
  for (const [key, value] of pending) kept.push(Buffer.concat([str(key), encodeValue(value)]));
  return Buffer.concat([header(kept.length), ...kept, file.subarray(pos)]);
}
