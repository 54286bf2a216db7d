// The coverage-guided loop of the loader fuzzer (libFuzzer's design in TypeScript, since Jazzer.js
// does not run here: its prebuilt addon needs glibc 2.38). Inputs are mutated from a corpus; an input
// that reaches code (a block, or a new hit-count bucket of one) no earlier input reached joins the
// corpus. Coverage comes from V8's precise block coverage (coverage.ts). Taking it costs milliseconds,
// so inputs run in batches with one take per batch. When a batch reached new blocks, it is halved
// and re-run until the inputs that did are found (a few takes instead of one per input); every 64th
// batch runs again input by input, for new hit counts of known blocks. Batches grow while nothing new
// turns up (up to 256) and shrink back when something does.
import { closeSync, ftruncateSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CoverageTracker } from './coverage.js';
import { Dictionary, mutate, type MutationContext, type Parts } from './mutate.js';
import { Random } from './random.js';
import { classify, signature, type FuzzTarget } from './targets.js';

export interface CorpusEntry {
  parts: Parts;
  name: string;
  execMs: number;
}

export interface Finding {
  signature: string;
  problem: string;
  parts: Parts;
  stack: string;
}

export interface FuzzStats {
  target: string;
  executions: number;
  elapsedMs: number;
  execsPerSecond: number;
  corpusSize: number;
  numSeeds: number;
  /** Distinct (block, hit bucket) features reached. */
  features: number;
  /** Distinct blocks reached. */
  blocks: number;
  findings: Finding[];
  slowest: { ms: number; name: string };
}

export interface FuzzerOptions {
  target: FuzzTarget;
  /** Directory the inputs are written to (one per process). */
  workDir: string;
  seed?: number;
  /** Largest part in bytes (default 4 MiB). */
  maxSize?: number;
  /** Called when a new kind of finding turns up. */
  onFinding?: (finding: Finding) => void;
  /** Called before each input runs (the hang watchdog keeps the latest). */
  onInput?: (parts: Parts) => void;
}

const SCAN = 4096;

/** Index of the first byte where a and b differ (the shorter length when one is a prefix of the other). */
function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n) {
    const end = Math.min(n, i + SCAN);
    if (!a.subarray(i, end).equals(b.subarray(i, end))) break;
    i = end;
  }
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** One past the last byte where a and b (same length) differ, at least `from`. */
function lastDifference(a: Buffer, b: Buffer, from: number): number {
  let i = a.length;
  while (i > from) {
    const start = Math.max(from, i - SCAN);
    if (!a.subarray(start, i).equals(b.subarray(start, i))) break;
    i = start;
  }
  while (i > from && a[i - 1] === b[i - 1]) i--;
  return i;
}

/** Our sources: lib/ under this repository, not node_modules. */
function ownSource(url: string): boolean {
  return url.includes('/lib/') && !url.includes('node_modules');
}

function blockOf(feature: string): string {
  return feature.slice(0, feature.lastIndexOf(':'));
}

export class LoaderFuzzer {
  readonly corpus: CorpusEntry[] = [];
  readonly findings = new Map<string, Finding>();
  private readonly target: FuzzTarget;
  private readonly workDir: string;
  private readonly rng: Random;
  private readonly maxSize: number;
  private readonly dictionary = new Dictionary();
  private readonly coverage = new CoverageTracker(ownSource);
  private readonly blocks = new Set<string>();
  private readonly options: FuzzerOptions;
  private executions = 0;
  /** Inputs started, reruns included (the hang watchdog checks that it moves). */
  inputsStarted = 0;
  private lastYield = performance.now();
  private numSeeds = 0;
  private slowest = { ms: 0, name: '' };
  /** The Buffer last written to each file of workDir, and the open descriptor of that file. */
  private readonly written: Array<Buffer | undefined> = [];
  private readonly fds: Array<number | undefined> = [];
  /** Cumulative pick weights of the corpus entries (rebuilt when the corpus grows). */
  private weights: number[] = [];
  private readonly started = performance.now();

  constructor(options: FuzzerOptions) {
    this.options = options;
    this.target = options.target;
    this.workDir = options.workDir;
    this.rng = new Random(options.seed ?? 1);
    this.maxSize = options.maxSize ?? 4 * 1024 * 1024;
    for (const word of ['general.architecture', 'llama', 'tokenizer.ggml.tokens', 'tokenizer.ggml.model', 'dtype', 'shape',
      'data_offsets', '__metadata__', 'F32', 'F16', 'BF16', 'I64', 'model_type', 'vocab', 'merges', 'added_tokens', 'chat_template']) {
      this.dictionary.add(word);
    }
  }

  /** Runs every seed (and any extra corpus inputs) once, one by one, recording their coverage. */
  async loadSeeds(extra: Array<{ name: string; parts: Parts }> = []): Promise<void> {
    const seeds = [...this.target.seeds(), ...extra];
    this.numSeeds = seeds.length;
    for (const seed of seeds) {
      for (const part of seed.parts) this.dictionary.addFrom(part, 1 << 16);
      const execMs = await this.execute(seed.parts, seed.name);
      const features = this.coverage.take();
      this.coverage.record(features);
      for (const f of features) this.blocks.add(blockOf(f));
      this.corpus.push({ parts: seed.parts, name: seed.name, execMs });
    }
    if (this.corpus.length === 0) throw new Error(`fuzz target ${this.target.name}: no seeds (is ../shared/models present?)`);
  }

  /** Fuzzes until `runs` executions or `timeMs` milliseconds, whichever comes first. */
  async fuzz(limits: { runs?: number; timeMs?: number }, onProgress?: (stats: FuzzStats) => void): Promise<FuzzStats> {
    const end = limits.timeMs !== undefined ? performance.now() + limits.timeMs : Infinity;
    const maxRuns = limits.runs ?? Infinity;
    let batchSize = 8;
    let batchNumber = 0;
    let lastReport = performance.now();
    while (this.executions < maxRuns && performance.now() < end) {
      const batch: Array<{ parts: Parts; name: string; execMs: number }> = [];
      for (let i = 0; i < batchSize && this.executions < maxRuns; i++) {
        const parent = this.pickParent();
        const { parts, ops } = mutate(parent.parts, this.rng, (p) => this.context(p));
        const name = `${parent.name} + ${ops.join(',')}`;
        const execMs = await this.execute(parts, name);
        batch.push({ parts, name, execMs });
      }
      batchNumber++;
      // Let timers and I/O run between batches (the worker's heartbeat, IPC).
      await new Promise((resolve) => setImmediate(resolve));
      const features = this.coverage.take();
      let newBlocks = false;
      for (const f of features) {
        if (!this.blocks.has(blockOf(f))) {
          newBlocks = true;
          break;
        }
      }
      if (newBlocks) {
        const added = await this.bisect(batch, true);
        batchSize = added > 0 ? 8 : Math.min(256, batchSize * 2);
        // A block the batch reached but no single input did (code run between inputs: lazy module
        // set-up, timers) is known from now on; otherwise every later batch would be bisected again
        // for it, re-running each input several times (most of the run's time went there).
        for (const f of features) this.blocks.add(blockOf(f));
      } else {
        if (batchNumber % 64 === 0) await this.oneByOne(batch);
        batchSize = Math.min(256, batchSize * 2);
      }
      if (onProgress && performance.now() - lastReport > 2000) {
        lastReport = performance.now();
        onProgress(this.stats());
      }
    }
    return this.stats();
  }

  /**
   * Finds the inputs of `items` that reached new code by halving: a half whose joint run reaches no
   * new block is dropped; single inputs are judged on their own (block, hit-count) features.
   * Returns how many joined the corpus.
   */
  private async bisect(items: CorpusEntry[], knownNew = false): Promise<number> {
    if (items.length === 1) return this.oneByOne(items);
    if (!knownNew) {
      for (const item of items) await this.execute(item.parts, item.name, false);
      let found = false;
      for (const f of this.coverage.take()) {
        if (!this.blocks.has(blockOf(f))) {
          found = true;
          break;
        }
      }
      if (!found) return 0;
    }
    const mid = items.length >> 1;
    return (await this.bisect(items.slice(0, mid))) + (await this.bisect(items.slice(mid)));
  }

  /** Runs each input alone and keeps those with features never seen. */
  private async oneByOne(items: CorpusEntry[]): Promise<number> {
    let added = 0;
    for (const item of items) {
      await this.execute(item.parts, item.name, false);
      const own = this.coverage.take();
      if (this.coverage.novel(own).length === 0) continue;
      this.coverage.record(own);
      for (const f of own) this.blocks.add(blockOf(f));
      this.corpus.push(item);
      added++;
    }
    return added;
  }

  stats(): FuzzStats {
    const elapsedMs = performance.now() - this.started;
    return {
      target: this.target.name,
      executions: this.executions,
      elapsedMs,
      execsPerSecond: this.executions / (elapsedMs / 1000),
      corpusSize: this.corpus.length,
      numSeeds: this.numSeeds,
      features: this.coverage.seen.size,
      blocks: this.blocks.size,
      findings: [...this.findings.values()],
      slowest: this.slowest,
    };
  }

  close(): void {
    this.coverage.close();
    for (const fd of this.fds) if (fd !== undefined) closeSync(fd);
    this.fds.length = 0;
  }

  /** Writes the parts where the target reads them; returns the path the loader gets. */
  writeInput(parts: Parts): string {
    mkdirSync(this.workDir, { recursive: true });
    this.target.files.forEach((file, i) => {
      const part = parts[i];
      const previous = this.written[i];
      // Mutation copies only the part it changes: an identical Buffer is already on disk.
      if (previous === part) return;
      const path = join(this.workDir, file);
      if (!part || part.length === 0) {
        const fd = this.fds[i];
        if (fd !== undefined) closeSync(fd);
        this.fds[i] = undefined;
        rmSync(path, { force: true });
      } else {
        // Most mutations change a few bytes of a large file: rewrite only from the first changed
        // byte (up to the last one when the length is unchanged), not the whole file.
        let fd = this.fds[i];
        if (fd === undefined) fd = this.fds[i] = openSync(path, 'w+');
        const from = previous ? firstDifference(previous, part) : 0;
        const to = previous && previous.length === part.length ? lastDifference(previous, part, from) : part.length;
        if (to > from) writeSync(fd, part, from, to - from, from);
        if (!previous || previous.length !== part.length) ftruncateSync(fd, part.length);
      }
      this.written[i] = part;
    });
    return this.target.entry === 'dir' ? this.workDir : join(this.workDir, this.target.files[this.target.entry] as string);
  }

  /** Runs one input; records a finding when it breaks the contract. Returns its run time. */
  private async execute(parts: Parts, name: string, count = true): Promise<number> {
    // Synchronous loaders never yield: let timers (the worker's heartbeat) and IPC run every 100 ms.
    if (performance.now() - this.lastYield > 100) {
      await new Promise((resolve) => setImmediate(resolve));
      this.lastYield = performance.now();
    }
    this.options.onInput?.(parts);
    this.inputsStarted++;
    const path = this.writeInput(parts);
    const start = performance.now();
    try {
      await this.target.run(path);
    } catch (error) {
      const problem = classify(error);
      if (problem !== null) this.addFinding(problem, parts, error);
    }
    const ms = performance.now() - start;
    if (count) this.executions++;
    if (ms > this.slowest.ms) this.slowest = { ms, name };
    return ms;
  }

  private addFinding(problem: string, parts: Parts, error: unknown): void {
    const sig = signature(problem);
    if (this.findings.has(sig)) return;
    const cause = (error as { cause?: unknown }).cause;
    const stack = (cause instanceof Error ? cause.stack : undefined) ?? (error instanceof Error ? error.stack : undefined) ?? '';
    const finding = { signature: sig, problem, parts, stack };
    this.findings.set(sig, finding);
    this.options.onFinding?.(finding);
  }

  /** Corpus entries are picked with weight 1 / (1 + ms): fast inputs get most of the mutations (as AFL favours them). */
  private pickParent(): CorpusEntry {
    if (this.weights.length !== this.corpus.length) {
      this.weights = [];
      let sum = 0;
      for (const e of this.corpus) {
        sum += 1 / (1 + e.execMs);
        this.weights.push(sum);
      }
    }
    const x = this.rng.float() * (this.weights[this.weights.length - 1] as number);
    let lo = 0;
    let hi = this.weights.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.weights[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return this.corpus[lo] as CorpusEntry;
  }

  private context(part: number): MutationContext {
    return {
      dictionary: this.dictionary,
      maxSize: this.maxSize,
      other: () => this.corpus[this.rng.int(this.corpus.length)]?.parts[part] ?? null,
    };
  }
}
