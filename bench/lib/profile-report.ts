// Prints a step profile (bench/lib/profile.ts): per op, summed over layers, the median ms per step,
// its share, and the stepping thread's CPU ms, for each scenario; the matmul throughput against the
// machine's limits; per-layer totals.
import type { MachineLimits } from './machine.js';
import type { ProfileResult, ScenarioProfile } from './profile.js';
import { fmt } from './stats.js';
import type { TokenCost } from './synthetic-models.js';

export const MATMUL_OPS = new Set(['qkv', 'o', 'gate_up', 'down', 'lm_head']);

/** Total ns per step of each op name (layer ops summed over layers), in forward order; cpu: the
 * stepping thread's CPU time instead of wall time. */
export function opTotals(p: ProfileResult, s: ScenarioProfile, cpu = false): Map<string, number> {
  const totals = new Map<string, number>();
  const n = p.layerOps.length;
  const layer = cpu ? s.layerCpuNs : s.layerNs;
  p.layerOps.forEach((name, i) => {
    let sum = 0;
    for (let l = 0; l < p.numLayers; l++) sum += layer[l * n + i] ?? 0;
    totals.set(name, sum);
  });
  p.stepOps.forEach((name, i) => totals.set(name, (cpu ? s.stepCpuNs : s.stepNs)[i] ?? 0));
  return totals;
}

export function matmulSeconds(p: ProfileResult, s: ScenarioProfile): number {
  let ns = 0;
  for (const [name, v] of opTotals(p, s)) if (MATMUL_OPS.has(name)) ns += v;
  return ns / 1e9;
}

export function printProfile(title: string, p: ProfileResult, cost: TokenCost, quantized: boolean, machine: MachineLimits, perLayer: boolean): void {
  const totals = p.scenarios.map((s) => opTotals(p, s));
  const cpuTotals = p.scenarios.map((s) => opTotals(p, s, true));
  const sum = (m: Map<string, number> | undefined): number => [...(m?.values() ?? [])].reduce((a, b) => a + b, 0);
  const names = [...(totals[0]?.keys() ?? [])].filter((n) => totals.some((t) => (t.get(n) ?? 0) > 0));
  const header = ['op', ...p.scenarios.flatMap((s) => [`${label(s)} ms`, '%', 'cpu ms'])];
  const rows: string[][] = names.map((name) => [
    name,
    ...p.scenarios.flatMap((s, i) => {
      const v = totals[i]?.get(name) ?? 0;
      return [fmt(v / 1e6, 3), fmt((100 * v) / sum(totals[i]), 1), fmt((cpuTotals[i]?.get(name) ?? 0) / 1e6, 3)];
    }),
  ]);
  rows.push(['sum of ops', ...p.scenarios.flatMap((_, i) => [fmt(sum(totals[i]) / 1e6, 3), '', fmt(sum(cpuTotals[i]) / 1e6, 3)])]);
  rows.push(['native step', ...p.scenarios.flatMap((s) => [fmt(s.stepMs, 3), '', ''])]);
  // Matmul throughput: decode of one sequence streams weights (GB/s against read bandwidth); batched
  // decode and prefill are compute bound (GFLOP/s against the f32 FMA or int8 dot-product peak).
  const peak = quantized ? machine.dotI8Gops : machine.fmaF32Gflops;
  rows.push([
    'matmul rate',
    ...p.scenarios.flatMap((s) => {
      const sec = matmulSeconds(p, s);
      if (s.numTokens === 1) {
        const gbs = cost.weightBytes / sec / 1e9;
        return [`${fmt(gbs)} GB/s`, `${fmt((100 * gbs) / machine.readGBs, 0)}%bw`, ''];
      }
      const gflops = (2 * cost.macs * s.numTokens) / sec / 1e9;
      return [`${fmt(gflops)} GF/s`, `${fmt((100 * gflops) / peak, 0)}%pk`, ''];
    }),
  ]);
  console.log(`\n${title}`);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (c: string[]): string => c.map((x, i) => (i === 0 ? x.padEnd(widths[i] as number) : x.padStart(widths[i] as number))).join('  ');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  if (perLayer) {
    for (const s of p.scenarios) {
      const n = p.layerOps.length;
      const layers = Array.from({ length: p.numLayers }, (_, l) => s.layerNs.slice(l * n, (l + 1) * n).reduce((a, b) => a + b, 0) / 1e6);
      console.log(`per layer, ${label(s)} (ms): ${layers.map((v) => fmt(v, 3)).join(' ')}`);
    }
  }
}

function label(s: ScenarioProfile): string {
  return s.name === 'decode1' ? 'decode 1' : s.name === 'decodeN' ? `decode ${s.numTokens}` : `prefill ${s.numTokens}`;
}
