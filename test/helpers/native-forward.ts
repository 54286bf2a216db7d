// Runs one prompt through a native Model in a single step and returns the last position's logits
// (for logits comparisons against llama.cpp and the TS reference forward pass).
import { loadModelSpec } from '../../lib/model/load-model-spec.js';
import { loadNativeAddon } from '../../lib/native/load.js';
import { nativeModelDescription, type KvCacheDtype } from '../../lib/native/model-description.js';
import type { IsaName } from '../../lib/native/types.js';
import { buildStepInput } from '../../lib/runner/build-step-input.js';

export async function lastLogits(
  modelPath: string,
  promptTokenIds: number[],
  opts: { isa?: IsaName; threads?: number; kvDtype?: KvCacheDtype } = {},
): Promise<Float32Array> {
  const spec = await loadModelSpec(modelPath);
  const blockSize = 16;
  const numBlocks = Math.ceil(promptTokenIds.length / blockSize) + 1;
  const model = new (loadNativeAddon().Model)(
    nativeModelDescription(spec, { numBlocks, blockSize, dtype: opts.kvDtype ?? 'f32' }, opts.threads ?? 1, opts.isa),
  );
  try {
    const blockIds = Array.from({ length: numBlocks }, (_, i) => numBlocks - 1 - i);
    const input = buildStepInput(
      [{ tokenIds: promptTokenIds, startPosition: 0, numScheduledTokens: promptTokenIds.length, blockIds, sampleThisStep: true }],
      blockSize,
    );
    const result = await model.step({ ...input, returnLogits: true });
    if (!result.logits) throw new Error('no logits returned');
    return result.logits;
  } finally {
    model.close();
  }
}
