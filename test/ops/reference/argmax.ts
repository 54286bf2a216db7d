// Naive reference for argmax_rows: llama.cpp's greedy loop (the first index wins; NaN never compares greater).
export function argmaxRowsRef(x: Float32Array, rows: number, cols: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let i = 1; i < cols; i++) if ((x[r * cols + i] as number) > (x[r * cols + best] as number)) best = i;
    out[r] = best;
  }
  return out;
}
