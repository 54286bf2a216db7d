import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRootDir } from '../config.js';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRootDir(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}
