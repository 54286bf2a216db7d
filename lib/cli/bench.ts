// `kvserve bench <kind>`: load benchmarks run from the command line.

const KINDS: Record<string, () => Promise<{ run(argv: string[]): Promise<number> }>> = {
  serve: () => import('./bench-serve.js'),
};

export async function run(argv: string[]): Promise<number> {
  const [kind, ...rest] = argv;
  const load = kind ? KINDS[kind] : undefined;
  if (!load) {
    console.error(`usage: kvserve bench serve [options]   (run 'kvserve bench serve --help')${kind ? `\nunknown benchmark '${kind}'` : ''}`);
    return kind === '--help' || kind === '-h' ? 0 : 2;
  }
  return (await load()).run(rest);
}
