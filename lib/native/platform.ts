// What this process runs on, as far as choosing a native binary goes: platform, architecture, libc,
// Node ABI and N-API version. Shared by the loader's error report and `kvserve doctor`.

export interface RuntimePlatform {
  platform: NodeJS.Platform;
  arch: string;
  /** 'glibc' | 'musl' on Linux, null elsewhere. */
  libc: 'glibc' | 'musl' | null;
  /** glibc version from Node's report header ("2.36"), when glibc. */
  glibcVersion: string | null;
  nodeVersion: string;
  /** process.versions.modules: the ABI of non-N-API addons. */
  nodeAbi: string;
  napiVersion: string;
}

export function runtimePlatform(): RuntimePlatform {
  let glibcVersion: string | null = null;
  let libc: RuntimePlatform['libc'] = null;
  if (process.platform === 'linux') {
    // Node records the glibc it runs against; musl builds have no such field.
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    glibcVersion = header?.glibcVersionRuntime ?? null;
    libc = glibcVersion ? 'glibc' : 'musl';
  }
  return {
    platform: process.platform,
    arch: process.arch,
    libc,
    glibcVersion,
    nodeVersion: process.version,
    nodeAbi: process.versions.modules,
    napiVersion: process.versions.napi ?? 'unknown',
  };
}

/** "linux-x64, glibc 2.36, Node v20.20.2 (ABI 115, N-API 9)" */
export function describePlatform(p: RuntimePlatform): string {
  const libc = p.libc === 'glibc' ? `glibc ${p.glibcVersion}` : p.libc;
  return [`${p.platform}-${p.arch}`, ...(libc ? [libc] : []), `Node ${p.nodeVersion} (ABI ${p.nodeAbi}, N-API ${p.napiVersion})`].join(', ');
}
