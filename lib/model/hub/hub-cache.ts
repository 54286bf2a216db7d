// The Hugging Face cache layout (https://huggingface.co/docs/hub/local-cache):
//   <cache>/models--org--name/blobs/<etag>                 file contents (etag = sha256 for LFS files, git blob id otherwise)
//   <cache>/models--org--name/snapshots/<commit>/<file>    relative symlink to the blob (nested paths keep their folders)
//   <cache>/models--org--name/refs/<revision>              the commit a branch or tag pointed to (none for commit hashes)
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

export function repoFolderName(repoId: string): string {
  return `models--${repoId.replace(/\//g, '--')}`;
}

export function repoCacheDir(cacheDir: string, repoId: string): string {
  return join(cacheDir, repoFolderName(repoId));
}

export function isCommitHash(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}

/** The commit a revision points to in the cache, or null. */
export function cachedCommit(repoDir: string, revision: string): string | null {
  if (isCommitHash(revision)) return existsSync(join(repoDir, 'snapshots', revision)) ? revision : null;
  try {
    const commit = readFileSync(join(repoDir, 'refs', revision), 'utf8').trim();
    return isCommitHash(commit) ? commit : null;
  } catch {
    return null;
  }
}

/** Records revision -> commit (branches and tags only; "refs/pr/1" nests as refs/refs/pr/1, as huggingface_hub). */
export function writeRef(repoDir: string, revision: string, commit: string): void {
  if (isCommitHash(revision) || cachedCommit(repoDir, revision) === commit) return;
  const ref = join(repoDir, 'refs', revision);
  mkdirSync(dirname(ref), { recursive: true });
  const tmp = `${ref}.${process.pid}.tmp`;
  writeFileSync(tmp, commit);
  renameSync(tmp, ref);
}

/** True when snapshots/<commit>/<file> exists and resolves to a file (a dangling link counts as absent). */
export function snapshotHasFile(repoDir: string, commit: string, file: string): boolean {
  try {
    return statSync(join(repoDir, 'snapshots', commit, file)).isFile();
  } catch {
    return false;
  }
}

/** Points snapshots/<commit>/<file> at blobs/<etag> (a relative symlink; a copy where links fail). */
export function linkSnapshotFile(repoDir: string, commit: string, file: string, etag: string): string {
  const target = join(repoDir, 'snapshots', commit, file);
  const blob = join(repoDir, 'blobs', etag);
  const link = relative(dirname(target), blob);
  mkdirSync(dirname(target), { recursive: true });
  try {
    if (lstatSync(target).isSymbolicLink() && readlinkSync(target) === link) return target;
    unlinkSync(target);
  } catch {
    // absent
  }
  try {
    symlinkSync(link, target);
  } catch (err) {
    // Another process linked it in the meantime, or this file system has no symlinks.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' && existsSync(target)) return target;
    copyFileSync(blob, target);
  }
  return target;
}

/** Files present in a snapshot, relative to it (recursive; dangling links are left out). */
export function snapshotFiles(snapshotDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      let isDir: boolean;
      try {
        isDir = statSync(p).isDirectory();
      } catch {
        continue; // a link to a blob that was deleted
      }
      if (isDir) walk(p);
      else out.push(relative(snapshotDir, p));
    }
  };
  if (existsSync(snapshotDir)) walk(snapshotDir);
  return out.sort();
}
