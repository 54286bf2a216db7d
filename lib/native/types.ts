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
  dequantizeRow(isa: IsaName, out: Float32Array, row: Uint8Array, dtype: number, n: number): void;
  embedding(isa: IsaName, out: Float32Array, table: Uint8Array, dtype: number, vocab: number, dim: number, ids: Int32Array): void;
  rope(isa: IsaName, x: Float32Array, nTokens: number, nHeads: number, headDim: number, ropeDim: number, positions: Int32Array, invFreq: Float32Array, positionScale: number, layout: 0 | 1): void;
  ropeInvFreq(ropeDim: number, theta: number, freqFactors: Float32Array | null, llama3: { factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number } | null): Float32Array;
  siluMul(isa: IsaName, out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;
  add(isa: IsaName, out: Float32Array, a: Float32Array, b: Float32Array, n: number): void;
  addBias(isa: IsaName, x: Float32Array, bias: Float32Array, rows: number, cols: number): void;
  argmaxRows(isa: IsaName, out: Int32Array, x: Float32Array, rows: number, cols: number): void;
  sample(isa: IsaName, outTokenIds: Int32Array, outLogprobs: Float32Array, outTopIds: Int32Array, outTopLogprobs: Float32Array, maxLogprobs: number, logits: Float32Array, rows: number, vocab: number, params: Float64Array, history: Int32Array, biasTokenIds: Int32Array, biasValues: Float32Array, threads: number): void;
  /** packed: true = pack the weight first when the variant has a packed kernel for dtype (native/ops/matmul/matmul.h); a matmulPack result = already packed. */
  matmul(isa: IsaName, out: Float32Array, x: Float32Array, weight: Uint8Array, dtype: number, n: number, k: number, bias: Float32Array | null, m: number, threads: number, packed?: boolean | Uint8Array): void;
  /** Products of one x with several weights of one dtype (q/k/v): x converted once, one pass over the threads. */
  matmulMulti(isa: IsaName, outs: Float32Array[], x: Float32Array, weights: Uint8Array[], dtype: number, ns: number[], k: number, biases: Array<Float32Array | null>, m: number, threads: number, packed?: boolean): void;
  /** The weight in the variant's packed layout, or null when the variant reads it unpacked. */
  matmulPack(isa: IsaName, weight: Uint8Array, dtype: number, n: number, k: number): Uint8Array | null;
  kvCacheWrite(isa: IsaName, kCache: Uint8Array, vCache: Uint8Array, kvDtype: DType, numBlocks: number, k: Float32Array, v: Float32Array, slotMapping: Int32Array, nTokens: number, nKvHeads: number, headDim: number, blockSize: number): void;
  /** Machine probe: `threads` threads each stream their own buffer `passes` times (bench/lib/machine.ts); cpuRate is per thread CPU time, summed over threads. */
  probeRead(isa: IsaName, threads: number, bytesPerThread: number, passes: number): { seconds: number; bytes: number; cpuRate: number; checksum: number };
  /** Machine probe: f32 FMA or int8 dot-product throughput on `threads` threads; ops count 2 per multiply-add. */
  probeCompute(isa: IsaName, kind: 'fma_f32' | 'dot_i8', threads: number, iterations: number): { seconds: number; ops: number; cpuRate: number; checksum: number };
  /** Fused residual add + rms_norm + matmuls (core/backend_ops.h), or with fused false the separate ops: x[m, k] += add, outs[i] = rms_norm(x) . W_i^T. x is written. dtype: one per weight when weights mix types. */
  fusedAddRmsNormMatmuls(isa: IsaName, fused: boolean, x: Float32Array, add: Float32Array | null, normWeight: Float32Array, eps: number, outs: Float32Array[], weights: Uint8Array[], dtype: number | number[], ns: number[], k: number, m: number, threads: number, packed: boolean): void;
  /** Fused (or separate) silu_mul + down matmul: out[m, n] = (silu(gate) * up) . W^T; gate may be written. */
  fusedSiluMulMatmul(isa: IsaName, fused: boolean, out: Float32Array, gate: Float32Array, up: Float32Array, weight: Uint8Array, dtype: number, n: number, k: number, m: number, threads: number, packed: boolean): void;
  /** Fused (or separate) rope of q and k + kv_cache_write of k and v; slots must be distinct. */
  fusedRopeKvCacheWrite(isa: IsaName, fused: boolean, q: Float32Array, k: Float32Array, v: Float32Array, nTokens: number, nHeads: number, nKvHeads: number, headDim: number, ropeDim: number, positions: Int32Array, invFreq: Float32Array, positionScale: number, layout: 0 | 1, kCache: Uint8Array, vCache: Uint8Array, kvDtype: DType, numBlocks: number, slotMapping: Int32Array, blockSize: number, threads: number): void;
  pagedAttention(isa: IsaName, out: Float32Array, q: Float32Array, kCache: Uint8Array, vCache: Uint8Array, kvDtype: DType, numBlocks: number, queryStartLoc: Int32Array, seqLens: Int32Array, blockTables: Int32Array, maxBlocksPerSeq: number, numSeqs: number, nHeads: number, nKvHeads: number, headDim: number, blockSize: number, scale: number, threads: number): void;
}

export interface NativeAddon {
  /** 'cuda': the CUDA addon, which runs models with device 'cuda' or 'cpu'. */
  backend: 'cpu' | 'cuda';
  cpuInfo: CpuInfo;
  Model: new (description: NativeModelDescription) => NativeModel;
  ops: NativeOps;
  /** CUDA addon only: what its CUDA runtime sees (lib/native/cuda-probe.ts calls it in a child process). */
  cudaProbe?: () => CudaProbeResult;
}

/** native/backends/cuda/cuda_probe.cu's report. */
export interface CudaProbeResult {
  /** A device of compute capability 8.0 or newer is usable. */
  ok: boolean;
  /** 0 when no driver is installed. */
  driverVersion: number;
  runtimeVersion: number;
  deviceCount: number;
  /** "<name> (sm_<major><minor>, <GiB> GiB)" per device. */
  devices: string[];
  /** Why not ok. */
  error: string;
}

/** The model description passed to `new addon.Model(...)` (native/addon/model_config_parse.cc). */
export interface NativeModelDescription {
  files: string[];
  tensors: Array<{ name: string; dtype: number; shape: number[]; fileIndex: number; offset: number; byteLength: number }>;
  config: {
    hiddenSize: number;
    numLayers: number;
    numHeads: number;
    numKvHeads: number;
    headDim: number;
    intermediateSize: number;
    vocabSize: number;
    rmsNormEps: number;
    ropeTheta: number;
    ropeDim: number;
    /** 0 = adjacent pairs (GGUF llama), 1 = rotate halves (HF / neox). */
    ropeLayout: 0 | 1;
    /** Linear RoPE scaling: positions are multiplied by this (1 / factor). */
    ropePositionScale: number;
    llama3: { factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number } | null;
    qkvBias: boolean;
    attnOutputBias: boolean;
    qkNorm: boolean;
    tiedEmbeddings: boolean;
  };
  kvCache: { numBlocks: number; blockSize: number; /** 0 F32, 1 F16, 2 BF16 */ dtype: 0 | 1 | 2 };
  threads: number;
  isa?: IsaName;
  /** Where the model runs (default 'cpu'); 'cuda' needs the CUDA addon. */
  device?: 'cpu' | 'cuda';
}

/** One engine step as flat arrays (native/core/step_input.h). */
export interface NativeStepInput {
  tokenIds: Int32Array;
  positions: Int32Array;
  slotMapping: Int32Array;
  queryStartLoc: Int32Array;
  seqLens: Int32Array;
  blockTables: Int32Array;
  maxBlocksPerSeq: number;
  logitsIndices: Int32Array;
  copySrc?: Int32Array;
  copyDst?: Int32Array;
  returnLogits?: boolean;
  /** Time every op of the forward pass (returned as `profile`); off by default and free when off. */
  profile?: boolean;
  /**
   * This step continues the step submitted just before it, which may still be running (a model takes
   * one running step and one queued behind it): a token id -(r + 1) stands for the token that step
   * samples at logits row r. Without it every token id must be in [0, vocab).
   */
  continuesPrevious?: boolean;
  /** Per logits row sampling; absent = greedy (argmax) for every row. */
  sampling?: NativeSamplingInput;
}

/** Sampling arrays of one step (native/ops/sample/sample.h; packing in lib/runner/sample-params-packing.ts). */
export interface NativeSamplingInput {
  params: Float64Array;
  history: Int32Array;
  biasTokenIds: Int32Array;
  biasValues: Float32Array;
  maxLogprobs: number;
}

export interface NativeStepResult {
  /** One sampled token per logits row. */
  tokenIds: Int32Array;
  /** Raw logprob of each sampled token (when sampling was given). */
  logprobs?: Float32Array;
  /** [numLogits, maxLogprobs] top alternatives (when maxLogprobs > 0). */
  topIds?: Int32Array;
  topLogprobs?: Float32Array;
  /** [numLogits, vocab] raw logits, when returnLogits was set. */
  logits?: Float32Array;
  /** Wall milliseconds of the native work of the step (forward pass and sampling, on the libuv worker). */
  computeMs: number;
  /** Per-op nanoseconds, when the input set `profile`. */
  profile?: NativeStepProfile;
}

/**
 * Where one step's native time went: layerNs is [numLayers, layerOps.length], stepNs matches stepOps;
 * wall time, and the *CpuNs twins hold the stepping thread's CPU time over the same spans.
 */
export interface NativeStepProfile {
  layerOps: string[];
  stepOps: string[];
  layerNs: Float64Array;
  stepNs: Float64Array;
  layerCpuNs: Float64Array;
  stepCpuNs: Float64Array;
}

export interface NativeModelInfo {
  isa: IsaName;
  threads: number;
  numBlocks: number;
  blockSize: number;
  kvCacheBytes: number;
  kvBytesPerToken: number;
  /** Weight bytes copied into the kernels' packed layouts at load (0 when they read the mapped file, and with device 'cuda'). */
  packedWeightBytes: number;
  device: 'cpu' | 'cuda';
  /** device 'cuda': the GPU's name and the bytes of weights copied to it. */
  deviceName?: string;
  deviceWeightBytes?: number;
}

export interface NativeModel {
  step(input: NativeStepInput): Promise<NativeStepResult>;
  info(): NativeModelInfo;
  close(): void;
}
