// One request's failure stays that request's: on the real engine and server with stories260K,
// faults injected through real means. A native step given a malformed input (the real addon rejects
// it) fails exactly the requests of that step with ERR_NATIVE_STEP while the engine serves the rest
// and later requests exactly; a detokenizer that throws on one request's token fails that request
// alone (ERR_ENGINE_REQUEST_FAILED, an error event on its stream), and so does a stop-string check that
// throws mid-stream or at the request's end; clients that reset their socket
// or stop reading affect only themselves; stop strings at the edges (in the prompt only, the first
// character, across tokens, regex characters, many of them) end their request at the right place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { KvserveError } from '../../lib/errors.js';
import type { GenerateEvent } from '../../lib/engine/types.js';
import type { NativeModel, NativeStepInput } from '../../lib/native/types.js';
import type { DecodeStream } from '../../lib/tokenizer/types.js';
import { StopStringMatcher } from '../../lib/tokenizer/stop-strings.js';
import { direct, eventually, postJson, servedModel, type Served } from '../helpers/serving.js';
import { runWellFormed, wellFormedRequests } from '../helpers/well-formed.js';

const served = servedModel({ kvCacheDtype: 'f32', maxNumSeqs: 2 });

async function collect(it: AsyncIterable<GenerateEvent>): Promise<string> {
  let text = '';
  for await (const e of it) if (e.type === 'final') text = e.text;
  return text;
}

async function idle(s: Served): Promise<void> {
  await eventually(() => {
    const st = s.engine.stats();
    return st.numRunning === 0 && st.numWaiting === 0 && st.kvBlocksUsed === 0;
  }, 'the engine to be idle with no KV blocks in use');
}

const GREEDY = { maxTokens: 24, temperature: 0, ignoreEos: true };

test('a failed native step fails the requests of that step; the waiting one and later ones are served exactly', async (t) => {
  const s = await served(t);
  if (!s) return;
  const prompts = ['Once upon a time', 'The little dog', 'Lily and Ben went to the park'];
  const reference = await Promise.all(prompts.map(async (p) => (await direct(s.engine, p, GREEDY))[0]!.text));
  // Inject: the 3rd step from now gets an out-of-vocabulary token id; the real addon rejects it.
  const model = (s.engine as unknown as { model: NativeModel }).model;
  const step = model.step.bind(model);
  let calls = 0;
  const failedRows: number[] = [];
  Object.defineProperty(model, 'step', {
    configurable: true,
    value: (input: NativeStepInput) => {
      if (++calls === 3) {
        failedRows.push(input.seqLens.length);
        const bad = Int32Array.from(input.tokenIds);
        bad[0] = 1_000_000;
        return step({ ...input, tokenIds: bad });
      }
      return step(input);
    },
  });
  t.after(() => { delete (model as unknown as Record<string, unknown>).step; });
  // maxNumSeqs = 2: the first two run together, the third waits.
  const results = await Promise.allSettled(prompts.map((p) => collect(s.engine.generate(p, GREEDY))));
  assert.deepEqual(failedRows, [2], 'the faulty step held the two running requests');
  for (const i of [0, 1]) {
    const r = results[i]!;
    assert.equal(r.status, 'rejected');
    const err = (r as PromiseRejectedResult).reason as KvserveError;
    assert.ok(err instanceof KvserveError);
    assert.equal(err.code, 'ERR_NATIVE_STEP');
    assert.match(err.message, /tokenIds\[0\]: expected a token id in \[0, 512\), got 1000000/);
  }
  assert.deepEqual(results[2], { status: 'fulfilled', value: reference[2] });
  // The engine goes on: the same requests now produce their references.
  assert.deepEqual(await Promise.all(prompts.map((p) => collect(s.engine.generate(p, GREEDY)))), reference);
  await idle(s);
});

test('a native step failure mid-stream reaches that stream as an error event; other streams complete', async (t) => {
  const s = await served(t);
  if (!s) return;
  const requests = wellFormedRequests(['The little dog'], 16).filter((r) => r.read === 'openai-sse' || r.read === 'kserve-sse');
  const reference = await Promise.all(requests.map((r) => runWellFormed(s.url, r)));
  const model = (s.engine as unknown as { model: NativeModel }).model;
  const step = model.step.bind(model);
  let failNext = false;
  Object.defineProperty(model, 'step', {
    configurable: true,
    value: (input: NativeStepInput) => {
      if (!failNext) return step(input);
      failNext = false;
      return step({ ...input, positions: Int32Array.from(input.positions, (p) => p + 7) });
    },
  });
  t.after(() => { delete (model as unknown as Record<string, unknown>).step; });
  // A stream whose step fails after its first tokens: fail it once it has started.
  const victim = new Promise<string>((resolve, reject) => {
    const req = httpRequest(`${s.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (text === '') failNext = true;
        text += d;
      });
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ prompt: 'Once upon a time', max_tokens: 200, ignore_eos: true, stream: true }));
  });
  const text = await victim;
  assert.match(text, /data: \{"error":\{"message":"native step failed: step\.positions\[\d+\]: expected/);
  assert.match(text, /data: \[DONE\]\n\n$/);
  assert.deepEqual(await Promise.all(requests.map((r) => runWellFormed(s.url, r))), reference);
  await idle(s);
});

test("a detokenizer that throws on one request's token fails that request alone", async (t) => {
  const s = await served(t);
  if (!s) return;
  const MARKER = 400;
  const others = ['Once upon a time', 'The little dog'];
  const reference = await Promise.all(others.map(async (p) => (await direct(s.engine, p, GREEDY))[0]!.text));
  assert.ok(reference.every((_, i) => !(s.engine.tokenizer.decode([MARKER]) === '' && i < 0)));
  const tokenizer = s.engine.tokenizer;
  const create = tokenizer.createDecodeStream.bind(tokenizer);
  Object.defineProperty(tokenizer, 'createDecodeStream', {
    configurable: true,
    value: (opts: Parameters<typeof create>[0]): DecodeStream => {
      const inner = create(opts);
      return {
        push: (id: number) => {
          if (id === MARKER) throw new Error(`detokenizer fault on token ${id}`);
          return inner.push(id);
        },
        flush: () => inner.flush(),
        prime: (ids: readonly number[]) => inner.prime(ids),
      };
    },
  });
  t.after(() => { delete (tokenizer as unknown as Record<string, unknown>).createDecodeStream; });
  // The victim is pushed onto the marker token by a logit bias; the others never produce it.
  const victim = collect(s.engine.generate('Once upon a time', { ...GREEDY, logitBias: { [MARKER]: 100 } }));
  const results = await Promise.allSettled([victim, ...others.map((p) => collect(s.engine.generate(p, GREEDY)))]);
  assert.equal(results[0]!.status, 'rejected');
  const err = (results[0] as PromiseRejectedResult).reason as KvserveError;
  assert.equal(err.code, 'ERR_ENGINE_REQUEST_FAILED');
  assert.match(err.message, /detokenizer fault on token 400/);
  assert.deepEqual(results.slice(1), reference.map((value) => ({ status: 'fulfilled', value })));
  // Over HTTP: the victim's stream ends with an error event, the server answers the next request.
  const res = await fetch(`${s.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'Once', max_tokens: 8, logit_bias: { [MARKER]: 100 }, stream: true }) });
  assert.match(await res.text(), /"message":"request .* failed: detokenizer fault on token 400"/);
  assert.equal((await postJson(`${s.url}/v1/completions`, { prompt: others[0], max_tokens: 24, temperature: 0, ignore_eos: true })).body.choices[0].text, reference[0]);
  await idle(s);
});

test("a stop-string check that throws (mid-stream or at the end) fails that request alone", async (t) => {
  const s = await served(t);
  if (!s) return;
  // The fault is keyed by a stop string only the victims carry; their matchers are real ones that
  // throw once the victim has produced a few tokens (push) or when it ends (flush).
  const PUSH_FAULT = '\u0001stop-check-fault-push';
  const FLUSH_FAULT = '\u0001stop-check-fault-flush';
  const proto = StopStringMatcher.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const push = proto.push as (this: StopStringMatcher, piece: string) => unknown;
  const flush = proto.flush as (this: StopStringMatcher) => unknown;
  const stopsOf = (m: StopStringMatcher): readonly string[] => (m as unknown as { stops: readonly string[] }).stops;
  const pushes = new WeakMap<StopStringMatcher, number>();
  proto.push = function (this: StopStringMatcher, piece: unknown) {
    if (stopsOf(this).includes(PUSH_FAULT)) {
      const n = (pushes.get(this) ?? 0) + 1;
      pushes.set(this, n);
      if (n === 4) throw new Error('stop check fault in push');
    }
    return push.call(this, piece as string);
  };
  proto.flush = function (this: StopStringMatcher) {
    if (stopsOf(this).includes(FLUSH_FAULT)) throw new Error('stop check fault in flush');
    return flush.call(this);
  };
  t.after(() => {
    proto.push = push as (...args: unknown[]) => unknown;
    proto.flush = flush as (...args: unknown[]) => unknown;
  });
  const prompts = ['Once upon a time', 'The little dog'];
  const plain = await Promise.all(prompts.map(async (p) => (await direct(s.engine, p, GREEDY))[0]!.text));
  // A stop string that does hit in the second prompt's output, so the healthy requests exercise the
  // same check the victims break.
  const hit = plain[1]!.slice(10, 16);
  const withStop = (await direct(s.engine, prompts[1]!, { ...GREEDY, stop: [hit, 'zzqq'] }))[0]!;
  assert.equal(withStop.finishReason, 'stop');
  // maxNumSeqs = 2: each victim shares its steps with a healthy request.
  const results = await Promise.allSettled([
    collect(s.engine.generate(prompts[0]!, { ...GREEDY, stop: [PUSH_FAULT] })),
    collect(s.engine.generate(prompts[0]!, GREEDY)),
    collect(s.engine.generate(prompts[1]!, { ...GREEDY, stop: ['zzqq', FLUSH_FAULT] })),
    collect(s.engine.generate(prompts[1]!, { ...GREEDY, stop: [hit, 'zzqq'] })),
  ]);
  for (const [i, message] of [[0, /stop check fault in push/], [2, /stop check fault in flush/]] as const) {
    const r = results[i]!;
    assert.equal(r.status, 'rejected', `victim #${i}`);
    const err = (r as PromiseRejectedResult).reason as KvserveError;
    assert.equal(err.code, 'ERR_ENGINE_REQUEST_FAILED');
    assert.match(err.message, message);
  }
  assert.deepEqual(results[1], { status: 'fulfilled', value: plain[0] });
  assert.deepEqual(results[3], { status: 'fulfilled', value: withStop.text });
  // Over HTTP: the victim's stream ends with an error event and [DONE]; the next request is served.
  const res = await fetch(`${s.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: prompts[0], max_tokens: 24, temperature: 0, ignore_eos: true, stop: [PUSH_FAULT], stream: true }) });
  const body = await res.text();
  assert.match(body, /"message":"request .* failed: stop check fault in push"/);
  assert.match(body, /data: \[DONE\]\n\n$/);
  assert.equal((await postJson(`${s.url}/v1/completions`, { prompt: prompts[0], max_tokens: 24, temperature: 0, ignore_eos: true, stop: ['zzqq'] })).body.choices[0].text, plain[0]);
  await idle(s);
});

test('clients that reset their connection or stop reading affect only themselves', async (t) => {
  const s = await served(t);
  if (!s) return;
  const port = Number(new URL(s.url).port);
  const requests = wellFormedRequests(['Lily and Ben went to the park'], 12).filter((r) => !r.trickle);
  const reference = await Promise.all(requests.map((r) => runWellFormed(s.url, r)));
  const body = JSON.stringify({ prompt: 'Once upon a time', max_tokens: 250, ignore_eos: true, stream: true });
  const head = `POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
  // A client that never reads: the server's writes back up, its request waits on them.
  const stalled = connect({ host: '127.0.0.1', port });
  stalled.pause();
  stalled.write(head + body);
  // Clients that send RST (not FIN) in the middle of their streams.
  const resets = Array.from({ length: 3 }, () => new Promise<void>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('data', () => {
      socket.resetAndDestroy();
      resolve();
    });
    socket.on('error', () => resolve());
    socket.write(head + body);
  }));
  await Promise.all(resets);
  assert.deepEqual(await Promise.all(requests.map((r) => runWellFormed(s.url, r))), reference);
  stalled.destroy();
  await idle(s);
});

test('stop strings at the edges end their request at the first occurrence, alongside normal requests', async (t) => {
  const s = await served(t);
  if (!s) return;
  const prompt = 'Once upon a time';
  const ref = (await postJson(`${s.url}/v1/completions`, { prompt, max_tokens: 48, temperature: 0, ignore_eos: true })).body.choices[0].text as string;
  const cut = (stops: string[], include: boolean): string => {
    let best = -1;
    let hit = '';
    for (const stop of stops) {
      const at = ref.indexOf(stop);
      if (at >= 0 && (best < 0 || at < best)) [best, hit] = [at, stop];
    }
    return best < 0 ? ref : ref.slice(0, best) + (include ? hit : '');
  };
  const cases: Array<[string, string[], boolean]> = [
    ['only in the prompt', ['Once upon'], false],
    ['the first character', [ref.slice(0, 1)], false],
    ['across several tokens', [ref.slice(5, 30)], true],
    ['regex characters', ['.*', '(', '[a-z]+', '\\'], false],
    ['many, one late', [...Array.from({ length: 15 }, (_, i) => `zz${i}qq`), ref.slice(40, 44)], true],
    ['the whole output and more', [`${ref}!`], false],
    ['a newline or a comma', ['\n', ','], true],
  ];
  const normal = wellFormedRequests(['The little dog'], 16).filter((r) => !r.trickle);
  const normalRef = await Promise.all(normal.map((r) => runWellFormed(s.url, r)));
  const [edge, after] = await Promise.all([
    Promise.all(cases.map(([, stop, include]) => postJson(`${s.url}/v1/completions`, { prompt, max_tokens: 48, temperature: 0, ignore_eos: true, stop, include_stop_str_in_output: include }))),
    Promise.all(normal.map((r) => runWellFormed(s.url, r))),
  ]);
  edge.forEach((res, i) => {
    const [name, stop, include] = cases[i]!;
    assert.equal(res.status, 200, `${name}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.choices[0].text, cut(stop, include), name);
  });
  assert.deepEqual(after, normalRef);
  await idle(s);
});
