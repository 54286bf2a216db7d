// Building and running the native libFuzzer targets (native/fuzz), shared by the bench script and the
// short CI test: `make` builds them with clang (ASan + UBSan), seeds come from ../shared/models
// (native-seeds.ts), and a run reports libFuzzer's own figures.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
export const NATIVE_TARGETS = ['weights', 'step_input', 'sample_params', 'dequantize'] as const;
export type NativeTarget = (typeof NATIVE_TARGETS)[number];

export function clangAvailable(): boolean {
  return spawnSync('clang++', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Builds every target (incremental); throws with make's output on failure. */
export function buildNativeFuzzers(): void {
  const r = spawnSync('make', ['-C', join(ROOT, 'native', 'fuzz'), '-j2'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building the native fuzzers failed:\n${r.stdout}\n${r.stderr}`);
}

export function binary(target: NativeTarget): string {
  return join(ROOT, 'build-fuzz', `fuzz_${target}`);
}

/** Writes the seed corpora under `dir`/<target>. */
export function writeNativeSeeds(dir: string): void {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'fuzz', 'native-seeds.ts'), dir], { encoding: 'utf8', cwd: ROOT });
  if (r.status !== 0) throw new Error(`writing native fuzz seeds failed:\n${r.stdout}\n${r.stderr}`);
}

export function regressionInputs(target: NativeTarget): string[] {
  const dir = join(ROOT, 'native', 'fuzz', 'regressions', target);
  return existsSync(dir) ? readdirSync(dir).sort().map((f) => join(dir, f)) : [];
}

export interface LibFuzzerResult {
  exitCode: number | null;
  executions: number;
  execsPerSecond: number;
  coverage: number;
  features: number;
  corpus: number;
  output: string;
}

/** Runs a libFuzzer binary with `args`; parses its final statistics. */
export async function runLibFuzzer(target: NativeTarget, args: string[], workDir: string): Promise<LibFuzzerResult> {
  mkdirSync(workDir, { recursive: true });
  const child = spawn(binary(target), ['-print_final_stats=1', ...args], {
    cwd: workDir,
    env: { ...process.env, KVSERVE_FUZZ_TMP: existsSync('/dev/shm') ? '/dev/shm' : workDir },
  });
  let output = '';
  const keep = (d: Buffer): void => { output = (output + d.toString()).slice(-200_000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exitCode = await new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const stat = (name: string): number => Number(new RegExp(`stat::${name}:\\s+(\\d+)`).exec(output)?.[1] ?? NaN);
  const last = [...output.matchAll(/cov: (\d+) ft: (\d+) corp: (\d+)/g)].pop();
  return {
    exitCode,
    executions: stat('number_of_executed_units'),
    execsPerSecond: stat('average_exec_per_sec'),
    coverage: Number(last?.[1] ?? NaN),
    features: Number(last?.[2] ?? NaN),
    corpus: Number(last?.[3] ?? NaN),
    output,
  };
}
