// `kvserve serve` as a child process (through tsx, from lib/cli/main.ts): its JSON log lines, a wait
// for a given line, and its exit code.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface LogLine {
  msg: string;
  [key: string]: unknown;
}

export interface ServeProcess {
  child: ChildProcess;
  logs: LogLine[];
  stderr(): string;
  waitFor(pred: (l: LogLine) => boolean): Promise<LogLine>;
  exit: Promise<number | null>;
}

/** Starts `kvserve serve <args>`; `env` is added to this process's environment. */
export function startServe(args: string[], env: Record<string, string | undefined> = {}): ServeProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'lib/cli/main.ts', 'serve', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const logs: LogLine[] = [];
  const waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  let buffered = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        continue;
      }
      logs.push(parsed);
      for (const w of [...waiters]) {
        if (w.pred(parsed)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(parsed);
        }
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => { err += chunk.toString('utf8'); });
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    logs,
    stderr: () => err,
    exit,
    waitFor: (pred) => {
      const found = logs.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        waiters.push({ pred, resolve });
        void exit.then((code) => reject(new Error(`server exited (${code}) before the expected log line; stderr: ${err}`)));
      });
    },
  };
}
