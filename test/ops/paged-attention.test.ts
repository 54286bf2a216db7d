// paged_attention on every ISA variant, KV dtype and thread count against the naive double-precision
// reference, which reads the same (already rounded) cache bytes. Mixed batches put decode rows,
// prefill chunks on a cached context and fresh prefills in one call; block tables are shuffled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DType } from '../../lib/model/types.js';
import { addon, ISAS, maxRelError, randomF32, rng } from '../helpers/native.js';
import { type KvDtype, kvCacheWriteRef, kvElemBytes } from './reference/kv-cache-write.js';
import { type PagedAttentionInputs, pagedAttentionRef } from './reference/paged-attention.js';

const DTYPES: KvDtype[] = [DType.F32, DType.F16, DType.BF16];
// Outputs are convex combinations of V values in [-1, 1]; the f32 kernels stay below 2e-7 of the double
// reference on these inputs, while dropping or double-counting one position of 2,048 moves an output by
// ~5e-4. Peaked softmaxes (large scores) amplify the score rounding, hence their looser bound.
const TOL = 2e-6;
const TOL_PEAKED = 5e-5;

interface SeqSpec { queryLen: number; contextLen: number }
interface CaseSpec {
  kvDtype: KvDtype; nKvHeads: number; group: number; headDim: number; blockSize: number; seqs: SeqSpec[];
  qScale?: number;
}

function shuffled<T>(items: T[], random: () => number): T[] {
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Random cache contents of magnitude < 1 (f16/bf16 built from random bits, so values are exact). */
function randomCache(elems: number, dtype: KvDtype, random: () => number): Uint8Array {
  const bytes = new Uint8Array(elems * kvElemBytes(dtype));
  if (dtype === DType.F32) {
    new Float32Array(bytes.buffer).set(randomF32(elems, random));
    return bytes;
  }
  const h = new Uint16Array(bytes.buffer);
  for (let i = 0; i < elems; i++) {
    const sign = random() < 0.5 ? 0x8000 : 0;
    h[i] = dtype === DType.F16
      ? sign | ((8 + Math.floor(random() * 7)) << 10) | Math.floor(random() * 1024)
      : sign | ((120 + Math.floor(random() * 7)) << 7) | Math.floor(random() * 128);
  }
  return bytes;
}

function buildCase(spec: CaseSpec, random: () => number): PagedAttentionInputs {
  const { blockSize, nKvHeads, headDim, seqs } = spec;
  const nHeads = nKvHeads * spec.group;
  const numSeqs = seqs.length;
  const needed = seqs.map((s) => Math.ceil(s.contextLen / blockSize));
  const numBlocks = needed.reduce((a, b) => a + b, 0) + 3; // spare blocks hold garbage that is never read
  const ids = shuffled(range(numBlocks), random);
  const maxBlocksPerSeq = Math.max(1, ...needed) + 1;
  const blockTables = new Int32Array(numSeqs * maxBlocksPerSeq).fill(-1); // unused entries are invalid on purpose
  let next = 0;
  needed.forEach((n, s) => {
    for (let b = 0; b < n; b++) blockTables[s * maxBlocksPerSeq + b] = ids[next++] as number;
  });
  const queryStartLoc = new Int32Array(numSeqs + 1);
  const seqLens = new Int32Array(numSeqs);
  seqs.forEach((s, i) => {
    queryStartLoc[i + 1] = (queryStartLoc[i] as number) + s.queryLen;
    seqLens[i] = s.contextLen;
  });
  const elems = numBlocks * nKvHeads * blockSize * headDim;
  return {
    q: randomF32((queryStartLoc[numSeqs] as number) * nHeads * headDim, random, spec.qScale ?? 1),
    kCache: randomCache(elems, spec.kvDtype, random),
    vCache: randomCache(elems, spec.kvDtype, random),
    kvDtype: spec.kvDtype, numBlocks, queryStartLoc, seqLens, blockTables, maxBlocksPerSeq, numSeqs, nHeads, nKvHeads,
    headDim, blockSize, scale: 1 / Math.sqrt(headDim),
  };
}

function runNative(isa: (typeof ISAS)[number], c: PagedAttentionInputs, threads: number, out?: Float32Array): Float32Array {
  const o = out ?? new Float32Array(c.q.length);
  addon.ops.pagedAttention(isa, o, c.q, c.kCache, c.vCache, c.kvDtype, c.numBlocks, c.queryStartLoc, c.seqLens,
    c.blockTables, c.maxBlocksPerSeq, c.numSeqs, c.nHeads, c.nKvHeads, c.headDim, c.blockSize, c.scale, threads);
  return o;
}

/** Every ISA, threads 1 and 2 (which must agree bit for bit: tasks do not depend on scheduling). */
function checkAllIsas(c: PagedAttentionInputs, label: string, tol = TOL): void {
  const ref = pagedAttentionRef(c);
  for (const isa of ISAS) {
    const one = runNative(isa, c, 1);
    const err = maxRelError(one, ref, 1);
    if (process.env.KV_TEST_VERBOSE) console.log(`${label} ${isa}: ${err.toExponential(2)}`);
    assert.ok(err < tol, `${label} ${isa}: max error ${err} (tolerance ${tol})`);
    const two = runNative(isa, c, 2);
    assert.ok(Buffer.from(two.buffer).equals(Buffer.from(one.buffer)), `${label} ${isa}: threads=2 differs from threads=1`);
  }
}

function describe(spec: CaseSpec): string {
  const seqs = spec.seqs.map((s) => `${s.queryLen}/${s.contextLen}`).join(',');
  return `${DType[spec.kvDtype]} G=${spec.group} kv=${spec.nKvHeads} D=${spec.headDim} B=${spec.blockSize} L/C=[${seqs}]`;
}

/** Decode rows (long and short context), a chunk on a cached context, a fresh prefill, maybe an idle sequence. */
function mixedBatch(random: () => number, headsTimesDim: number): SeqSpec[] {
  const budget = 3e6; // reference multiply-adds per prefill sequence, to keep the suite fast
  const cached = 1 + Math.floor(random() * 1200);
  const chunk = Math.max(2, Math.min(48, Math.floor(budget / ((cached + 24) * headsTimesDim))));
  const fresh = 1 + Math.floor(random() * Math.max(1, Math.min(90, Math.floor(Math.sqrt((2 * budget) / headsTimesDim)))));
  const seqs: SeqSpec[] = [
    { queryLen: 1, contextLen: 1 + Math.floor(random() * 2048) },
    { queryLen: 1, contextLen: 1 + Math.floor(random() * 20) },
    { queryLen: chunk, contextLen: cached + chunk },
    { queryLen: fresh, contextLen: fresh },
  ];
  if (random() < 0.5) seqs.push({ queryLen: 0, contextLen: Math.floor(random() * 40) });
  return shuffled(seqs, random);
}

// A fixed-seed sample of dtype x GQA ratio x head dim x block size (24 of 108), covering every value.
const GROUPS = [1, 2, 4, 8];
const HEAD_DIMS = [16, 64, 128];
const BLOCK_SIZES = [1, 16, 32];
const ALL = DTYPES.flatMap((kvDtype) => GROUPS.flatMap((group) => HEAD_DIMS.flatMap((headDim) =>
  BLOCK_SIZES.map((blockSize) => ({ kvDtype, group, headDim, blockSize })))));
const sampleRandom = rng(2024);
const SAMPLE = shuffled(ALL, sampleRandom).slice(0, 24);

test('the sampled matrix covers every dtype, GQA ratio, head dim and block size', () => {
  for (const d of DTYPES) assert.ok(SAMPLE.some((s) => s.kvDtype === d));
  for (const g of GROUPS) assert.ok(SAMPLE.some((s) => s.group === g));
  for (const h of HEAD_DIMS) assert.ok(SAMPLE.some((s) => s.headDim === h));
  for (const b of BLOCK_SIZES) assert.ok(SAMPLE.some((s) => s.blockSize === b));
});

SAMPLE.forEach((combo, i) => {
  const random = rng(100 + i);
  const nKvHeads = 1 + (i % 2);
  const spec: CaseSpec = { ...combo, nKvHeads, seqs: mixedBatch(random, nKvHeads * combo.group * combo.headDim) };
  test(`paged_attention mixed batch ${describe(spec)}`, () => checkAllIsas(buildCase(spec, random), describe(spec)));
});

test('paged_attention: single-position contexts and fresh one-token prefills', () => {
  const random = rng(7);
  for (const kvDtype of DTYPES) {
    for (const blockSize of BLOCK_SIZES) {
      const spec: CaseSpec = { kvDtype, nKvHeads: 2, group: 4, headDim: 16, blockSize, seqs: [{ queryLen: 1, contextLen: 1 }, { queryLen: 1, contextLen: 2 }, { queryLen: 2, contextLen: 2 }] };
      checkAllIsas(buildCase(spec, random), describe(spec));
    }
  }
});

test('paged_attention: contexts and chunks around block and 16-position chunk boundaries', () => {
  const random = rng(8);
  const seqs: SeqSpec[] = [15, 16, 17, 31, 32, 33].map((c) => ({ queryLen: 1, contextLen: c }));
  seqs.push({ queryLen: 5, contextLen: 18 }, { queryLen: 16, contextLen: 16 }, { queryLen: 17, contextLen: 17 },
    { queryLen: 33, contextLen: 48 });
  for (const kvDtype of DTYPES) {
    const spec: CaseSpec = { kvDtype, nKvHeads: 1, group: 2, headDim: 64, blockSize: 16, seqs };
    checkAllIsas(buildCase(spec, random), describe(spec));
  }
});

test('paged_attention: head dims that are not multiples of 8 or 16', () => {
  const random = rng(9);
  for (const headDim of [1, 3, 20, 72, 100, 200]) {
    for (const kvDtype of DTYPES) {
      const spec: CaseSpec = { kvDtype, nKvHeads: 1, group: 2, headDim, blockSize: 16,
        seqs: [{ queryLen: 1, contextLen: 70 }, { queryLen: 9, contextLen: 40 }, { queryLen: 6, contextLen: 6 }] };
      checkAllIsas(buildCase(spec, random), describe(spec));
    }
  }
});

test('paged_attention: GQA groups 3, 16 and 32 (tile and register-block remainders)', () => {
  const random = rng(10);
  for (const [nKvHeads, group] of [[2, 3], [1, 16], [1, 32], [3, 5]] as const) {
    const spec: CaseSpec = { kvDtype: DType.F16, nKvHeads, group, headDim: 64, blockSize: 16,
      seqs: [{ queryLen: 11, contextLen: 11 }, { queryLen: 1, contextLen: 300 }, { queryLen: 7, contextLen: 90 }] };
    checkAllIsas(buildCase(spec, random), describe(spec));
  }
});

test('paged_attention: 2,048-position context with block size 1, decode and chunk', () => {
  const random = rng(11);
  const spec: CaseSpec = { kvDtype: DType.BF16, nKvHeads: 2, group: 2, headDim: 64, blockSize: 1,
    seqs: [{ queryLen: 1, contextLen: 2048 }, { queryLen: 3, contextLen: 2048 }] };
  checkAllIsas(buildCase(spec, random), describe(spec));
});

test('paged_attention: peaked softmax (large scores) needs the max subtraction', () => {
  const random = rng(12);
  for (const kvDtype of DTYPES) {
    const spec: CaseSpec = { kvDtype, nKvHeads: 1, group: 4, headDim: 64, blockSize: 16, qScale: 60,
      seqs: [{ queryLen: 1, contextLen: 500 }, { queryLen: 20, contextLen: 100 }] };
    checkAllIsas(buildCase(spec, random), describe(spec), TOL_PEAKED);
  }
});

for (const isa of ISAS) {
  test(`paged_attention ${isa}: out may alias q; empty batches are no-ops`, () => {
    const random = rng(13);
    const c = buildCase({ kvDtype: DType.F16, nKvHeads: 2, group: 2, headDim: 32, blockSize: 16,
      seqs: [{ queryLen: 4, contextLen: 30 }, { queryLen: 1, contextLen: 9 }] }, random);
    const expected = runNative(isa, c, 2);
    const inPlace = c.q.slice();
    runNative(isa, { ...c, q: inPlace }, 2, inPlace);
    assert.ok(Buffer.from(inPlace.buffer).equals(Buffer.from(expected.buffer)));

    const idle = buildCase({ kvDtype: DType.F32, nKvHeads: 1, group: 1, headDim: 16, blockSize: 16,
      seqs: [{ queryLen: 0, contextLen: 5 }, { queryLen: 0, contextLen: 0 }] }, random);
    runNative(isa, idle, 2, new Float32Array(0));
    addon.ops.pagedAttention(isa, new Float32Array(0), new Float32Array(0), new Uint8Array(0), new Uint8Array(0),
      DType.F32, 0, new Int32Array([0]), new Int32Array(0), new Int32Array(0), 0, 0, 4, 2, 64, 16, 0.125, 1);
  });
}

test('kv_cache_write then paged_attention, two steps (prefill, then decode + chunk), matches the reference', () => {
  const random = rng(14);
  const [nKvHeads, nHeads, headDim, blockSize] = [2, 8, 64, 16];
  for (const kvDtype of DTYPES) {
    const numBlocks = 12;
    const perm = shuffled(range(numBlocks), random); // distinct, scattered blocks for the two sequences
    const tables = [perm.slice(0, 4), perm.slice(4, 7)];
    const blockTables = new Int32Array(2 * 4).fill(-1);
    tables.forEach((t, s) => t.forEach((b, i) => (blockTables[s * 4 + i] = b)));
    const bytes = numBlocks * nKvHeads * blockSize * headDim * kvElemBytes(kvDtype);
    const caches = { k: new Uint8Array(bytes), v: new Uint8Array(bytes), kRef: new Uint8Array(bytes), vRef: new Uint8Array(bytes) };
    const steps = [
      { lens: [[0, 40], [0, 7]], pad: 3 }, // [already cached, new tokens] per sequence
      { lens: [[40, 1], [7, 30]], pad: 0 },
    ];
    for (const [stepIndex, step] of steps.entries()) {
      const queryLens = step.lens.map(([, n]) => n as number);
      const T = queryLens.reduce((a, b) => a + b, 0);
      const nTokens = T + step.pad; // padding tokens at the end have slot -1
      const slotMapping = new Int32Array(nTokens).fill(-1);
      let t = 0;
      step.lens.forEach(([cached, n], s) => {
        for (let j = 0; j < (n as number); j++, t++) {
          const pos = (cached as number) + j;
          slotMapping[t] = (blockTables[s * 4 + Math.floor(pos / blockSize)] as number) * blockSize + (pos % blockSize);
        }
      });
      const k = randomF32(nTokens * nKvHeads * headDim, random);
      const v = randomF32(nTokens * nKvHeads * headDim, random);
      kvCacheWriteRef(caches.kRef, caches.vRef, kvDtype, k, v, slotMapping, nTokens, nKvHeads, headDim, blockSize);
      const c: PagedAttentionInputs = {
        q: randomF32(T * nHeads * headDim, random), kCache: caches.kRef, vCache: caches.vRef, kvDtype, numBlocks,
        queryStartLoc: new Int32Array([0, queryLens[0] as number, T]),
        seqLens: new Int32Array(step.lens.map(([cached, n]) => (cached as number) + (n as number))),
        blockTables, maxBlocksPerSeq: 4, numSeqs: 2, nHeads, nKvHeads, headDim, blockSize, scale: 0.125,
      };
      const ref = pagedAttentionRef(c);
      for (const isa of ISAS) {
        const k2 = caches.k.slice();
        const v2 = caches.v.slice();
        addon.ops.kvCacheWrite(isa, k2, v2, kvDtype, numBlocks, k, v, slotMapping, nTokens, nKvHeads, headDim, blockSize);
        assert.ok(Buffer.from(k2).equals(Buffer.from(caches.kRef)), `${isa} step ${stepIndex}: K cache`);
        assert.ok(Buffer.from(v2).equals(Buffer.from(caches.vRef)), `${isa} step ${stepIndex}: V cache`);
        const out = runNative(isa, { ...c, kCache: k2, vCache: v2 }, 2);
        const err = maxRelError(out, ref, 1);
        assert.ok(err < TOL, `${isa} ${DType[kvDtype]} step ${stepIndex}: max error ${err}`);
      }
      caches.k = caches.kRef.slice();
      caches.v = caches.vRef.slice();
    }
  }
});

test('paged_attention binding validates every invariant and throws instead of crashing', () => {
  const isa = ISAS[0] ?? 'portable';
  const random = rng(15);
  const base = buildCase({ kvDtype: DType.F16, nKvHeads: 2, group: 2, headDim: 16, blockSize: 4,
    seqs: [{ queryLen: 2, contextLen: 6 }, { queryLen: 1, contextLen: 3 }] }, random);
  const call = (over: Partial<PagedAttentionInputs> & { out?: Float32Array; threads?: number }) => {
    const c = { ...base, ...over };
    addon.ops.pagedAttention(isa, over.out ?? new Float32Array(c.q.length), c.q, c.kCache, c.vCache, c.kvDtype,
      c.numBlocks, c.queryStartLoc, c.seqLens, c.blockTables, c.maxBlocksPerSeq, c.numSeqs, c.nHeads, c.nKvHeads,
      c.headDim, c.blockSize, c.scale, over.threads ?? 1);
  };
  call({}); // valid
  const table = (edit: (t: Int32Array) => void) => {
    const t = base.blockTables.slice();
    edit(t);
    return t;
  };
  const cases: Array<[Partial<PagedAttentionInputs> & { out?: Float32Array; threads?: number }, RegExp]> = [
    [{ queryStartLoc: new Int32Array([0, 2, 1]) }, /queryStartLoc: expected non-decreasing values, got queryStartLoc\[2\] = 1 < queryStartLoc\[1\] = 2/],
    [{ queryStartLoc: new Int32Array([1, 2, 3]) }, /queryStartLoc\[0\]: expected 0, got 1/],
    [{ queryStartLoc: new Int32Array([0, 2]) }, /queryStartLoc: expected at least 3 elements/],
    [{ seqLens: new Int32Array([1, 3]) }, /seqLens\[0\]: expected at least the query length 2.*got 1/],
    [{ seqLens: new Int32Array([6, -1]) }, /seqLens\[1\]: expected at least the query length 1/],
    [{ seqLens: new Int32Array([6, 3 + 4 * base.maxBlocksPerSeq]) }, /seqLens\[1\] = \d+ needs \d+ blocks of 4, but maxBlocksPerSeq is/],
    [{ blockTables: table((t) => (t[1] = base.numBlocks)) }, /blockTables\[0, 1\]: expected a block id in \[0, \d+\) \(numBlocks\), got \d+/],
    [{ blockTables: table((t) => (t[base.maxBlocksPerSeq] = -1)) }, /blockTables\[1, 0\]: .*got -1/],
    [{ blockTables: new Int32Array(3) }, /blockTables: expected at least/],
    [{ nHeads: 3 }, /nHeads: expected a multiple of nKvHeads = 2, got 3/],
    [{ nKvHeads: 0 }, /nKvHeads: expected an integer in \[1, 4096\]/],
    [{ headDim: 16.5 }, /headDim: expected an integer/],
    [{ q: new Float32Array(10) }, /q: expected at least 192 elements/],
    [{ out: new Float32Array(191) }, /out: expected at least 192 elements/],
    [{ kCache: new Uint8Array(10) }, /kCache: expected at least \d+ elements, got 10/],
    [{ vCache: new Uint8Array(new ArrayBuffer(base.vCache.length + 1), 1) }, /vCache: data must be aligned to 2 bytes/],
    [{ kvDtype: 7 as KvDtype }, /kvDtype: expected 0 \(F32\), 1 \(F16\) or 2 \(BF16\)/],
    [{ scale: NaN }, /scale: expected a finite float/],
    [{ threads: 0 }, /threads: expected an integer in \[1, 256\]/],
    [{ numBlocks: -1 }, /numBlocks: expected an integer/],
  ];
  for (const [over, pattern] of cases) assert.throws(() => call(over), pattern, JSON.stringify(Object.keys(over)));
  call({ blockTables: table((t) => (t[base.maxBlocksPerSeq - 1] = 999)) }); // entries past the context are not read
});
