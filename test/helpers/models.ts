// Finds the real test models (../shared/models, or KVSERVE_MODELS_DIR). In CI a missing model is a
// failure; elsewhere the test is skipped with a clear reason.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { sharedModelsDir } from '../../lib/config.js';

export const MODELS = {
  stories260kGguf: 'stories260K/stories260K.gguf',
  tinystoriesHfDir: 'tinystories-656K',
  tinystoriesQ8Gguf: 'tinystories-656K/TinyStories-656K-Q8_0.gguf',
  tinyRandomGguf: 'llama-2-tiny-random/llama-2-tiny-random.gguf',
  vocabLlamaSpm: 'vocab-gguf/ggml-vocab-llama-spm.gguf',
  vocabGpt2: 'vocab-gguf/ggml-vocab-gpt-2.gguf',
} as const;

/** Expected greedy outputs, from ../shared/models/README.md. */
export const EXPECTED_TEXT = {
  stories260k:
    'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.',
  tinystories656k:
    'Once upon a time, there was a little girl named Lily. She had a toy car that she loved very much. One day, she went to the park to play with her toy car in the park.',
} as const;

/**
 * Absolute path of a shared model, or null after marking the test skipped (outside CI).
 * In CI (CI=true) a missing model throws, failing the test.
 */
export function modelPath(t: TestContext, relative: string): string | null {
  const full = join(sharedModelsDir(), relative);
  if (existsSync(full)) return full;
  const reason = `model not found: ${full} (set KVSERVE_MODELS_DIR)`;
  if (process.env.CI === 'true') throw new Error(reason);
  t.skip(reason);
  return null;
}
