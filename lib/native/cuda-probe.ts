// Whether the CUDA backend can run here, and loading it. The CUDA addon (build-cuda/Release/
// kvserve_cuda.node, `npm run build:cuda`) is used only when (1) it exists, (2) an NVIDIA kernel driver
// is present, and (3) a child process that loads the addon and calls its cudaProbe() export reports a
// usable GPU (compute capability 8.0+). The probe runs in a child so that a broken driver or runtime,
// which can crash or hang inside the CUDA library, costs a failed probe instead of the server.
// Every reason for "no" is kept, so `--device cuda` and `kvserve doctor` can say what is missing.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRootDir } from '../config.js';
import { KvserveError } from '../errors.js';
import { logger } from '../log.js';
import type { CudaProbeResult, NativeAddon } from './types.js';

/** 'auto': CUDA when it can run, else CPU. 'cpu' / 'cuda': that backend or an error saying why not. */
export type DevicePreference = 'auto' | 'cpu' | 'cuda';

export interface CudaAvailability {
  available: boolean;
  addonPath: string;
  /** Why the CUDA backend cannot run (empty when available). */
  reasons: string[];
  /** The NVIDIA driver's version line, when there is one. */
  driver?: string;
  /** What the probe child reported, when it ran. */
  probe?: CudaProbeResult;
}

const require = createRequire(import.meta.url);
const PROBE_TIMEOUT_MS = 30_000;

/**
 * Where the CUDA addon lives: KVSERVE_CUDA_ADDON (tests, custom builds), else KVSERVE_NATIVE_PATH when
 * set (a user who names a binary gets that one, so it is what gets probed), else the source build.
 */
export function cudaAddonPath(): string {
  return (
    process.env.KVSERVE_CUDA_ADDON ??
    process.env.KVSERVE_NATIVE_PATH ??
    join(packageRootDir(), 'build-cuda', 'Release', 'kvserve_cuda.node')
  );
}

/** The NVIDIA kernel driver, from /proc/driver/nvidia/version (Linux) or the device node. */
export function nvidiaDriver(): { present: boolean; detail: string } {
  if (process.platform !== 'linux') {
    return { present: process.platform === 'win32', detail: `${process.platform}: no driver check; the probe decides` };
  }
  try {
    const line = readFileSync('/proc/driver/nvidia/version', 'utf8').split('\n')[0]?.trim() ?? '';
    return { present: true, detail: line };
  } catch {
    if (existsSync('/dev/nvidiactl')) return { present: true, detail: '/dev/nvidiactl present' };
    return { present: false, detail: 'no NVIDIA kernel driver (/proc/driver/nvidia/version and /dev/nvidiactl are absent)' };
  }
}

/**
 * Loads the addon at `path` in a child process and returns its cudaProbe() report, or the reason the
 * child failed (crash, timeout, load error).
 */
export function probeCudaAddon(path: string, timeoutMs = PROBE_TIMEOUT_MS): { result?: CudaProbeResult; failure?: string } {
  const script = `const a = require(${JSON.stringify(path)});
if (typeof a.cudaProbe !== 'function') { process.stderr.write('the addon has no cudaProbe export (not a CUDA build)'); process.exit(3); }
process.stdout.write(JSON.stringify(a.cudaProbe()));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: timeoutMs, windowsHide: true });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
    return { failure: `the CUDA probe process did not finish in ${timeoutMs} ms (a hung driver?)` };
  }
  if (r.signal) return { failure: `the CUDA probe process was killed by ${r.signal} (a crash in the CUDA driver or runtime)` };
  if (r.status !== 0) {
    const why = (r.stderr || '').trim().split('\n').find((l) => l.trim().length > 0) ?? `exit status ${r.status}`;
    return { failure: `loading ${path} failed: ${why}` };
  }
  try {
    return { result: JSON.parse(r.stdout) as CudaProbeResult };
  } catch {
    return { failure: `the CUDA probe printed no report: ${r.stdout.slice(0, 200)}` };
  }
}

let availability: CudaAvailability | null = null;

/** Whether the CUDA backend can run here (checked once per process; see the file comment). */
export function cudaAvailability(options: { refresh?: boolean; skipDriverCheck?: boolean } = {}): CudaAvailability {
  if (availability && !options.refresh) return availability;
  const addonPath = cudaAddonPath();
  const result: CudaAvailability = { available: false, addonPath, reasons: [] };
  if (!existsSync(addonPath)) {
    result.reasons.push(`${addonPath} not found: build the CUDA addon with \`npm run build:cuda\` (needs nvcc and cmake)`);
  }
  const driver = nvidiaDriver();
  if (driver.present) result.driver = driver.detail;
  else if (!options.skipDriverCheck && process.env.KVSERVE_CUDA_SKIP_DRIVER_CHECK !== '1') result.reasons.push(driver.detail);
  if (result.reasons.length === 0) {
    const probe = probeCudaAddon(addonPath);
    if (probe.failure) result.reasons.push(probe.failure);
    if (probe.result) {
      result.probe = probe.result;
      if (!probe.result.ok) result.reasons.push(`CUDA runtime: ${probe.result.error}`);
    }
  }
  result.available = result.reasons.length === 0;
  availability = result;
  return result;
}

let cudaAddon: NativeAddon | null = null;

/**
 * The CUDA addon when `device` allows it and it can run; null means "use the CPU addon". With
 * device 'cuda' an unavailable backend throws ERR_NATIVE_CUDA_UNAVAILABLE listing every reason.
 */
export function selectCudaAddon(device: DevicePreference): NativeAddon | null {
  if (device === 'cpu') return null;
  if (cudaAddon) return cudaAddon;
  const a = cudaAvailability();
  if (!a.available) {
    if (device === 'cuda') throw cudaUnavailable(a.reasons);
    logger().debug({ reasons: a.reasons }, 'CUDA backend unavailable; using the CPU addon');
    return null;
  }
  try {
    cudaAddon = require(a.addonPath) as NativeAddon;
    return cudaAddon;
  } catch (err) {
    const reason = `loading ${a.addonPath} failed: ${(err as Error).message.split('\n')[0]}`;
    if (device === 'cuda') throw cudaUnavailable([reason]);
    logger().warn({ reason }, 'CUDA addon passed its probe but failed to load; using the CPU addon');
    return null;
  }
}

function cudaUnavailable(reasons: string[]): KvserveError {
  return new KvserveError(
    'ERR_NATIVE_CUDA_UNAVAILABLE',
    [
      'device cuda: the CUDA backend cannot run here:',
      ...reasons.map((r) => `  - ${r}`),
      'Fix: run on a machine with an NVIDIA GPU (compute capability 8.0+) and its driver, build the CUDA addon with `npm run build:cuda`, or use --device cpu.',
    ].join('\n'),
  );
}
