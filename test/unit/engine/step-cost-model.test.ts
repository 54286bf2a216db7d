import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StepCostModel } from '../../../lib/engine/step-cost-model.js';

test('StepCostModel: fits fixed + per-token time from step samples and sizes the prompt tokens a slowdown allows', () => {
  const model = new StepCostModel();
  // Until steps of different sizes are seen, there is no limit.
  for (let i = 0; i < 10; i++) model.observe(32, 30);
  assert.equal(model.fit(), null);
  assert.equal(model.prefillTokenLimit(32, 1.5), Infinity);
  // 6 ms fixed (weights read once) + 0.75 ms per token.
  for (let i = 0; i < 200; i++) {
    const tokens = [1, 8, 32, 64, 40][i % 5] as number;
    model.observe(tokens, 6 + 0.75 * tokens);
  }
  const fit = model.fit();
  assert.ok(fit);
  assert.ok(Math.abs(fit.fixedMs - 6) < 1e-6 && Math.abs(fit.perTokenMs - 0.75) < 1e-9, JSON.stringify(fit));
  // 32 decodes: a decode-only step takes 6 + 24 = 30 ms; 1.5x is 45 ms, so 20 more tokens.
  assert.ok(Math.abs(model.prefillTokenLimit(32, 1.5) - 20) < 1e-6);
  assert.ok(Math.abs(model.prefillTokenLimit(1, 2) - 9) < 1e-6);
  // Recent steps count most: the machine gets slower per token, the limit follows.
  for (let i = 0; i < 400; i++) {
    const tokens = [1, 16, 48][i % 3] as number;
    model.observe(tokens, 6 + 1.5 * tokens);
  }
  assert.ok(Math.abs((model.fit()?.perTokenMs ?? 0) - 1.5) < 0.01);
  // Nonsense samples are ignored.
  model.observe(0, 5);
  model.observe(4, Number.NaN);
  assert.ok(Math.abs((model.fit()?.perTokenMs ?? 0) - 1.5) < 0.01);
});
