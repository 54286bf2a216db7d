// Continuous batching on real models: outputs do not depend on what else is in the batch, on
// preemption, or on prefix-cache hits; aborts free every block; n > 1 and seeded sampling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../lib/engine/engine.js';
import type { EngineOptions } from '../../lib/engine/engine-options.js';
import type { SamplingParamsInput } from '../../lib/engine/types.js';
import { loadModelSpec } from '../../lib/model/load-model-spec.js';
import { kvBytesPerToken } from '../../lib/native/model-description.js';
import { MODELS, modelPath } from '../helpers/models.js';

const WORDS = 'Once upon a time there was a little girl named Lily who loved to play in the park with her dog and her friends every day'.split(' ');

function prompts(count: number): string[] {
  return Array.from({ length: count }, (_, i) => WORDS.slice(0, 2 + ((i * 7) % (WORDS.length - 2))).join(' ') + (i % 3 === 0 ? '.' : ''));
}

async function collect(engine: Engine, prompt: string, params: SamplingParamsInput): Promise<number[][]> {
  const out: number[][] = [];
  for await (const ev of engine.generate(prompt, params)) if (ev.type === 'final') out[ev.index] = ev.tokenIds;
  return out;
}

async function withEngine<T>(t: import('node:test').TestContext, model: string, opts: Partial<EngineOptions>, fn: (e: Engine) => Promise<T>): Promise<T | undefined> {
  const path = modelPath(t, model);
  if (!path) return undefined;
  const engine = await Engine.create({ model: path, threads: 2, ...opts });
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

for (const model of [MODELS.stories260kGguf, MODELS.tinystoriesQ8Gguf]) {
  test(`${model}: 64 concurrent greedy requests equal each request run alone, with and without preemption`, async (t) => {
    const ps = prompts(64);
    const params = (i: number): SamplingParamsInput => ({ temperature: 0, maxTokens: 8 + ((i * 13) % 33), ignoreEos: true });
    const alone = await withEngine(t, model, { kvCacheDtype: 'f32' }, async (engine) => {
      const res: number[][] = [];
      for (let i = 0; i < ps.length; i++) res.push((await collect(engine, ps[i] as string, params(i)))[0] as number[]);
      return res;
    });
    if (!alone) return;
    const batched = await withEngine(t, model, { kvCacheDtype: 'f32', maxNumSeqs: 64, maxNumBatchedTokens: 256 }, async (engine) => {
      const res = await Promise.all(ps.map(async (p, i) => (await collect(engine, p, params(i)))[0] as number[]));
      assert.equal(engine.stats().kvBlocksUsed, 0, 'blocks still used after every request finished');
      return res;
    });
    assert.deepEqual(batched, alone);
    // Stall-free batching at its tightest (a step with decode rows takes one prompt token while the
    // step-cost fit sees a per-token cost): a few requests first so the fit is known, then arrivals
    // spread over time, so prompts advance in small chunks next to decodes; the same tokens.
    const chunked = await withEngine(t, model, { kvCacheDtype: 'f32', maxNumSeqs: 64, maxNumBatchedTokens: 256, maxDecodeSlowdown: 1 }, async (engine) => {
      for (const p of ps.slice(0, 3)) await collect(engine, p, { temperature: 0, maxTokens: 4 });
      return Promise.all(ps.map(async (p, i) => {
        await new Promise((resolve) => setTimeout(resolve, 2 * i));
        return (await collect(engine, p, params(i)))[0] as number[];
      }));
    });
    assert.deepEqual(chunked, alone);
    // A KV cache of 24 blocks x 16 tokens cannot hold 64 sequences: the scheduler must preempt.
    const spec = await loadModelSpec(modelPath(t, model) as string);
    const kvCacheMemory = 24 * 16 * kvBytesPerToken(spec, 'f32');
    const preempted = await withEngine(t, model, { maxNumSeqs: 64, maxNumBatchedTokens: 128, kvCacheDtype: 'f32', kvCacheMemory, maxModelLen: 128 }, async (engine) => {
      const res = await Promise.all(ps.map(async (p, i) => (await collect(engine, p, params(i)))[0] as number[]));
      const stats = engine.stats();
      assert.ok(stats.numPreemptions > 0, `expected preemptions, stats: ${JSON.stringify(stats)}`);
      assert.equal(stats.kvBlocksUsed, 0);
      return res;
    });
    assert.deepEqual(preempted, alone);
  });
}

test('seeded sampling is reproducible alone and across batch compositions', async (t) => {
  await withEngine(t, MODELS.stories260kGguf, {}, async (engine) => {
    const params: SamplingParamsInput = { temperature: 0.9, topP: 0.95, topK: 40, seed: 1234, maxTokens: 24, ignoreEos: true };
    const alone = await collect(engine, 'Once upon a time', params);
    const again = await collect(engine, 'Once upon a time', params);
    assert.deepEqual(again, alone);
    const noise = prompts(12).map((p, i) => collect(engine, p, { temperature: 1, seed: i, maxTokens: 5 + i }));
    const [batched] = await Promise.all([collect(engine, 'Once upon a time', params), ...noise]);
    assert.deepEqual(batched, alone);
    const other = await collect(engine, 'Once upon a time', { ...params, seed: 99 });
    assert.notDeepEqual(other, alone, 'a different seed gave the same sample');
  });
});

test('repeated prompts hit the prefix cache without changing outputs', async (t) => {
  await withEngine(t, MODELS.stories260kGguf, {}, async (engine) => {
    const prompt = `${WORDS.join(' ')}. ${WORDS.join(' ')}.`;
    const first = await collect(engine, prompt, { temperature: 0, maxTokens: 20 });
    const before = engine.stats();
    let cached = 0;
    let second: number[] = [];
    for await (const ev of engine.generate(prompt, { temperature: 0, maxTokens: 20 })) {
      if (ev.type === 'final') {
        cached = ev.usage.cachedTokens;
        second = ev.tokenIds;
      }
    }
    assert.deepEqual(second, first[0]);
    assert.ok(cached >= 16, `expected cached prompt tokens, got ${cached}`);
    assert.ok(engine.stats().prefixCacheHits > before.prefixCacheHits);
  });
});

test('aborting mid-stream and mid-prefill frees every block', async (t) => {
  await withEngine(t, MODELS.stories260kGguf, { maxNumBatchedTokens: 16 }, async (engine) => {
    // Mid-stream: break out of the iteration after a few tokens.
    let n = 0;
    for await (const ev of engine.generate('Once upon a time', { temperature: 0, maxTokens: 200, ignoreEos: true })) {
      if (ev.type === 'delta' && ++n === 3) break;
    }
    // Mid-prefill: a long prompt is chunked 16 tokens per step; abort through the signal right away.
    const controller = new AbortController();
    const long = Array(40).fill(WORDS.join(' ')).join(' ');
    const stream = engine.generate(long, { temperature: 0, maxTokens: 10 }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 5);
    let finish = '';
    for await (const ev of stream) if (ev.type === 'final') finish = ev.finishReason;
    assert.equal(finish, 'abort');
    // And through engine.abort(requestId) while others keep running.
    const keep = collect(engine, 'Lily', { temperature: 0, maxTokens: 30, ignoreEos: true });
    const victim = engine.generate(long, { temperature: 0, maxTokens: 10 }, { requestId: 'victim' });
    setTimeout(() => engine.abort('victim'), 5);
    for await (const _ of victim) {
      // drain
    }
    assert.equal((await keep)[0]?.length, 30);
    const stats = engine.stats();
    assert.equal(stats.kvBlocksUsed, 0, JSON.stringify(stats));
    assert.equal(stats.numRunning + stats.numWaiting, 0);
  });
});

test('stop strings end requests inside a running batch exactly as alone; the rest of the batch is unaffected', async (t) => {
  // A request's tokens are delivered (and its stop strings checked) while the next step already
  // runs with it; its text must still end at the stop string and its blocks come back.
  await withEngine(t, MODELS.stories260kGguf, { kvCacheDtype: 'f32', maxNumSeqs: 32 }, async (engine) => {
    const ps = prompts(16);
    const free = { temperature: 0, maxTokens: 40, ignoreEos: true } as const;
    const final = async (p: string, params: SamplingParamsInput): Promise<{ text: string; tokenIds: number[]; finishReason: string; stopReason?: string | number }> => {
      for await (const ev of engine.generate(p, params)) {
        if (ev.type === 'final') return { text: ev.text, tokenIds: ev.tokenIds, finishReason: ev.finishReason, ...(ev.stopReason !== undefined ? { stopReason: ev.stopReason } : {}) };
      }
      throw new Error('no final event');
    };
    const unstopped = [];
    for (const p of ps) unstopped.push(await final(p, free));
    // Every other request stops at a word taken from the middle of its own free-running text.
    const stops = unstopped.map((r, i) => (i % 2 === 0 ? r.text.trim().split(/\s+/)[3 + (i % 4)] : undefined));
    const paramsOf = (i: number): SamplingParamsInput => (stops[i] ? { ...free, stop: [stops[i] as string] } : free);
    const alone = [];
    for (let i = 0; i < ps.length; i++) alone.push(await final(ps[i] as string, paramsOf(i)));
    const batched = await Promise.all(ps.map((p, i) => final(p, paramsOf(i))));
    assert.deepEqual(batched, alone);
    for (let i = 0; i < ps.length; i++) {
      const r = batched[i] as { text: string; finishReason: string };
      if (stops[i]) {
        assert.equal(r.finishReason, 'stop', `request ${i} (stop ${JSON.stringify(stops[i])})`);
        assert.ok(!r.text.includes(stops[i] as string) && (unstopped[i] as { text: string }).text.startsWith(r.text), `request ${i}: ${JSON.stringify(r.text)}`);
      } else {
        assert.deepEqual(r, unstopped[i]);
      }
    }
    const stats = engine.stats();
    assert.equal(stats.kvBlocksUsed, 0, JSON.stringify(stats));
    assert.equal(stats.numRunning + stats.numWaiting, 0);
  });
});

test('async scheduling: decode steps queued behind the running one give the same outputs as steps built after it', async (t) => {
  type Final = { text: string; tokenIds: number[]; finishReason: string; logprobs: number[] };
  const run = (asyncScheduling: boolean) => withEngine(t, MODELS.stories260kGguf, { kvCacheDtype: 'f32', maxNumSeqs: 16, asyncScheduling }, async (engine) => {
    // Count the steps that were queued natively as continuations of the step before them.
    const model = (engine as unknown as { model: { step: (input: { continuesPrevious?: boolean }) => Promise<unknown> } }).model;
    const original = model.step.bind(model);
    let continued = 0;
    let total = 0;
    Object.defineProperty(model, 'step', {
      value: (input: { continuesPrevious?: boolean }) => {
        total++;
        if (input.continuesPrevious) continued++;
        return original(input);
      },
      configurable: true,
    });
    const one = async (p: string, params: SamplingParamsInput): Promise<Final> => {
      const logprobs: number[] = [];
      for await (const ev of engine.generate(p, params)) {
        if (ev.type === 'delta') for (const l of ev.logprobs ?? []) logprobs.push(l.logprob);
        if (ev.type === 'final') return { text: ev.text, tokenIds: ev.tokenIds, finishReason: ev.finishReason, logprobs };
      }
      throw new Error('no final event');
    };
    // Greedy and seeded sampling with logprobs, alone then 12 at once (staggered lengths, EOS on).
    const ps = prompts(12);
    const paramsOf = (i: number): SamplingParamsInput => i % 2 === 0
      ? { temperature: 0, maxTokens: 10 + 3 * i, logprobs: 2 }
      : { temperature: 0.8, topP: 0.9, seed: 100 + i, maxTokens: 10 + 3 * i, logprobs: 2 };
    const alone = await one(ps[0] as string, { temperature: 0, maxTokens: 48, ignoreEos: true });
    const batched = await Promise.all(ps.map((p, i) => one(p, paramsOf(i))));
    assert.equal(engine.stats().kvBlocksUsed, 0);
    return { alone, batched, continued, total };
  });
  const on = await run(true);
  const off = await run(false);
  if (!on || !off) return;
  assert.deepEqual(on.alone, off.alone);
  assert.deepEqual(on.batched, off.batched);
  assert.ok(on.batched.every((r) => r.logprobs.length === r.tokenIds.length && r.tokenIds.length > 0), 'every sample has its logprobs');
  assert.equal(off.continued, 0);
  // Alone, every decode step but those right after a sync step is queued ahead: most of them.
  assert.ok(on.continued >= on.total * 0.8, `only ${on.continued} of ${on.total} steps were queued ahead`);
});

test('n = 4 returns four distinct samples that share the prompt', async (t) => {
  await withEngine(t, MODELS.stories260kGguf, {}, async (engine) => {
    const samples = await collect(engine, 'Once upon a time', { n: 4, temperature: 1, seed: 7, maxTokens: 16, ignoreEos: true });
    assert.equal(samples.length, 4);
    assert.equal(new Set(samples.map((s) => s.join(','))).size, 4, 'samples are not distinct');
    assert.equal(engine.stats().kvBlocksUsed, 0);
  });
});

test('invalid parameters, over-long prompts and a full queue are refused with clear errors', async (t) => {
  const path = modelPath(t, MODELS.stories260kGguf);
  if (path) await assert.rejects(Engine.create({ model: path, maxDecodeSlowdown: 0.5 }), /maxDecodeSlowdown: expected a number >= 1, or 0 for no limit, got 0.5/);
  await withEngine(t, MODELS.stories260kGguf, { maxModelLen: 64, maxNumQueuedRequests: 1, maxNumSeqs: 1 }, async (engine) => {
    await assert.rejects(collect(engine, 'Hi', { temperature: -1 }), /temperature: expected a number in \[0, 100\], got -1/);
    const long = Array(20).fill(WORDS.join(' ')).join(' ');
    await assert.rejects(collect(engine, long, {}), (err: Error & { code?: string }) => err.code === 'ERR_ENGINE_PROMPT_TOO_LONG' && /64/.test(err.message));
    const a = collect(engine, 'Lily', { temperature: 0, maxTokens: 40, ignoreEos: true });
    const b = collect(engine, 'Lily', { temperature: 0, maxTokens: 40, ignoreEos: true });
    const c = collect(engine, 'Lily', { temperature: 0, maxTokens: 40, ignoreEos: true });
    const results = await Promise.allSettled([a, b, c]);
    const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    assert.ok(refused.length >= 1 && refused.every((r) => (r.reason as { code?: string }).code === 'ERR_ENGINE_QUEUE_FULL'), JSON.stringify(results.map((r) => r.status)));
  });
});
