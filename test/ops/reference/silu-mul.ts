// Naive reference for silu_mul, in double precision.
export function siluMulRef(gate: Float32Array, up: Float32Array): Float64Array {
  return Float64Array.from(gate, (g, i) => (g / (1 + Math.exp(-g))) * (up[i] as number));
}
