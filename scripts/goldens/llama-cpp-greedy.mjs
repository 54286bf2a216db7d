// Greedy generation with llama.cpp (node-llama-cpp), step by step so the raw logits of every step
// are available: the reference for kvserve's exact-token tests. KV cache in F32 and no flash
// attention, so the reference attention is computed in f32 like kvserve's f32 KV cache.
import { loadLlamaCpp } from '../llama-ref.mjs';

let llamaPromise = null;

/**
 * @returns {Promise<{ promptTokenIds: number[], tokenIds: number[], logits: Float32Array[] }>}
 *   logits[i] are the raw logits that produced tokenIds[i] (only the first `keepLogits` steps).
 */
export async function llamaCppGreedy(modelPath, prompt, { numTokens = 128, keepLogits = 1, threads = 2, promptTokenIds } = {}) {
  llamaPromise ??= loadLlamaCpp({ threads });
  const { llama } = await llamaPromise;
  const model = await llama.loadModel({ modelPath, gpuLayers: 0, useMmap: true });
  try {
    const ids = promptTokenIds ?? Array.from(model.tokenize(prompt, false));
    if (promptTokenIds === undefined && model.tokens.bos != null && model.tokens.shouldPrependBosToken !== false) {
      ids.unshift(model.tokens.bos);
    }
    const context = await model.createContext({
      contextSize: Math.min(2048, ids.length + numTokens + 8),
      batchSize: 512,
      threads,
      flashAttention: false,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
    });
    const sequence = context.getSequence();
    const tokenIds = [];
    const logits = [];
    let input = ids.map((t, i) => (i === ids.length - 1 ? [t, { generateNext: { logits: true } }] : t));
    for (let step = 0; step < numTokens; step++) {
      const out = await sequence.controlledEvaluate(input);
      const last = out[out.length - 1];
      const map = last?.next?.logits;
      if (!map) throw new Error('llama.cpp returned no logits');
      const row = new Float32Array(map.size);
      let best = -1;
      let bestValue = -Infinity;
      for (const [token, value] of map) {
        row[token] = value;
      }
      for (let i = 0; i < row.length; i++) {
        if (row[i] > bestValue) {
          bestValue = row[i];
          best = i;
        }
      }
      tokenIds.push(best);
      if (step < keepLogits) logits.push(row);
      input = [[best, { generateNext: { logits: true } }]];
    }
    await context.dispose();
    return { promptTokenIds: ids, tokenIds, logits };
  } finally {
    await model.dispose();
  }
}
