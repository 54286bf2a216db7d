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
  matmul(isa: IsaName, out: Float32Array, x: Float32Array, weight: Uint8Array, dtype: number, n: number, k: number, bias: Float32Array | null, m: number, threads: number): void;
}

export interface NativeAddon {
  backend: 'cpu' | 'cuda';
  cpuInfo: CpuInfo;
  ops: NativeOps;
}
