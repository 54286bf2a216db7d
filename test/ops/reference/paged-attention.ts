// Naive reference for paged_attention, in double precision: gather each sequence's K/V by position
// through its block table, then softmax(scale * q.k) over an explicit causal mask.
import { type KvDtype, readKvFrom } from './kv-cache-write.js';

export interface PagedAttentionInputs {
  q: Float32Array; // [T, nHeads, headDim]
  kCache: Uint8Array; // [numBlocks, nKvHeads, blockSize, headDim] of kvDtype
  vCache: Uint8Array;
  kvDtype: KvDtype;
  numBlocks: number;
  queryStartLoc: Int32Array; // [numSeqs + 1]
  seqLens: Int32Array; // [numSeqs], context length including this step's query tokens
  blockTables: Int32Array; // [numSeqs, maxBlocksPerSeq]
  maxBlocksPerSeq: number;
  numSeqs: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  blockSize: number;
  scale: number;
}

export function pagedAttentionRef(a: PagedAttentionInputs): Float32Array {
  const { headDim: D, nHeads, nKvHeads, blockSize } = a;
  const T = a.queryStartLoc[a.numSeqs] as number;
  const out = new Float32Array(T * nHeads * D);
  const group = nHeads / nKvHeads;
  const kView = new DataView(a.kCache.buffer, a.kCache.byteOffset, a.kCache.byteLength);
  const vView = new DataView(a.vCache.buffer, a.vCache.byteOffset, a.vCache.byteLength);
  for (let s = 0; s < a.numSeqs; s++) {
    const q0 = a.queryStartLoc[s] as number;
    const L = (a.queryStartLoc[s + 1] as number) - q0;
    const C = a.seqLens[s] as number;
    for (let kh = 0; kh < nKvHeads; kh++) {
      // Gather positions 0 .. C-1 of this kv head.
      const K = new Float64Array(C * D);
      const V = new Float64Array(C * D);
      for (let p = 0; p < C; p++) {
        const block = a.blockTables[s * a.maxBlocksPerSeq + Math.floor(p / blockSize)] as number;
        const base = ((block * nKvHeads + kh) * blockSize + (p % blockSize)) * D;
        for (let d = 0; d < D; d++) {
          K[p * D + d] = readKvFrom(kView, a.kvDtype, base + d);
          V[p * D + d] = readKvFrom(vView, a.kvDtype, base + d);
        }
      }
      const scores = new Float64Array(C);
      for (let g = 0; g < group; g++) {
        const h = kh * group + g;
        for (let j = 0; j < L; j++) {
          const t = q0 + j;
          const pos = C - L + j; // this token's position: it sees 0 .. pos
          const qOff = (t * nHeads + h) * D;
          let max = -Infinity;
          for (let p = 0; p < C; p++) {
            if (p > pos) {
              scores[p] = -Infinity; // causal mask
              continue;
            }
            let dot = 0;
            for (let d = 0; d < D; d++) dot += (a.q[qOff + d] as number) * (K[p * D + d] as number);
            scores[p] = a.scale * dot;
            if ((scores[p] as number) > max) max = scores[p] as number;
          }
          let sum = 0;
          for (let p = 0; p < C; p++) {
            scores[p] = Math.exp((scores[p] as number) - max);
            sum += scores[p] as number;
          }
          for (let d = 0; d < D; d++) {
            let acc = 0;
            for (let p = 0; p <= pos; p++) acc += (scores[p] as number) * (V[p * D + d] as number);
            out[qOff + d] = acc / sum;
          }
        }
      }
    }
  }
  return out;
}
