// The per-op step profile (StepInput.profile, read by `npm run bench`): every op of every layer that
// ran is timed, ops that did not run stay at zero, it costs nothing and returns nothing when off,
// and timing a step does not change its tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModelSpec } from '../../lib/model/load-model-spec.js';
import { nativeModelDescription } from '../../lib/native/model-description.js';
import { buildStepInput } from '../../lib/runner/build-step-input.js';
import { MODELS, modelPath } from '../helpers/models.js';
import { addon } from '../helpers/native.js';

test('a profiled step times every op of every layer and gives the same tokens as an unprofiled one', async (t) => {
  const path = modelPath(t, MODELS.stories260kGguf);
  if (path === null) return;
  const spec = await loadModelSpec(path);
  const layers = 5;
  const run = async (profile: boolean) => {
    const model = new addon.Model(nativeModelDescription(spec, { numBlocks: 4, blockSize: 16, dtype: 'f32' }, 1));
    try {
      const input = buildStepInput([{ tokenIds: [1, 403, 407, 261, 378], startPosition: 0, numScheduledTokens: 5, blockIds: [0], sampleThisStep: true }], 16);
      return await model.step({ ...input, profile });
    } finally {
      model.close();
    }
  };
  const plain = await run(false);
  assert.equal(plain.profile, undefined, 'no profile unless asked');
  const timed = await run(true);
  assert.deepEqual(Array.from(timed.tokenIds), Array.from(plain.tokenIds));
  const p = timed.profile;
  assert.ok(p, 'profile returned');
  assert.equal(p.layerNs.length, layers * p.layerOps.length);
  for (let li = 0; li < layers; li++) {
    for (const [i, op] of p.layerOps.entries()) {
      const ns = p.layerNs[li * p.layerOps.length + i] as number;
      if (op === 'qk_norm') assert.equal(ns, 0, 'stories260K has no q/k norm: not timed');
      else assert.ok(ns > 0, `layer ${li} ${op}: ${ns} ns`);
    }
  }
  for (const op of ['embedding', 'final_norm', 'lm_head']) assert.ok((p.stepNs[p.stepOps.indexOf(op)] as number) > 0, op);
});
