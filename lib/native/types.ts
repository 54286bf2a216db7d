// The native surface, mirroring native/addon/addon.cc one to one.
import type { DType } from '../model/types.js';

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
  kvCacheWrite(isa: IsaName, kCache: Uint8Array, vCache: Uint8Array, kvDtype: DType, numBlocks: number, k: Float32Array, v: Float32Array, slotMapping: Int32Array, nTokens: number, nKvHeads: number, headDim: number, blockSize: number): void;
  pagedAttention(isa: IsaName, out: Float32Array, q: Float32Array, kCache: Uint8Array, vCache: Uint8Array, kvDtype: DType, numBlocks: number, queryStartLoc: Int32Array, seqLens: Int32Array, blockTables: Int32Array, maxBlocksPerSeq: number, numSeqs: number, nHeads: number, nKvHeads: number, headDim: number, blockSize: number, scale: number, threads: number): void;
}

export interface NativeAddon {
  backend: 'cpu' | 'cuda';
  cpuInfo: CpuInfo;
  ops: NativeOps;
}
