// A fake model for scheduler tests. It plays the runner's part honestly: it performs the step's
// copy-on-write block copies, writes every scheduled token id into its KV slot through the block
// table, then "attends": every row reads back all of its positions [0, end) through its block
// table and throws if any slot does not hold the request's token at that position. So a wrong
// prefix hit, a shared block written by two owners, a missed copy or a stale block table breaks
// the test. The sampled token is a pure function of (requestId, position), so a run with
// preemptions must produce exactly the tokens of a run without. A row built ahead (continuesRow)
// computes a token its request does not hold yet: the one the step before sampled, which is
// (requestId, position)'s token.
import { slotForPosition } from '../../lib/kv/kv-cache-manager.js';
import type { Scheduler } from '../../lib/scheduler/scheduler.js';
import type { SchedulerOutput } from '../../lib/scheduler/scheduler-output.js';

/** Deterministic token for `position` of request `key` (FNV-1a of both), in [0, vocabSize). */
export function fakeToken(key: string, position: number, vocabSize: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ position, 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return (h >>> 0) % vocabSize;
}

export class FakeModel {
  readonly slots: Int32Array;
  numSteps = 0;

  constructor(
    readonly numBlocks: number,
    readonly blockSize: number,
    readonly vocabSize = 1000,
    /** The key the sampled token depends on; the request id by default. */
    readonly keyOf: (requestId: string) => string = (requestId) => requestId,
  ) {
    this.slots = new Int32Array(numBlocks * blockSize).fill(-1);
  }

  step(output: SchedulerOutput): Map<string, number[]> {
    this.numSteps++;
    const { blockSize } = this;
    for (const [src, dst] of output.blockCopies) {
      this.slots.copyWithin(dst * blockSize, src * blockSize, (src + 1) * blockSize);
    }
    const tokenAt = (entry: SchedulerOutput['scheduled'][number], p: number): number | undefined => {
      const known = entry.request.allTokenIds;
      if (p < known.length) return known[p];
      return entry.continuesRow !== undefined ? fakeToken(this.keyOf(entry.request.requestId), p, this.vocabSize) : undefined;
    };
    for (const entry of output.scheduled) {
      for (let p = entry.startPosition; p < entry.startPosition + entry.numScheduledTokens; p++) {
        const token = tokenAt(entry, p);
        if (token === undefined) throw new Error(`step ${this.numSteps + 1}: ${entry.request.requestId} position ${p} has no token`);
        this.slots[slotForPosition(entry.blockIds, blockSize, p)] = token;
      }
    }
    const sampled = new Map<string, number[]>();
    for (const entry of output.scheduled) {
      const { request } = entry;
      const end = entry.startPosition + entry.numScheduledTokens;
      for (let p = 0; p < end; p++) {
        const got = this.slots[slotForPosition(entry.blockIds, blockSize, p)];
        if (got !== tokenAt(entry, p)) {
          throw new Error(`step ${this.numSteps}: ${request.requestId} position ${p} reads token ${got}, expected ${tokenAt(entry, p)}`);
        }
      }
      if (entry.sampleThisStep) {
        sampled.set(request.requestId, [fakeToken(this.keyOf(request.requestId), end, this.vocabSize)]);
      }
    }
    return sampled;
  }
}

/** Runs schedule -> model -> update until nothing is left (or maxSteps); calls onStep after each. */
export function runToCompletion(
  scheduler: Scheduler,
  model: FakeModel,
  options: { maxSteps?: number; onStep?: (output: SchedulerOutput, step: number) => void } = {},
): { numSteps: number; outputs: SchedulerOutput[] } {
  const maxSteps = options.maxSteps ?? 100_000;
  const outputs: SchedulerOutput[] = [];
  let step = 0;
  while (scheduler.hasUnfinishedRequests()) {
    if (step >= maxSteps) throw new Error(`not finished after ${maxSteps} steps`);
    const output = scheduler.schedule();
    outputs.push(output);
    scheduler.updateFromOutput(output, model.step(output));
    options.onStep?.(output, step);
    step++;
  }
  return { numSteps: step, outputs };
}

/** Small seeded PRNG (mulberry32), [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}
