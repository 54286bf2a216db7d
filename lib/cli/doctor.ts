// `kvserve doctor`: what this machine is and which native binary kvserve runs.
import { cpus } from 'node:os';
import { cudaAvailability } from '../native/cuda-probe.js';
import { loadNativeAddon } from '../native/load.js';
import { packageVersion } from './version.js';

export async function run(_argv: string[]): Promise<number> {
  const lines: string[] = [];
  lines.push(`kvserve ${packageVersion()}`);
  lines.push(`platform: ${process.platform}-${process.arch}, Node ${process.version} (ABI ${process.versions.modules}, N-API ${process.versions.napi})`);
  lines.push(`cpu: ${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}`);
  const cuda = cudaAvailability();
  if (cuda.available) {
    const p = cuda.probe;
    lines.push(`cuda: available (${cuda.addonPath}); driver ${p?.driverVersion ?? '?'}, runtime ${p?.runtimeVersion ?? '?'}; ${p?.devices.join('; ') ?? ''}`);
  } else {
    lines.push(`cuda: not used${cuda.driver ? ` (driver: ${cuda.driver})` : ''}:`);
    for (const reason of cuda.reasons) lines.push(`  - ${reason}`);
  }
  try {
    const addon = loadNativeAddon();
    const f = addon.cpuInfo;
    const features = (['avx2', 'avx512', 'avx512vnni', 'avx512bf16', 'avxvnni'] as const).filter((k) => f[k]);
    lines.push(`cpu features: ${features.join(' ') || 'none beyond x86-64 baseline'}`);
    lines.push(`backend: ${addon.backend}; kernel variants: ${f.supportedIsas.join(', ')}; chosen: ${f.bestIsa}`);
  } catch (err) {
    lines.push(`native addon: NOT LOADED\n${(err as Error).message}`);
    console.log(lines.join('\n'));
    return 1;
  }
  console.log(lines.join('\n'));
  return 0;
}
