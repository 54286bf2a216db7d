// The library installs no signal handlers (only `kvserve serve` does): importing kvserve's public entry
// point, creating an engine, building the app, listening, serving a request and closing leave the
// process's SIGTERM / SIGINT listener counts as they were. Library modules are imported dynamically,
// after the baseline is taken, so their top-level code is counted too.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'] as const;

function listenerCounts(): Record<string, number> {
  return Object.fromEntries(SIGNALS.map((signal) => [signal, process.listenerCount(signal)]));
}

const baseline = listenerCounts();

test('importing the library, buildApp on a real engine, listen and close install no signal handlers', async (t) => {
  const kvserve = await import('../../lib/index.js');
  assert.deepEqual(listenerCounts(), baseline, 'after importing lib/index.ts');
  assert.equal(typeof kvserve.buildApp, 'function', 'lib/index.ts exports buildApp');

  const { MODELS, modelPath } = await import('../helpers/models.js');
  const { STORY_TEMPLATE, testEngineOptions } = await import('../helpers/serving.js');
  const path = modelPath(t, MODELS.stories260kGguf);
  if (path === null) return;

  const engine = await kvserve.Engine.create(testEngineOptions(path));
  t.after(() => engine.close());
  assert.deepEqual(listenerCounts(), baseline, 'after Engine.create');

  const options: import('../../lib/index.js').ServerOptions = { chatTemplate: STORY_TEMPLATE, processMetrics: true };
  const app = kvserve.buildApp(engine, options);
  assert.deepEqual(listenerCounts(), baseline, 'after buildApp');

  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const response = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 4, temperature: 0 }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  assert.equal(((await response.json()) as { choices: unknown[] }).choices.length, 1);
  assert.deepEqual(listenerCounts(), baseline, 'after listen and one request');

  await app.close();
  assert.deepEqual(listenerCounts(), baseline, 'after app.close');
});
