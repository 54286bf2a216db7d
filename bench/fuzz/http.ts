// HTTP fuzzing bench: at least --per-route malformed requests to each registered route (GET and
// POST; test/helpers/http-fuzz-cases.ts generates them, seeded: wrong types, missing fields, NaN and
// huge numbers, negative values, deep nesting, 10 MB bodies, invalid UTF-8, unknown fields, bad
// headers, truncated, trickled and stalled bodies) against a real server on 127.0.0.1 (stories260K),
// over raw sockets, with well-formed requests alongside. Prints, per route, how many requests it got
// and their statuses, and every response that was not a 4xx with an error body in the route's
// protocol; then whether the well-formed requests matched their references and the server stayed up.
// test/server/http-fuzz.test.ts is the reduced run in CI (1,100 requests).
//
//   node --import tsx bench/fuzz/http.ts [--per-route 1000] [--seed 8] [--concurrency 12]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Engine } from '../../lib/engine/engine.js';
import { buildApp } from '../../lib/server/app.js';
import { sharedModelsDir } from '../../lib/config.js';
import { concretePath, generateCases, problemWith, type FuzzCase } from '../../test/helpers/http-fuzz-cases.js';
import { rawRequest } from '../../test/helpers/raw-http.js';
import { runWellFormed, wellFormedRequests, wellFormedTraffic } from '../../test/helpers/well-formed.js';
import { printTable } from '../lib/stats.js';

const { values } = parseArgs({
  options: {
    'per-route': { type: 'string', default: '1000' },
    seed: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '12' },
    model: { type: 'string', default: join(sharedModelsDir(), 'stories260K', 'stories260K.gguf') },
  },
});
const perRoute = Number(values['per-route']);
const seed = Number(values.seed);
const BODY_LIMIT = 10 * 1024 * 1024;
const MAX_HEADER_SIZE = 8192;
const TEMPLATE = '{% for m in messages %}{{ m.content }}{% endfor %}';

const engine = await Engine.create({ model: values.model as string, maxModelLen: 256, kvCacheMemory: '4MiB', kvCacheDtype: 'f32', threads: 1, maxNumSeqs: 16, chatTemplate: TEMPLATE });
const app = buildApp(engine, { servedModelNames: ['stories'], chatTemplate: TEMPLATE, processMetrics: false, requestTimeoutMs: 1500, maxHeaderSize: MAX_HEADER_SIZE, bodyLimit: BODY_LIMIT });
const url = await app.listen({ host: '127.0.0.1', port: 0 });
const port = Number(new URL(url).port);
const routes = app.kvserve.routes.filter((r) => r.method === 'GET' || r.method === 'POST');

const labelOf = new Map<string, string>();
for (const r of routes) labelOf.set(concretePath(r.url), `${r.method} ${r.url}`);
const labelFor = (c: FuzzCase): string => (c.path === null ? '(unparseable request line)' : (labelOf.get(c.path.split('?')[0] as string) ?? '(other paths)'));

// Cases aimed at each route in turn. Some name another path (a broken request line, an unknown path,
// another method) and count there; each route gets more until at least --per-route name it.
const cases: FuzzCase[] = [];
const limits = { bodyLimit: BODY_LIMIT, maxHeaderSize: MAX_HEADER_SIZE };
routes.forEach((route, i) => {
  const label = `${route.method} ${route.url}`;
  const first = generateCases([route], perRoute, seed * 1000 + i, limits);
  cases.push(...first);
  let numHere = first.filter((c) => labelFor(c) === label).length;
  for (let round = 1; numHere < perRoute && round < 20; round++) {
    const more = generateCases([route], 2 * (perRoute - numHere), seed * 1000 + i + round * 100_000, limits).filter((c) => labelFor(c) === label);
    const add = more.slice(0, perRoute - numHere);
    cases.push(...add);
    numHere += add.length;
  }
});

// Shuffle (seeded) so that slow cases spread over the run.
let state = seed >>> 0 || 1;
const rand = (): number => ((state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32);
for (let i = cases.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [cases[i], cases[j]] = [cases[j] as FuzzCase, cases[i] as FuzzCase];
}

const wellFormed = wellFormedRequests(['Once upon a time', 'The little dog', 'Lily and Ben went to the park'], 12);
const reference = new Map<string, string>();
for (const r of wellFormed) reference.set(r.name, await runWellFormed(url, r));

const traffic = wellFormedTraffic(url, wellFormed, reference);

const byRoute = new Map<string, { count: number; statuses: Map<number, number>; problems: number }>();
const problems: string[] = [];
const start = performance.now();
let next = 0;
let done = 0;
await Promise.all(Array.from({ length: Number(values.concurrency) }, async () => {
  while (next < cases.length) {
    const c = cases[next++] as FuzzCase;
    const res = await rawRequest(port, c.bytes, c.send);
    const label = labelFor(c);
    const row = byRoute.get(label) ?? { count: 0, statuses: new Map<number, number>(), problems: 0 };
    byRoute.set(label, row);
    row.count++;
    row.statuses.set(res.status, (row.statuses.get(res.status) ?? 0) + 1);
    const problem = problemWith(c, res);
    if (problem) {
      row.problems++;
      problems.push(`${c.name}: ${problem}`);
    }
    if (++done % 2000 === 0) process.stderr.write(`  ${done}/${cases.length}\n`);
  }
}));
const { count: numWellFormed, mismatches } = await traffic.stop();
const seconds = (performance.now() - start) / 1000;
const healthAfter = (await fetch(`${url}/health`)).status;
const after: string[] = [];
for (const r of wellFormed.slice(0, 7)) if ((await runWellFormed(url, r)) !== reference.get(r.name)) after.push(r.name);
await new Promise((r) => setTimeout(r, 200));
const stats = engine.stats();

const rows = [...byRoute].sort(([a], [b]) => a.localeCompare(b)).map(([label, row]) => [
  label, String(row.count), [...row.statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}:${n}`).join(' '), String(row.problems),
]);
printTable(['route', 'requests', 'statuses', 'not a 4xx in shape'], rows);
const total = cases.length;
const statuses = new Map<number, number>();
for (const row of byRoute.values()) for (const [s, n] of row.statuses) statuses.set(s, (statuses.get(s) ?? 0) + n);
console.log(`\n${total} malformed requests (at least ${perRoute} to each of ${routes.length} routes) in ${seconds.toFixed(1)} s, ${(total / seconds).toFixed(0)}/s; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);
console.log(`mishandled: ${problems.length}`);
for (const p of problems.slice(0, 20)) console.log(`  ${p}`);
console.log(`well-formed requests alongside: ${numWellFormed}, different from their reference: ${mismatches.length}`);
for (const m of mismatches.slice(0, 10)) console.log(`  ${m}`);
console.log(`after: /health ${healthAfter}; well-formed requests exact: ${7 - after.length}/7; running ${stats.numRunning}, waiting ${stats.numWaiting}, KV blocks used ${stats.kvBlocksUsed}`);
const ok = problems.length === 0 && mismatches.length === 0 && healthAfter === 200 && after.length === 0 && stats.numRunning + stats.numWaiting + stats.kvBlocksUsed === 0;
console.log(ok ? 'PASS' : 'FAIL');
await app.close();
await engine.close();
process.exitCode = ok ? 0 : 1;
