// The native surface, mirroring native/addon/addon.cc one to one.

export type IsaName = 'portable' | 'avx2' | 'avx512';

export interface CpuInfo {
  avx2: boolean;
  avx512: boolean;
  avx512vnni: boolean;
  avx512bf16: boolean;
  avxvnni: boolean;
  bestIsa: IsaName;
  supportedIsas: IsaName[];
}

/** Single-op entry points for op tests and benches. Shapes are documented in native/ops/<op>/<op>.h. */
export interface NativeOps {
  rmsNorm(isa: IsaName, out: Float32Array, x: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number): void;
  dequantizeRow(isa: IsaName, out: Float32Array, row: Uint8Array, dtype: number, n: number): void;
  embedding(isa: IsaName, out: Float32Array, table: Uint8Array, dtype: number, vocab: number, dim: number, ids: Int32Array): void;
  rope(isa: IsaName, x: Float32Array, nTokens: number, nHeads: number, headDim: number, ropeDim: number, positions: Int32Array, invFreq: Float32Array, positionScale: number, layout: 0 | 1): void;
  ropeInvFreq(ropeDim: number, theta: number, freqFactors: Float32Array | null, llama3: { factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number } | null): Float32Array;
  siluMul(isa: IsaName, out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;
  add(isa: IsaName, out: Float32Array, a: Float32Array, b: Float32Array, n: number): void;
  addBias(isa: IsaName, x: Float32Array, bias: Float32Array, rows: number, cols: number): void;
  argmaxRows(isa: IsaName, out: Int32Array, x: Float32Array, rows: number, cols: number): void;
}

export interface NativeAddon {
  backend: 'cpu' | 'cuda';
  cpuInfo: CpuInfo;
  ops: NativeOps;
}
