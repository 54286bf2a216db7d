// Process-wide settings read from the environment, in one place.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = resolve(fileURLToPath(import.meta.url), '..', '..');

/** Directory with the shared real test models (KVSERVE_MODELS_DIR, default ../shared/models). */
export function sharedModelsDir(): string {
  return resolve(process.env.KVSERVE_MODELS_DIR ?? resolve(packageRoot, '..', 'shared', 'models'));
}

export function packageRootDir(): string {
  return packageRoot;
}

/** kvserve's own cache (the demo model): KVSERVE_CACHE_DIR, else $XDG_CACHE_HOME/kvserve, else ~/.cache/kvserve. */
export function kvserveCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KVSERVE_CACHE_DIR) return resolve(env.KVSERVE_CACHE_DIR);
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kvserve');
}
