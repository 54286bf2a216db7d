// The numbers `vllm bench serve` reports, computed from per-request timings (pure functions).
// Field names follow vLLM's --save-result JSON (completed, request_throughput, mean_ttft_ms, ...).

/** What one benchmark request measured. Times in seconds. */
export interface RequestRecord {
  success: boolean;
  error: string | null;
  /** Prompt tokens (from the server's usage when it reports it). */
  promptLen: number;
  /** Generated tokens (from the server's usage when it reports it). */
  outputTokens: number;
  /** Seconds from sending to the first non-empty text chunk (0 when none came). */
  ttft: number;
  /** Gaps between consecutive text chunks. */
  itl: number[];
  /** Seconds from sending to the end of the response. */
  latency: number;
  /** performance.now() seconds when the request was sent. */
  startTime: number;
  /** performance.now() seconds of every text chunk, for the peak output throughput. */
  chunkTimes: number[];
}

export interface LatencyStats {
  mean: number;
  median: number;
  std: number;
  p95: number;
  p99: number;
}

/** numpy.percentile's default (linear interpolation between closest ranks). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] ?? 0;
  const b = sorted[hi] ?? 0;
  return a + (b - a) * (rank - lo);
}

/** Mean, median, population std (numpy.std), p95 and p99 of values given in seconds, reported in ms. */
export function latencyStatsMs(seconds: readonly number[]): LatencyStats {
  if (seconds.length === 0) return { mean: 0, median: 0, std: 0, p95: 0, p99: 0 };
  const ms = seconds.map((s) => s * 1000).sort((a, b) => a - b);
  const mean = ms.reduce((s, v) => s + v, 0) / ms.length;
  const variance = ms.reduce((s, v) => s + (v - mean) ** 2, 0) / ms.length;
  return { mean, median: percentile(ms, 50), std: Math.sqrt(variance), p95: percentile(ms, 95), p99: percentile(ms, 99) };
}

export interface ServeBenchResult {
  duration: number;
  completed: number;
  failed: number;
  total_input_tokens: number;
  total_output_tokens: number;
  request_throughput: number;
  output_throughput: number;
  total_token_throughput: number;
  max_output_tokens_per_s: number;
  max_concurrent_requests: number;
  mean_ttft_ms: number;
  median_ttft_ms: number;
  std_ttft_ms: number;
  p95_ttft_ms: number;
  p99_ttft_ms: number;
  mean_tpot_ms: number;
  median_tpot_ms: number;
  std_tpot_ms: number;
  p95_tpot_ms: number;
  p99_tpot_ms: number;
  mean_itl_ms: number;
  median_itl_ms: number;
  std_itl_ms: number;
  p95_itl_ms: number;
  p99_itl_ms: number;
  mean_e2el_ms: number;
  median_e2el_ms: number;
  std_e2el_ms: number;
  p95_e2el_ms: number;
  p99_e2el_ms: number;
  input_lens: number[];
  output_lens: number[];
  errors: string[];
}

function flatten(prefix: string, stats: LatencyStats): Record<string, number> {
  return {
    [`mean_${prefix}_ms`]: stats.mean,
    [`median_${prefix}_ms`]: stats.median,
    [`std_${prefix}_ms`]: stats.std,
    [`p95_${prefix}_ms`]: stats.p95,
    [`p99_${prefix}_ms`]: stats.p99,
  };
}

/** Highest number of output chunks in any one-second window bucket (vLLM's peak output throughput). */
export function peakPerSecond(times: readonly number[], origin: number): number {
  const buckets = new Map<number, number>();
  for (const t of times) {
    const b = Math.floor(t - origin);
    buckets.set(b, (buckets.get(b) ?? 0) + 1);
  }
  return Math.max(0, ...buckets.values());
}

/**
 * Aggregates one load level. `durationS` is the benchmark's wall time; `peakConcurrency` what the
 * runner observed. TPOT per request is (latency - ttft) / (output tokens - 1), for requests with more
 * than one output token, as vLLM computes it.
 */
export function summarize(records: readonly RequestRecord[], durationS: number, peakConcurrency: number, origin = 0): ServeBenchResult {
  const ok = records.filter((r) => r.success);
  const totalInput = ok.reduce((s, r) => s + r.promptLen, 0);
  const totalOutput = ok.reduce((s, r) => s + r.outputTokens, 0);
  const tpots = ok.filter((r) => r.outputTokens > 1).map((r) => (r.latency - r.ttft) / (r.outputTokens - 1));
  const duration = durationS > 0 ? durationS : 0;
  const per = (v: number): number => (duration > 0 ? v / duration : 0);
  return {
    duration,
    completed: ok.length,
    failed: records.length - ok.length,
    total_input_tokens: totalInput,
    total_output_tokens: totalOutput,
    request_throughput: per(ok.length),
    output_throughput: per(totalOutput),
    total_token_throughput: per(totalInput + totalOutput),
    max_output_tokens_per_s: peakPerSecond(ok.flatMap((r) => r.chunkTimes), origin),
    max_concurrent_requests: peakConcurrency,
    ...(flatten('ttft', latencyStatsMs(ok.map((r) => r.ttft))) as Record<`${string}_ttft_ms`, number>),
    ...(flatten('tpot', latencyStatsMs(tpots)) as Record<`${string}_tpot_ms`, number>),
    ...(flatten('itl', latencyStatsMs(ok.flatMap((r) => r.itl))) as Record<`${string}_itl_ms`, number>),
    ...(flatten('e2el', latencyStatsMs(ok.map((r) => r.latency))) as Record<`${string}_e2el_ms`, number>),
    input_lens: ok.map((r) => r.promptLen),
    output_lens: ok.map((r) => r.outputTokens),
    errors: records.filter((r) => !r.success).map((r) => r.error ?? 'unknown error'),
  } as ServeBenchResult;
}
