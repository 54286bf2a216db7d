// sample op: every ISA variant against the naive reference (test/ops/reference/sample.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ISAS, rng } from '../helpers/native.js';
import {
  assertDrawsMatch, atCounters, centeredTopP, chiSquareCritical, gaussianLogits, lmLikeLogits, referenceRow, sampleNative, withCounters,
  type SampleRow,
} from '../helpers/sample.js';
import { findCounters, type ProcessedRow } from './reference/sample.js';

const SEED = 1234567;

/** log_softmax of a row, in double. */
function logSoftmax(x: ArrayLike<number>): number[] {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i] as number);
  let z = 0;
  for (let i = 0; i < x.length; i++) z += Math.exp((x[i] as number) - m);
  const logZ = Math.log(z);
  return Array.from(x, (v) => v - m - logZ);
}

// Filter configurations over gaussian logits; each runs DRAWS counters against the reference.
const FILTERS: Array<[name: string, vocab: number, scale: number, params: SampleRow['params']]> = [
  ['no filter', 172, 2, { temperature: 1 }],
  ['no filter, hot', 4099, 1, { temperature: 1.7 }],
  ['top_k=1', 172, 2, { temperature: 0.7, topK: 1 }],
  ['top_k=5', 4099, 2, { topK: 5 }],
  ['top_k=50 hot', 172, 2, { topK: 50, temperature: 1.3 }],
  ['top_k=3000 (nth_element path)', 4099, 1, { topK: 3000 }],
  ['top_p=0.5 peaked', 172, 4, { topP: 0.5 }],
  ['top_p=0.9 flat (long nucleus)', 4099, 1, { topP: 0.9, temperature: 0.8 }],
  ['min_p=0.1', 172, 2, { minP: 0.1 }],
  ['min_p=0.02 hot', 4099, 1.5, { minP: 0.02, temperature: 1.5 }],
  ['top_k=40 + top_p=0.8', 4099, 2, { topK: 40, topP: 0.8 }],
  ['top_k=40 + min_p=0.05', 172, 2, { topK: 40, minP: 0.05 }],
  ['top_p=0.9 + min_p=0.05', 4099, 2, { topP: 0.9, minP: 0.05 }],
  ['top_k=100 + top_p=0.95 + min_p=0.01', 4099, 2.5, { topK: 100, topP: 0.95, minP: 0.01, temperature: 0.9 }],
  ['top_k > vocab', 172, 2, { topK: 1000 }],
];
const DRAWS = 64;
// Reference rows and aimed counters of the boundary test, shared by the ISAs (same rng stream).
const BOUNDARY_REFS = new Map<string, ProcessedRow>();
const BOUNDARY_COUNTERS = new Map<string, number[]>();

for (const isa of ISAS) {
  test(`sample ${isa}: greedy is the argmax, lowest id on ties`, () => {
    const random = rng(11);
    for (const vocab of [1, 7, 16, 17, 172, 4099, 32000]) {
      const rows: SampleRow[] = [];
      const expected: number[] = [];
      for (const temperature of [0, -1, 1e-6]) {
        const logits = gaussianLogits(vocab, random, 3);
        rows.push({ logits, params: { temperature } });
        expected.push(referenceRow(rows[rows.length - 1] as SampleRow).keptIds[0] as number);
        const tied = gaussianLogits(vocab, random, 3);
        const a = Math.floor(vocab * 0.6), b = vocab - 1;
        tied[a] = 100;
        tied[b] = 100;
        rows.push({ logits: tied, params: { temperature, topK: 3, topP: 0.5 } });
        expected.push(a);
      }
      const out = sampleNative(isa, vocab, rows);
      assert.deepEqual(Array.from(out.ids), expected, `vocab ${vocab}`);
    }
    const banned = new Float32Array(9).fill(-Infinity);
    assert.equal(sampleNative(isa, 9, [{ logits: banned }, { logits: banned, params: { temperature: 0 } }]).ids.join(), '0,0');
  });

  test(`sample ${isa}: top-k and top-n cut ties by the lower id`, () => {
    for (const vocab of [64, 1000]) {
      const logits = new Float32Array(vocab).fill(0);
      logits[10] = 6;
      for (const id of [3, 20, 40, vocab - 1]) logits[id] = 5;  // four-way tie for the second place
      for (const [k, kept] of [[2, [10, 3]], [3, [10, 3, 20]], [4, [10, 3, 20, 40]]] as const) {
        const row: SampleRow = { logits, params: { topK: k, numLogprobs: k, temperature: 2 } };
        const out = sampleNative(isa, vocab, withCounters(row, 300));
        assert.deepEqual(new Set(out.ids), new Set(kept), `vocab ${vocab} top_k ${k}: drawn set`);
        assert.deepEqual(Array.from(out.topIds.slice(0, k)), kept, `vocab ${vocab} top-${k} logprobs`);
      }
    }
  });

  test(`sample ${isa}: filters alone and combined match the reference draw for draw`, () => {
    const random = rng(22);
    for (const [name, vocab, scale, params] of FILTERS) {
      const row: SampleRow = { logits: gaussianLogits(vocab, random, scale), params: { ...params, seed: SEED } };
      const ref = referenceRow(row);
      const out = sampleNative(isa, vocab, withCounters(row, DRAWS));
      assertDrawsMatch(`${name} (kept ${ref.keptIds.length})`, ref, out.ids, SEED);
    }
  });

  test(`sample ${isa}: filters keep exactly the reference's set (draws aimed at both sides of each cut)`, () => {
    // Random draws rarely land on the boundary, so pick counters whose reference draw is the last
    // kept token (a kernel that drops it fails) and counters where the best dropped token would win
    // if it were kept (a kernel that keeps it fails).
    const random = rng(22);
    let aimed = 0;
    for (const [name, vocab, scale, params] of FILTERS) {
      const row: SampleRow = { logits: gaussianLogits(vocab, random, scale), params: { ...params, seed: SEED } };
      const ref = BOUNDARY_REFS.get(`${name}`) ?? referenceRow(row);
      BOUNDARY_REFS.set(name, ref);
      if (ref.droppedId === null) continue;
      for (const target of ['last', 'dropped'] as const) {
        const counters = BOUNDARY_COUNTERS.get(`${name}/${target}`) ?? findCounters(ref, SEED, target, 4, 30000);
        BOUNDARY_COUNTERS.set(`${name}/${target}`, counters);
        assert.ok(counters.length > 0, `${name}: no counter found that draws the ${target} token`);
        const out = sampleNative(isa, vocab, atCounters(row, counters));
        assertDrawsMatch(`${name} (${target})`, ref, out.ids, SEED, counters);
        aimed += counters.length;
      }
    }
    assert.ok(aimed > 50);
  });

  test(`sample ${isa}: repetition, presence and frequency penalties`, () => {
    const base = (top: number, second: number): Float32Array => {
      const x = new Float32Array(16).fill(-5);
      x[0] = top;
      x[1] = second;
      return x;
    };
    const greedy = { temperature: 0 };
    const cases: Array<[string, SampleRow, number]> = [
      ['repetition divides a positive logit', { logits: base(3, 2.9), params: { ...greedy, repetitionPenalty: 1.2 }, prompt: [0] }, 1],
      ['repetition applies once per distinct token', { logits: base(3, 2.6), params: { ...greedy, repetitionPenalty: 1.1 }, prompt: [0, 0, 0], output: [0] }, 0],
      ['repetition multiplies a negative logit', { logits: (() => { const x = base(-1, -1.2); return x; })(), params: { ...greedy, repetitionPenalty: 1.5 }, output: [0] }, 1],
      ['presence ignores prompt tokens', { logits: base(3, 2.9), params: { ...greedy, presencePenalty: 0.2 }, prompt: [0] }, 0],
      ['presence on output tokens', { logits: base(3, 2.9), params: { ...greedy, presencePenalty: 0.2 }, output: [0] }, 1],
      ['frequency scales with the count', { logits: base(3, 2.9), params: { ...greedy, frequencyPenalty: 0.05 }, output: [0, 5, 0, 0] }, 1],
      ['frequency with one occurrence', { logits: base(3, 2.9), params: { ...greedy, frequencyPenalty: 0.05 }, output: [0] }, 0],
      ['negative presence rewards', { logits: base(3, 2.9), params: { ...greedy, presencePenalty: -0.5 }, output: [1] }, 1],
    ];
    const out = sampleNative(isa, 16, cases.map(([, row]) => row));
    cases.forEach(([name, row, expected], i) => {
      assert.equal(out.ids[i], expected, name);
      assert.equal(referenceRow(row).keptIds[0], expected, `reference: ${name}`);
    });
    // Random rows with long, repetitive histories, sampled, against the reference.
    const random = rng(33);
    const vocab = 4099;
    const pick = (n: number): number[] => Array.from({ length: n }, () => Math.floor(random() ** 2 * 300));
    const configs = [
      { repetitionPenalty: 1.3 },
      { presencePenalty: 0.5, frequencyPenalty: 0.3 },
      { repetitionPenalty: 0.8, presencePenalty: -0.2, frequencyPenalty: 0.1, topK: 50 },
      { repetitionPenalty: 1.5, frequencyPenalty: 0.4, topP: 0.9, temperature: 0.7 },
    ];
    for (const params of configs) {
      const row: SampleRow = {
        logits: gaussianLogits(vocab, random, 2), prompt: pick(400), output: pick(150), params: { ...params, seed: SEED },
      };
      assertDrawsMatch(JSON.stringify(params), referenceRow(row), sampleNative(isa, vocab, withCounters(row, DRAWS)).ids, SEED);
      const greedyRow = { ...row, params: { ...row.params, temperature: 0 } };
      assert.equal(sampleNative(isa, vocab, [greedyRow]).ids[0], referenceRow(greedyRow).keptIds[0]);
    }
  });

  test(`sample ${isa}: logit bias forces, bans and adds up`, () => {
    const random = rng(44);
    const vocab = 172;
    const logits = gaussianLogits(vocab, random, 2);
    const top = referenceRow({ logits, params: { temperature: 0 } }).keptIds[0] as number;
    const forced = sampleNative(isa, vocab, withCounters({ logits, bias: [[77, 100]] }, 50));
    assert.ok(forced.ids.every((id) => id === 77));
    for (const ban of [-Infinity, -1e30]) {
      const banned = sampleNative(isa, vocab, withCounters({ logits: logits.map((v, i) => (i === top ? 20 : v)), bias: [[top, ban]] }, 200));
      assert.ok(banned.ids.every((id) => id !== top), `bias ${ban} bans`);
      // The logprob stays the raw one, bias or not.
      const raw = logSoftmax(logits.map((v, i) => (i === top ? 20 : v)));
      for (let i = 0; i < 200; i++) assert.ok(Math.abs((banned.logprobs[i] as number) - (raw[banned.ids[i] as number] as number)) < 1e-5);
    }
    const pair = new Float32Array(8).fill(0);
    pair[0] = 3;
    pair[1] = 0.5;
    const greedy = { temperature: 0 };
    const out = sampleNative(isa, 8, [
      { logits: pair, params: greedy, bias: [[1, 1.5]] },
      { logits: pair, params: greedy, bias: [[1, 1.5], [1, 1.5]] },
      { logits: pair, params: greedy, bias: Array.from({ length: 8 }, (_, i): [number, number] => [i, -Infinity]) },
    ]);
    assert.deepEqual(Array.from(out.ids), [0, 1, 0]);
    const row: SampleRow = { logits, bias: [[3, 2.5], [9, -1], [top, -3]], params: { topK: 20, seed: SEED } };
    assertDrawsMatch('bias + top_k', referenceRow(row), sampleNative(isa, vocab, withCounters(row, DRAWS)).ids, SEED);
  });

  test(`sample ${isa}: logprobs are log_softmax of the raw logits, top-n sorted with ties by id`, () => {
    const random = rng(55);
    for (const vocab of [7, 172, 4099, 32000]) {
      const rows: SampleRow[] = [0, 1, 5, 20].map((numLogprobs, j) => {
        const logits = gaussianLogits(vocab, random, 3);
        logits[vocab - 1] = logits[2] = logits[Math.floor(vocab / 2)] = 20;  // a three-way tie at the top
        return {
          logits, output: [2, 2], bias: [[j, 4]],
          params: { numLogprobs, temperature: 0.6 + j * 0.3, repetitionPenalty: 1.3, presencePenalty: 1, topK: 30 },
        };
      });
      const out = sampleNative(isa, vocab, rows, { maxLogprobs: 20 });
      rows.forEach((row, r) => {
        const expected = logSoftmax(row.logits);
        const id = out.ids[r] as number;
        assert.ok(Math.abs((out.logprobs[r] as number) - (expected[id] as number)) < 2e-5, `vocab ${vocab} row ${r} chosen`);
        const n = Math.min(row.params?.numLogprobs ?? 0, vocab);
        const ref = referenceRow(row);
        for (let j = 0; j < 20; j++) {
          const gotId = out.topIds[r * 20 + j] as number, gotLp = out.topLogprobs[r * 20 + j] as number;
          if (j < n) {
            assert.equal(gotId, ref.topIds[j], `vocab ${vocab} row ${r} top ${j}`);
            assert.ok(Math.abs(gotLp - (ref.topLogprobs[j] as number)) < 2e-5, `vocab ${vocab} row ${r} top ${j}: ${gotLp}`);
          } else {
            assert.equal(gotId, -1);
            assert.equal(gotLp, -Infinity);
          }
        }
      });
      if (vocab >= 172) assert.deepEqual(Array.from(out.topIds.slice(60, 63)), [2, Math.floor(vocab / 2), vocab - 1]);
    }
  });

  test(`sample ${isa}: deterministic in (seed, counter), varying across counters and seeds`, () => {
    const random = rng(66);
    const vocab = 172;
    const row: SampleRow = { logits: gaussianLogits(vocab, random, 0.5), params: { seed: 5, topP: 0.95 } };
    const a = sampleNative(isa, vocab, withCounters(row, 200));
    const b = sampleNative(isa, vocab, withCounters(row, 200), { threads: 1 });
    assert.deepEqual(a.ids, b.ids);
    assert.deepEqual(a.logprobs, b.logprobs);
    assert.ok(new Set(a.ids).size > 60, `200 counters drew only ${new Set(a.ids).size} distinct ids`);
    const other = sampleNative(isa, vocab, withCounters({ ...row, params: { ...row.params, seed: 6 } }, 200));
    const same = a.ids.filter((id, i) => id === other.ids[i]).length;
    assert.ok(same < 20, `seeds 5 and 6 agree on ${same} of 200 draws`);
  });

  test(`sample ${isa}: a row's result does not depend on the rest of the batch nor on threads`, () => {
    const random = rng(77);
    const vocab = 4099;
    const variants: Array<SampleRow['params']> = [
      { temperature: 0 }, {}, { topK: 5 }, { topP: 0.9 }, { minP: 0.1 }, { topK: 3000, topP: 0.5 },
      { repetitionPenalty: 1.2, frequencyPenalty: 0.5 }, { temperature: 0.3, numLogprobs: 20 },
    ];
    const rows: SampleRow[] = Array.from({ length: 32 }, (_, r) => ({
      logits: lmLikeLogits(vocab, random),
      params: { ...variants[r % variants.length], seed: 1000 + r, counter: r * 7, numLogprobs: r % 4 === 0 ? 20 : r % 6 },
      prompt: r % 3 === 0 ? [1, 2, 3, r] : [],
      output: r % 2 === 0 ? [r, r, 4] : [],
      bias: r % 5 === 0 ? [[r, 3]] : [],
    }));
    const alone = rows.map((row) => sampleNative(isa, vocab, [row], { maxLogprobs: 20, threads: 1 }));
    for (const threads of [1, 2, 3]) {
      for (const order of [rows, [...rows].reverse()]) {
        const out = sampleNative(isa, vocab, order, { maxLogprobs: 20, threads });
        order.forEach((row, j) => {
          const single = alone[rows.indexOf(row)] as (typeof alone)[number];
          const where = `row ${rows.indexOf(row)} at ${j}, threads ${threads}`;
          assert.equal(out.ids[j], single.ids[0], where);
          assert.ok(Object.is(out.logprobs[j], single.logprobs[0]), where);
          assert.deepEqual(out.topIds.slice(j * 20, j * 20 + 20), single.topIds, where);
          assert.deepEqual(out.topLogprobs.slice(j * 20, j * 20 + 20), single.topLogprobs, where);
        });
      }
    }
  });

  test(`sample ${isa}: 10k draws follow the softmax (chi-square, fixed seeds)`, () => {
    // vocab 37: vector lanes and a scalar tail on every ISA.
    const vocab = 37;
    const logits = Float32Array.from({ length: vocab }, (_, i) => 1.5 - (3 * ((i * 17) % vocab)) / (vocab - 1));
    const configs: Array<SampleRow['params']> = [
      { temperature: 1 }, { temperature: 0.5 }, { topK: 10 }, { topP: 0.8, temperature: 1.2 }, { minP: 0.3 },
    ];
    for (const params of configs) {
      const row: SampleRow = { logits, params: { ...params, seed: 99 } };
      const ref: ProcessedRow = referenceRow(row);
      assert.ok(ref.cutMargin > 1e-4, 'test row too close to a filter threshold');
      const n = 10000;
      const out = sampleNative(isa, vocab, withCounters(row, n));
      const counts = new Map<number, number>();
      for (const id of out.ids) counts.set(id, (counts.get(id) ?? 0) + 1);
      let chi2 = 0;
      ref.keptIds.forEach((id, j) => {
        const expected = n * (ref.keptProbs[j] as number);
        chi2 += ((counts.get(id) ?? 0) - expected) ** 2 / expected;
        counts.delete(id);
      });
      assert.equal(counts.size, 0, `${JSON.stringify(params)}: drew tokens outside the kept set`);
      const critical = chiSquareCritical(ref.keptIds.length - 1);
      assert.ok(chi2 < critical, `${JSON.stringify(params)}: chi2 ${chi2.toFixed(1)} >= ${critical.toFixed(1)}`);
    }
  });
}

// Real vocab sizes: the reference processes each row once (slow in JS), every ISA reuses it.
const BIG: Array<{ vocab: number; rows: SampleRow[]; refs: ProcessedRow[] }> = [32000, 151936].map((vocab, v) => {
  const random = rng(88 + v);
  const lm = lmLikeLogits(vocab, random);
  const flat = gaussianLogits(vocab, random, 0.3);
  const rows: SampleRow[] = ([
    { logits: lm, params: { temperature: 0, numLogprobs: 20 } },
    { logits: lm, params: { temperature: 0.8, topP: centeredTopP(lm, 0.8, 0.9), numLogprobs: 5 } },
    { logits: lm, params: { topK: 40 } },
    { logits: lm, params: { minP: 0.05 }, prompt: [1, 2, 3], output: [5, 5], bias: [[7, 1]] },
    { logits: flat, params: { topP: centeredTopP(flat, 1, 0.9) } },
    { logits: flat, params: { temperature: 1 } },
  ] as SampleRow[]).map((row) => ({ ...row, params: { ...row.params, seed: SEED + v } }));
  return { vocab, rows, refs: rows.map(referenceRow) };
});

for (const isa of ISAS) {
  test(`sample ${isa}: vocab 32000 and 151936 match the reference`, () => {
    for (const { vocab, rows, refs } of BIG) {
      const draws = 4;
      const out = sampleNative(isa, vocab, rows.flatMap((row) => withCounters(row, draws)), { maxLogprobs: 20 });
      rows.forEach((row, r) => {
        const ref = refs[r] as ProcessedRow;
        const label = `vocab ${vocab} ${JSON.stringify(row.params)}`;
        assertDrawsMatch(label, ref, out.ids.slice(r * draws, (r + 1) * draws), SEED + (vocab === 32000 ? 0 : 1));
        for (let d = 0; d < draws; d++) {
          const i = r * draws + d;
          const lp = ref.rawLogprobs[out.ids[i] as number] as number;
          assert.ok(Math.abs((out.logprobs[i] as number) - lp) < 2e-5, `${label}: logprob`);
          ref.topIds.forEach((id, j) => {
            assert.equal(out.topIds[i * 20 + j], id, `${label}: top ${j}`);
            assert.ok(Math.abs((out.topLogprobs[i * 20 + j] as number) - (ref.topLogprobs[j] as number)) < 2e-5);
          });
        }
      });
    }
  });
}
