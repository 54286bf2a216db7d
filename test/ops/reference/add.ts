// Naive references for add and add_bias: one correctly rounded float add per element.
export function addRef(a: Float32Array, b: Float32Array): Float32Array {
  return Float32Array.from(a, (v, i) => v + (b[i] as number));
}

export function addBiasRef(x: Float32Array, bias: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = (x[r * cols + c] as number) + (bias[c] as number);
  return out;
}
