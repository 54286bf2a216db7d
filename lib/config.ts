// Process-wide settings read from the environment, in one place.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = resolve(fileURLToPath(import.meta.url), '..', '..');

/** Directory with the shared real test models (KVSERVE_MODELS_DIR, default ../shared/models). */
export function sharedModelsDir(): string {
  return resolve(process.env.KVSERVE_MODELS_DIR ?? resolve(packageRoot, '..', 'shared', 'models'));
}

export function packageRootDir(): string {
  return packageRoot;
}
