// A cross-process lock on a file path, so that two processes never append to the same partial
// download: the lock file is created exclusively and holds its owner's pid and host. A lock whose
// owner died (a dead pid on this host) or that was not refreshed for `staleMs` (another host) is
// taken over. (huggingface_hub uses flock on .locks/<repo>/<etag>.lock, which Node cannot call;
// ours sits beside it under its own name, so neither tool ever mistakes the other's file for a lock.)
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface FileLockOptions {
  /** Called once when the lock is held by someone else and we start waiting. */
  onWait?: (owner: string) => void;
  pollMs?: number;
  staleMs?: number;
}

interface Owner {
  pid: number;
  host: string;
}

function readOwner(path: string): Owner | null {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Partial<Owner>;
    return typeof o.pid === 'number' && typeof o.host === 'string' ? { pid: o.pid, host: o.host } : null;
  } catch {
    return null;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isStale(path: string, staleMs: number): boolean {
  const owner = readOwner(path);
  if (owner && owner.host === hostname()) return !pidAlive(owner.pid);
  try {
    return Date.now() - statSync(path).mtimeMs > staleMs;
  } catch {
    return false; // gone already: the next exclusive create decides
  }
}

export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, opts: FileLockOptions = {}): Promise<T> {
  const pollMs = opts.pollMs ?? 200;
  const staleMs = opts.staleMs ?? 120_000;
  mkdirSync(dirname(lockPath), { recursive: true });
  const me = JSON.stringify({ pid: process.pid, host: hostname() });
  let waited = false;
  for (;;) {
    try {
      const fd = openSync(lockPath, 'wx');
      try {
        writeSync(fd, me);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (isStale(lockPath, staleMs)) {
      // Rename first: of several waiters that judged it stale, only one moves it away.
      const aside = `${lockPath}.stale-${process.pid}-${Date.now()}`;
      try {
        renameSync(lockPath, aside);
        unlinkSync(aside);
      } catch {
        // someone else took it over first
      }
      continue;
    }
    if (!waited) {
      waited = true;
      const owner = readOwner(lockPath);
      opts.onWait?.(owner ? `pid ${owner.pid} on ${owner.host}` : 'another process');
    }
    await sleep(pollMs);
  }
  // Refresh the lock's mtime so that processes on other hosts sharing the cache do not take it over.
  const heartbeat = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(lockPath, now, now);
    } catch {
      // removed under us: nothing to refresh
    }
  }, Math.max(1000, staleMs / 4));
  heartbeat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
    try {
      if (readFileSync(lockPath, 'utf8') === me) unlinkSync(lockPath);
    } catch {
      // already gone
    }
  }
}
