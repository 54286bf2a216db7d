// NVIDIA driver and GPUs as the system reports them (kernel module version, nvidia-smi), without
// loading any CUDA library: `kvserve doctor` prints it on machines with or without a GPU.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface GpuDevice {
  name: string;
  memoryMiB: number | null;
  computeCapability: string | null;
}

export interface GpuInfo {
  /** NVIDIA kernel driver version, when the driver is loaded. */
  driverVersion: string | null;
  devices: GpuDevice[];
  /** Why the list may be empty or partial (no driver, no nvidia-smi, ...). */
  notes: string[];
}

export function gpuInfo(): GpuInfo {
  const info: GpuInfo = { driverVersion: null, devices: [], notes: [] };
  try {
    // "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 ..."
    const text = readFileSync('/proc/driver/nvidia/version', 'utf8');
    info.driverVersion = /Kernel Module\s+(\S+)/.exec(text)?.[1] ?? null;
  } catch {
    info.notes.push('no NVIDIA kernel driver loaded (/proc/driver/nvidia/version is absent)');
  }
  let csv: string;
  try {
    csv = execFileSync('nvidia-smi', ['--query-gpu=name,memory.total,compute_cap,driver_version', '--format=csv,noheader,nounits'], {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch (err) {
    const code = (err as { code?: string }).code;
    info.notes.push(code === 'ENOENT' ? 'nvidia-smi is not on PATH' : `nvidia-smi failed: ${(err as Error).message.split('\n')[0]}`);
    return info;
  }
  for (const line of csv.split('\n')) {
    if (!line.trim()) continue;
    const [name, memory, cc, driver] = line.split(',').map((s) => s.trim());
    const memoryMiB = Number(memory);
    info.devices.push({
      name: name ?? 'unknown',
      memoryMiB: Number.isFinite(memoryMiB) ? memoryMiB : null,
      computeCapability: cc && cc !== '[N/A]' ? cc : null,
    });
    info.driverVersion ??= driver ?? null;
  }
  return info;
}
