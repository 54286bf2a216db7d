// Graceful drain of `kvserve serve` under load (a real child process, SIGTERM): every stream in flight
// that can finish within --shutdown-timeout finishes, exactly as it would have without the signal
// (OpenAI completions and chat, TGI and KServe streams), new work meanwhile gets 503 and readiness is
// false, and the process exits 0. Streams that cannot finish in time end cleanly (finish_reason
// "abort", [DONE]) with a prefix of their text, and the process still exits 0. The server listens on
// 127.0.0.1 when no --host is given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricValue } from '../helpers/serving.js';
import { MODELS, modelPath } from '../helpers/models.js';
import { startServe } from '../helpers/serve-process.js';
import { runWellFormed, type WellFormed } from '../helpers/well-formed.js';

function streams(count: number, maxTokens: number): WellFormed[] {
  const prompts = ['Once upon a time', 'The little dog', 'Lily and Ben went to the park', 'Tom had a red ball'];
  const out: WellFormed[] = [];
  for (let i = 0; i < count; i++) {
    const prompt = prompts[i % prompts.length] as string;
    const n = maxTokens - (i % 5);
    const kind = i % 4;
    if (kind === 0) out.push({ name: `completions #${i}`, path: '/v1/completions', read: 'openai-sse', body: { model: 'stories', prompt, max_tokens: n, temperature: 0, ignore_eos: true, stream: true } });
    else if (kind === 1) out.push({ name: `chat #${i}`, path: '/v1/chat/completions', read: 'chat-sse', body: { model: 'stories', messages: [{ role: 'user', content: prompt }], max_tokens: n, temperature: 0, ignore_eos: true, stream: true } });
    else if (kind === 2) out.push({ name: `tgi #${i}`, path: '/generate_stream', read: 'tgi-sse', body: { inputs: prompt, parameters: { max_new_tokens: n } } });
    else out.push({ name: `kserve #${i}`, path: '/v2/models/stories/generate_stream', read: 'kserve-sse', body: { text_input: prompt, parameters: { max_tokens: n, temperature: 0, ignore_eos: true } } });
  }
  return out;
}

async function running(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return metricValue(text, 'vllm:num_requests_running', { model_name: 'stories' }) ?? 0;
}

const ARGS = ['--port', '0', '--max-model-len', '256', '--kv-cache-memory', '4MiB', '--kv-cache-dtype', 'f32', '--threads', '1', '--served-model-name', 'stories',
  '--chat-template', '{% for m in messages %}{{ m.content }}{% endfor %}'];

test('SIGTERM under load: every stream in flight completes exactly, new work gets 503, exit code 0', { timeout: 180_000 }, async (t) => {
  const model = modelPath(t, MODELS.stories260kGguf);
  if (model === null) return;
  const server = startServe([model, ...ARGS, '--shutdown-timeout', '120s']);
  t.after(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL'); });
  const ready = await server.waitFor((l) => l.msg.startsWith('serving'));
  const url = ready.address as string;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'listens on 127.0.0.1 by default');
  const load = streams(16, 200);
  const reference = new Map<string, string>();
  for (const r of load) reference.set(r.name, await runWellFormed(url, r));

  const inFlight = load.map((r) => runWellFormed(url, r).then((text) => ({ r, text }), (err: Error) => ({ r, text: `ERROR ${err.message}` })));
  for (let i = 0; i < 500 && (await running(url)) < load.length; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(await running(url), load.length, 'all streams running when the signal arrives');
  server.child.kill('SIGTERM');
  const draining = await server.waitFor((l) => l.msg.startsWith('draining'));
  assert.equal(draining.inFlight, load.length);
  assert.equal((await fetch(`${url}/v2/health/ready`)).status, 503);
  assert.equal((await fetch(`${url}/health`)).status, 503);
  const refused = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'x', max_tokens: 2 }) });
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get('retry-after'), '1');
  const tgiRefused = await fetch(`${url}/generate_stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: 'x' }) });
  assert.equal(tgiRefused.status, 503);
  for (const { r, text } of await Promise.all(inFlight)) assert.equal(text, reference.get(r.name), r.name);
  assert.equal(await server.exit, 0);
  const drained = server.logs.find((l) => l.msg === 'drained');
  assert.equal(drained?.aborted, 0);
});

test('SIGTERM with a short --shutdown-timeout: unfinished streams end cleanly with a prefix of their text, exit code 0', { timeout: 180_000 }, async (t) => {
  const model = modelPath(t, MODELS.stories260kGguf);
  if (model === null) return;
  // Streams long enough (480 tokens each) that none can finish in the 1 ms grace, even on a fast CPU:
  // a 200 ms grace with 240-token streams let every stream finish on a fast CI machine.
  const args = ARGS.map((a) => (a === '256' ? '512' : a === '4MiB' ? '16MiB' : a));
  const server = startServe([model, ...args, '--shutdown-timeout', '1ms']);
  t.after(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL'); });
  const url = (await server.waitFor((l) => l.msg.startsWith('serving'))).address as string;
  const load = streams(8, 480).filter((r) => r.read === 'openai-sse' || r.read === 'chat-sse');
  const reference = new Map<string, string>();
  for (const r of load) reference.set(r.name, await runWellFormed(url, r));
  const raw = load.map(async (r) => {
    const res = await fetch(`${url}${r.path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(r.body) });
    return { r, body: await res.text() };
  });
  for (let i = 0; i < 500 && (await running(url)) < load.length; i++) await new Promise((res) => setTimeout(res, 10));
  server.child.kill('SIGTERM');
  let aborted = 0;
  for (const { r, body } of await Promise.all(raw)) {
    assert.match(body, /data: \[DONE\]\n\n$/, r.name);
    const events = body.split('\n\n').filter((b) => b.startsWith('data: {')).map((b) => JSON.parse(b.slice(6)) as { choices: Array<{ text?: string; delta?: { content?: string }; finish_reason: string | null }> });
    const text = events.map((e) => e.choices[0]?.text ?? e.choices[0]?.delta?.content ?? '').join('');
    const finish = events.map((e) => e.choices[0]?.finish_reason).filter((f) => f);
    assert.equal(finish.length, 1, r.name);
    if (finish[0] === 'abort') {
      aborted++;
      assert.ok((reference.get(r.name) ?? '').startsWith(text), `${r.name}: an aborted stream's text is a prefix of its full text`);
    } else {
      assert.equal(text, reference.get(r.name), r.name);
    }
  }
  assert.ok(aborted > 0, 'some streams could not finish within 1 ms');
  assert.equal(await server.exit, 0);
  assert.equal(server.logs.find((l) => l.msg === 'drained')?.aborted, aborted);
});
