// The float32 rounding primitives ggml's reference quantizers use. All arithmetic in ggml's
// reference code is C float; Math.fround after each operation reproduces it exactly (a double
// result of one +,-,*,/ on two floats rounds to the same float as the float operation).

const f = Math.fround;

/** ggml's nearest_int: adds 1.5*2^23 in float32, i.e. round half to even. Valid for |x| <= 4194303. */
export function nearestInt(x: number): number {
  return f(f(x) + 12582912) - 12582912;
}

/** C roundf: round half away from zero. */
export function roundf(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/** Checks a quantizer's input length against the block size; ggml asserts the same. */
export function assertBlockMultiple(length: number, blockSize: number, typeName: string): void {
  if (length % blockSize !== 0) {
    throw new RangeError(`${typeName}: length ${length} is not a multiple of the block size ${blockSize}`);
  }
}
