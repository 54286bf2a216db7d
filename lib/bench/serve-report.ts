// Text output of `kvserve bench serve`: vLLM's per-run block and a table across concurrency levels.
import type { LevelResult } from './serve-runner.js';

const f2 = (v: number): string => v.toFixed(2);

function row(label: string, value: string | number): string {
  return `${label.padEnd(40)} ${typeof value === 'number' ? String(value) : value}`;
}

function section(title: string): string {
  const width = 50;
  const pad = Math.max(0, width - title.length);
  return `${'-'.repeat(Math.floor(pad / 2))}${title}${'-'.repeat(Math.ceil(pad / 2))}`;
}

/** The block `vllm bench serve` prints after a run. */
export function formatLevel(r: LevelResult): string {
  const lines = [
    `${'='.repeat(12)} Serving Benchmark Result ${'='.repeat(12)}`,
    row('Successful requests:', r.completed),
    row('Failed requests:', r.failed),
    row('Maximum request concurrency:', r.max_concurrency),
    row('Request rate (req/s):', r.request_rate === 'inf' ? 'inf' : f2(r.request_rate)),
    row('Benchmark duration (s):', f2(r.duration)),
    row('Total input tokens:', r.total_input_tokens),
    row('Total generated tokens:', r.total_output_tokens),
    row('Request throughput (req/s):', f2(r.request_throughput)),
    row('Output token throughput (tok/s):', f2(r.output_throughput)),
    row('Peak output token throughput (tok/s):', f2(r.max_output_tokens_per_s)),
    row('Peak concurrent requests:', r.max_concurrent_requests),
    row('Total Token throughput (tok/s):', f2(r.total_token_throughput)),
  ];
  const metric = (title: string, key: 'ttft' | 'tpot' | 'itl' | 'e2el', name: string): void => {
    lines.push(section(title));
    lines.push(row(`Mean ${name} (ms):`, f2(r[`mean_${key}_ms`])));
    lines.push(row(`Median ${name} (ms):`, f2(r[`median_${key}_ms`])));
    lines.push(row(`P95 ${name} (ms):`, f2(r[`p95_${key}_ms`])));
    lines.push(row(`P99 ${name} (ms):`, f2(r[`p99_${key}_ms`])));
  };
  metric('Time to First Token', 'ttft', 'TTFT');
  metric('Time per Output Token (excl. 1st token)', 'tpot', 'TPOT');
  metric('Inter-token Latency', 'itl', 'ITL');
  metric('End-to-end Latency', 'e2el', 'E2EL');
  lines.push('='.repeat(50));
  if (r.errors.length > 0) lines.push(`first error: ${r.errors[0]}`);
  return lines.join('\n');
}

/** One line per level: the summary to compare levels at a glance (markdown table). */
export function formatSummaryTable(levels: readonly LevelResult[]): string {
  const header = ['conc', 'ok', 'fail', 'req/s', 'out tok/s', 'TTFT mean', 'TTFT p50', 'TTFT p99', 'TPOT mean', 'TPOT p99', 'ITL mean', 'ITL p99', 'E2E mean', 'E2E p99'];
  const rows = levels.map((r) => [
    String(r.max_concurrency), String(r.completed), String(r.failed), f2(r.request_throughput), f2(r.output_throughput),
    f2(r.mean_ttft_ms), f2(r.median_ttft_ms), f2(r.p99_ttft_ms), f2(r.mean_tpot_ms), f2(r.p99_tpot_ms),
    f2(r.mean_itl_ms), f2(r.p99_itl_ms), f2(r.mean_e2el_ms), f2(r.p99_e2el_ms),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padStart(widths[i] ?? 0)).join(' | ')} |`;
  return [
    '(latencies in ms)',
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 1) + ':').join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}
