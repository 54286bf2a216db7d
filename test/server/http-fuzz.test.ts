// HTTP fuzzing: over 1,000 malformed requests per run (test/helpers/http-fuzz-cases.ts, seeded) against
// every registered route, over raw sockets: each gets a 4xx with an error body in its protocol's shape
// (OpenAI {error:{message,type,...}}, TGI {error, error_type}, KServe {error}); the server stays up;
// and well-formed requests sent alongside (streamed, non-streamed, trickled) produce exactly the text
// they produce alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateCases, problemWith } from '../helpers/http-fuzz-cases.js';
import { rawRequest } from '../helpers/raw-http.js';
import { eventually, servedModel } from '../helpers/serving.js';
import { runWellFormed, wellFormedRequests, wellFormedTraffic } from '../helpers/well-formed.js';

const NUM_CASES = Number(process.env.KVSERVE_HTTP_FUZZ_CASES ?? 1100);
const SEED = Number(process.env.KVSERVE_HTTP_FUZZ_SEED ?? 8);
const BODY_LIMIT = 10 * 1024 * 1024;
const MAX_HEADER_SIZE = 8192;
const served = servedModel({ kvCacheDtype: 'f32', maxNumSeqs: 16 }, { requestTimeoutMs: 1500, maxHeaderSize: MAX_HEADER_SIZE, bodyLimit: BODY_LIMIT });

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  }));
}

test(`HTTP fuzz: ${NUM_CASES} malformed requests over every route get a 4xx in their protocol's shape; the server stays up; well-formed requests alongside are unaffected`, { timeout: 600_000 }, async (t) => {
  const s = await served(t);
  if (!s) return;
  const port = Number(new URL(s.url).port);
  const routes = s.app.kvserve.routes.filter((r) => r.method === 'GET' || r.method === 'POST');
  const cases = generateCases(routes, NUM_CASES, SEED, { bodyLimit: BODY_LIMIT, maxHeaderSize: MAX_HEADER_SIZE });
  assert.ok(cases.length >= NUM_CASES);
  const covered = new Set(cases.map((c) => c.path).filter((p): p is string => p !== null));
  for (const r of routes) {
    assert.ok([...covered].some((p) => p === r.url.replace(':model', 'stories').replace(':version', '1')), `no case for ${r.method} ${r.url}`);
  }

  // References: each well-formed request alone, before any load.
  const wellFormed = wellFormedRequests(['Once upon a time', 'The little dog', 'Lily and Ben went to the park'], 12);
  const reference = new Map<string, string>();
  for (const r of wellFormed) reference.set(r.name, await runWellFormed(s.url, r));

  // Well-formed traffic alongside the fuzz, until it is over.
  const traffic = wellFormedTraffic(s.url, wellFormed, reference);

  const failures: string[] = [];
  const byStatus = new Map<number, number>();
  const start = performance.now();
  await pool(cases, 12, async (c) => {
    const r = await rawRequest(port, c.bytes, c.send);
    byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    const problem = problemWith(c, r);
    if (problem) failures.push(`${c.name}: ${problem}`);
  });
  const { count: numWellFormed, mismatches } = await traffic.stop();
  t.diagnostic(`${cases.length} malformed requests in ${((performance.now() - start) / 1000).toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...byStatus].sort()))}; ${numWellFormed} well-formed requests alongside`);

  assert.deepEqual(failures.slice(0, 15), [], `${failures.length} of ${cases.length} malformed requests were mishandled`);
  assert.deepEqual(mismatches, []);
  assert.ok(numWellFormed >= wellFormed.length, `only ${numWellFormed} well-formed requests ran alongside`);
  // Still up, and nothing left behind.
  assert.equal((await fetch(`${s.url}/health`)).status, 200);
  for (const r of wellFormed.slice(0, 7)) assert.equal(await runWellFormed(s.url, r), reference.get(r.name));
  await eventually(() => {
    const st = s.engine.stats();
    return st.numRunning === 0 && st.numWaiting === 0 && st.kvBlocksUsed === 0;
  }, 'the engine to be idle with no KV blocks in use');
});
