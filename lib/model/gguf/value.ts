// Typed GGUF metadata values. Each value keeps its on-disk type so a file can be written back
// exactly; numeric arrays are typed arrays (a 150k-entry score list is one Float32Array).
import { GgufValueType } from './constants.js';

export type GgufNumberType =
  | GgufValueType.UINT8
  | GgufValueType.INT8
  | GgufValueType.UINT16
  | GgufValueType.INT16
  | GgufValueType.UINT32
  | GgufValueType.INT32
  | GgufValueType.FLOAT32
  | GgufValueType.FLOAT64;

export type GgufBigIntType = GgufValueType.UINT64 | GgufValueType.INT64;

export type GgufArrayItems =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array
  | boolean[]
  | string[]
  | GgufArrayValue[];

export interface GgufArrayValue {
  type: GgufValueType.ARRAY;
  itemType: GgufValueType;
  value: GgufArrayItems;
}

export type GgufValue =
  | { type: GgufNumberType; value: number }
  | { type: GgufBigIntType; value: bigint }
  | { type: GgufValueType.BOOL; value: boolean }
  | { type: GgufValueType.STRING; value: string }
  | GgufArrayValue;

/** Typed array constructor for each fixed-size item type. */
export function typedArrayFor(type: GgufValueType, length: number): Exclude<GgufArrayItems, unknown[]> | undefined {
  switch (type) {
    case GgufValueType.UINT8:
      return new Uint8Array(length);
    case GgufValueType.INT8:
      return new Int8Array(length);
    case GgufValueType.UINT16:
      return new Uint16Array(length);
    case GgufValueType.INT16:
      return new Int16Array(length);
    case GgufValueType.UINT32:
      return new Uint32Array(length);
    case GgufValueType.INT32:
      return new Int32Array(length);
    case GgufValueType.FLOAT32:
      return new Float32Array(length);
    case GgufValueType.FLOAT64:
      return new Float64Array(length);
    case GgufValueType.UINT64:
      return new BigUint64Array(length);
    case GgufValueType.INT64:
      return new BigInt64Array(length);
    default:
      return undefined;
  }
}

// Constructors, so writers read naturally: metadata.set('llama.block_count', ggufU32(5)).
export const ggufU8 = (value: number): GgufValue => ({ type: GgufValueType.UINT8, value });
export const ggufI8 = (value: number): GgufValue => ({ type: GgufValueType.INT8, value });
export const ggufU16 = (value: number): GgufValue => ({ type: GgufValueType.UINT16, value });
export const ggufI16 = (value: number): GgufValue => ({ type: GgufValueType.INT16, value });
export const ggufU32 = (value: number): GgufValue => ({ type: GgufValueType.UINT32, value });
export const ggufI32 = (value: number): GgufValue => ({ type: GgufValueType.INT32, value });
export const ggufF32 = (value: number): GgufValue => ({ type: GgufValueType.FLOAT32, value });
export const ggufF64 = (value: number): GgufValue => ({ type: GgufValueType.FLOAT64, value });
export const ggufU64 = (value: bigint | number): GgufValue => ({ type: GgufValueType.UINT64, value: BigInt(value) });
export const ggufI64 = (value: bigint | number): GgufValue => ({ type: GgufValueType.INT64, value: BigInt(value) });
export const ggufBool = (value: boolean): GgufValue => ({ type: GgufValueType.BOOL, value });
export const ggufString = (value: string): GgufValue => ({ type: GgufValueType.STRING, value });
export const ggufStringArray = (value: string[]): GgufArrayValue => ({
  type: GgufValueType.ARRAY,
  itemType: GgufValueType.STRING,
  value,
});
export const ggufF32Array = (value: Float32Array | number[]): GgufArrayValue => ({
  type: GgufValueType.ARRAY,
  itemType: GgufValueType.FLOAT32,
  value: value instanceof Float32Array ? value : Float32Array.from(value),
});
export const ggufI32Array = (value: Int32Array | number[]): GgufArrayValue => ({
  type: GgufValueType.ARRAY,
  itemType: GgufValueType.INT32,
  value: value instanceof Int32Array ? value : Int32Array.from(value),
});
export const ggufU32Array = (value: Uint32Array | number[]): GgufArrayValue => ({
  type: GgufValueType.ARRAY,
  itemType: GgufValueType.UINT32,
  value: value instanceof Uint32Array ? value : Uint32Array.from(value),
});
