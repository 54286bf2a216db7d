// Turns a ModelSpec (from lib/model) plus KV-cache settings into the native Model description.
import type { ModelSpec } from '../model/types.js';
import type { IsaName, NativeModelDescription } from './types.js';

export type KvCacheDtype = 'f32' | 'f16' | 'bf16';

const KV_DTYPE_CODE: Record<KvCacheDtype, 0 | 1 | 2> = { f32: 0, f16: 1, bf16: 2 };
const KV_DTYPE_BYTES: Record<KvCacheDtype, number> = { f32: 4, f16: 2, bf16: 2 };

/** Bytes of K and V, over all layers, for one token. */
export function kvBytesPerToken(spec: ModelSpec, dtype: KvCacheDtype): number {
  const c = spec.config;
  return 2 * c.numLayers * c.numKvHeads * c.headDim * KV_DTYPE_BYTES[dtype];
}

export function nativeModelDescription(
  spec: ModelSpec,
  kv: { numBlocks: number; blockSize: number; dtype: KvCacheDtype },
  threads: number,
  isa?: IsaName,
  device: 'cpu' | 'cuda' = 'cpu',
): NativeModelDescription {
  const c = spec.config;
  const scaling = c.ropeScaling;
  return {
    files: spec.files,
    tensors: spec.tensors.map((t) => ({
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      fileIndex: t.fileIndex,
      offset: t.offset,
      byteLength: t.byteLength,
    })),
    config: {
      hiddenSize: c.hiddenSize,
      numLayers: c.numLayers,
      numHeads: c.numHeads,
      numKvHeads: c.numKvHeads,
      headDim: c.headDim,
      intermediateSize: c.intermediateSize,
      vocabSize: c.vocabSize,
      rmsNormEps: c.rmsNormEps,
      ropeTheta: c.ropeTheta,
      ropeDim: c.ropeDim,
      ropeLayout: c.ropeLayout === 'norm' ? 0 : 1,
      ropePositionScale: scaling?.type === 'linear' ? 1 / scaling.factor : 1,
      llama3:
        scaling?.type === 'llama3'
          ? {
              factor: scaling.factor,
              lowFreqFactor: scaling.lowFreqFactor,
              highFreqFactor: scaling.highFreqFactor,
              originalMaxPositionEmbeddings: scaling.originalMaxPositionEmbeddings,
            }
          : null,
      qkvBias: c.qkvBias,
      attnOutputBias: c.attnOutputBias,
      qkNorm: c.qkNorm,
      tiedEmbeddings: c.tiedEmbeddings,
    },
    kvCache: { numBlocks: kv.numBlocks, blockSize: kv.blockSize, dtype: KV_DTYPE_CODE[kv.dtype] },
    threads,
    ...(isa ? { isa } : {}),
    device,
  };
}
