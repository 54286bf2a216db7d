// Naive reference for rms_norm, in double precision.
export function rmsNormRef(x: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number): Float32Array {
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += (x[r * dim + i] as number) ** 2;
    const scale = 1 / Math.sqrt(sum / dim + eps);
    for (let i = 0; i < dim; i++) out[r * dim + i] = (x[r * dim + i] as number) * scale * (weight[i] as number);
  }
  return out;
}
