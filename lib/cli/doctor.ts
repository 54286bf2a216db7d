// `kvserve doctor`: what this machine is and which native binary kvserve runs. Exit code 1 when no
// native binary loads (the report says what was tried and how to fix it).
import { cpus } from 'node:os';
import { loadedNative } from '../native/load.js';
import { gpuInfo } from '../native/gpu-info.js';
import { describePlatform, runtimePlatform } from '../native/platform.js';
import { packageRootDir } from '../config.js';
import { cudaAvailability } from '../native/cuda-probe.js';

import { packageVersion } from './version.js';

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log('usage: kvserve doctor\n\nPrints the platform, CPU features, the native binary and backend in use, and the NVIDIA driver and GPUs.');
    return 0;
  }
  const lines: string[] = [];
  let status = 0;
  lines.push(`kvserve ${packageVersion()} (${packageRootDir()})`);
  lines.push(`platform: ${describePlatform(runtimePlatform())}`);
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
    const native = loadedNative();
    const f = native.addon.cpuInfo;
    const features = (['avx2', 'avx512', 'avx512vnni', 'avx512bf16', 'avxvnni'] as const).filter((k) => f[k]);
    lines.push(`cpu features: ${features.join(' ') || 'none beyond x86-64 baseline'}`);
    lines.push(`native binary: ${native.path} (${native.label})`);
    // Binaries that exist but failed to load before this one (a missing source build is normal).
    for (const a of native.attempts.filter((x) => x.path)) lines.push(`  not used: ${a.label}: ${a.path}: ${a.reason}`);
    const isaOverride = process.env.KVSERVE_ISA ? ` (KVSERVE_ISA=${process.env.KVSERVE_ISA})` : '';
    lines.push(`backend: ${native.addon.backend}; kernel variants this CPU runs: ${f.supportedIsas.join(', ')}; chosen: ${f.bestIsa}${isaOverride}`);
  } catch (err) {
    lines.push(`native addon: NOT LOADED\n${(err as Error).message}`);
    status = 1;
  }
  const gpu = gpuInfo();
  if (gpu.devices.length > 0 || gpu.driverVersion) {
    lines.push(`nvidia driver: ${gpu.driverVersion ?? 'unknown'}`);
    gpu.devices.forEach((d, i) => {
      const memory = d.memoryMiB !== null ? `, ${(d.memoryMiB / 1024).toFixed(1)} GiB` : '';
      const cc = d.computeCapability ? `, compute capability ${d.computeCapability}` : '';
      lines.push(`gpu ${i}: ${d.name}${memory}${cc}`);
    });
    for (const note of gpu.notes) lines.push(`  (${note})`);
  } else {
    lines.push(`gpu: none found (${gpu.notes.join('; ')})`);
  }
  console.log(lines.join('\n'));
  return status;
}
