// Runs the kvserve CLI in a child process: the built dist/cli/main.js when it is newer than every
// lib/ source (as after `npm run build`, which CI runs first), else lib/cli/main.ts through tsx.
// Asynchronous, so that servers in the test process (the fake hub) keep answering meanwhile.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { packageRootDir } from '../../lib/config.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

let entry: string[] | null = null;

function cliEntry(): string[] {
  if (entry) return entry;
  const root = packageRootDir();
  const built = join(root, 'dist', 'cli', 'main.js');
  const fresh = existsSync(built) && statSync(built).mtimeMs >= newestMtime(join(root, 'lib'));
  entry = fresh ? [built] : ['--import', 'tsx', join(root, 'lib', 'cli', 'main.ts')];
  return entry;
}

/** Runs `kvserve <args>` with `env` added to this process's environment. */
export function runCli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cliEntry(), ...args], {
      cwd: packageRootDir(),
      env: { ...process.env, KVSERVE_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
