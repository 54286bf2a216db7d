// The Hugging Face cache layout: <cache>/models--org--name/{blobs/<etag>, snapshots/<commit>/<file>
// (a relative symlink to the blob), refs/<revision> (the commit hash)}.
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, unlinkSync, writeFileSync, lstatSync, copyFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

export function repoCacheDir(cacheDir: string, repoId: string): string {
  return join(cacheDir, `models--${repoId.replace(/\//g, '--')}`);
}

export function isCommitHash(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}

/** The commit a revision points to in the cache, or null. */
export function cachedCommit(repoDir: string, revision: string): string | null {
  if (isCommitHash(revision)) return existsSync(join(repoDir, 'snapshots', revision)) ? revision : null;
  const ref = join(repoDir, 'refs', revision);
  if (!existsSync(ref)) return null;
  const commit = readFileSync(ref, 'utf8').trim();
  return isCommitHash(commit) ? commit : null;
}

export function writeRef(repoDir: string, revision: string, commit: string): void {
  if (isCommitHash(revision)) return;
  const ref = join(repoDir, 'refs', revision);
  mkdirSync(dirname(ref), { recursive: true });
  writeFileSync(ref, commit);
}

/** Points snapshots/<commit>/<file> at blobs/<etag> (a relative symlink; a copy where links fail). */
export function linkSnapshotFile(repoDir: string, commit: string, file: string, etag: string): string {
  const target = join(repoDir, 'snapshots', commit, file);
  const blob = join(repoDir, 'blobs', etag);
  mkdirSync(dirname(target), { recursive: true });
  try {
    lstatSync(target);
    unlinkSync(target);
  } catch {
    // absent
  }
  try {
    symlinkSync(relative(dirname(target), blob), target);
  } catch {
    copyFileSync(blob, target);
  }
  return target;
}

/** Files present in a snapshot, relative to it (recursive). */
export function snapshotFiles(snapshotDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(snapshotDir, p));
    }
  };
  if (existsSync(snapshotDir)) walk(snapshotDir);
  return out.sort();
}
