// Block coverage of our own sources from V8's precise coverage (inspector Profiler, in process): the
// feedback signal of the coverage-guided loader fuzzer. Each (script, block range) that ran since the
// last take is one feature; counts are bucketed as libFuzzer/AFL do (1, 2, 3, 4-7, 8-15, 16-31,
// 32-127, 128+) so that running a loop a different number of times is new behaviour too.
import { Session } from 'node:inspector';

interface V8Range { startOffset: number; endOffset: number; count: number }
interface V8Function { ranges: V8Range[] }
interface V8Script { scriptId: string; url: string; functions: V8Function[] }

function bucket(count: number): number {
  if (count <= 3) return count;
  if (count < 8) return 4;
  if (count < 16) return 5;
  if (count < 32) return 6;
  if (count < 128) return 7;
  return 8;
}

export class CoverageTracker {
  private readonly session = new Session();
  private readonly include: (url: string) => boolean;
  /** Every feature seen so far. */
  readonly seen = new Set<string>();

  constructor(include: (url: string) => boolean) {
    this.include = include;
    this.session.connect();
    this.post('Profiler.enable');
    // callCount: counts since the last take (each take resets them); detailed: per-block ranges.
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }

  /** The features of everything that ran since the previous call (which resets the counters). */
  take(): Set<string> {
    const result = this.post('Profiler.takePreciseCoverage') as { result: V8Script[] };
    const features = new Set<string>();
    for (const script of result.result) {
      if (!this.include(script.url)) continue;
      for (const fn of script.functions) {
        for (const r of fn.ranges) {
          if (r.count > 0) features.add(`${script.url}:${r.startOffset}:${r.endOffset}:${bucket(r.count)}`);
        }
      }
    }
    return features;
  }

  /** Features in `features` not seen before (without recording them). */
  novel(features: Set<string>): string[] {
    const out: string[] = [];
    for (const f of features) if (!this.seen.has(f)) out.push(f);
    return out;
  }

  record(features: Iterable<string>): void {
    for (const f of features) this.seen.add(f);
  }

  close(): void {
    this.post('Profiler.stopPreciseCoverage');
    this.session.disconnect();
  }

  private post(method: string, params?: object): unknown {
    // An in-process inspector session answers synchronously: the callback has run when post returns.
    let result: unknown;
    let error: unknown = null;
    let answered = false;
    this.session.post(method as 'Profiler.enable', params as undefined, (err: Error | null, res: unknown) => {
      error = err;
      result = res;
      answered = true;
    });
    if (!answered) throw new Error(`inspector: ${method} did not answer synchronously`);
    if (error) throw error;
    return result;
  }
}
