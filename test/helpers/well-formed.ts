// Well-formed generation requests over every protocol, and the text each one produced: what the
// reliability tests compare against a reference taken from the same request sent alone.
import { sseData } from '../../lib/bench/serve-request.js';
import { httpBytes, rawRequest } from './raw-http.js';

export interface WellFormed {
  name: string;
  path: string;
  body: Record<string, unknown>;
  /** How the text is read from the response. */
  read: 'openai-json' | 'openai-sse' | 'chat-sse' | 'tgi-json' | 'tgi-sse' | 'kserve-json' | 'kserve-sse';
  /** Send the body in small pieces over a raw socket (a slow client), JSON responses only. */
  trickle?: boolean;
}

export function wellFormedRequests(prompts: readonly string[], maxTokens: number): WellFormed[] {
  const out: WellFormed[] = [];
  prompts.forEach((prompt, i) => {
    const n = maxTokens - (i % 3);
    out.push(
      { name: `completions json #${i}`, path: '/v1/completions', read: 'openai-json', body: { model: 'stories', prompt, max_tokens: n, temperature: 0 } },
      { name: `completions sse #${i}`, path: '/v1/completions', read: 'openai-sse', body: { model: 'stories', prompt, max_tokens: n, temperature: 0, stream: true } },
      { name: `chat sse #${i}`, path: '/v1/chat/completions', read: 'chat-sse', body: { model: 'stories', messages: [{ role: 'user', content: prompt }], max_tokens: n, temperature: 0, stream: true } },
      { name: `tgi json #${i}`, path: '/generate', read: 'tgi-json', body: { inputs: prompt, parameters: { max_new_tokens: n } } },
      { name: `tgi sse #${i}`, path: '/generate_stream', read: 'tgi-sse', body: { inputs: prompt, parameters: { max_new_tokens: n } } },
      { name: `kserve json #${i}`, path: '/v2/models/stories/generate', read: 'kserve-json', body: { text_input: prompt, parameters: { max_tokens: n, temperature: 0 } } },
      { name: `kserve sse #${i}`, path: '/v2/models/stories/generate_stream', read: 'kserve-sse', body: { text_input: prompt, parameters: { max_tokens: n, temperature: 0 } } },
      { name: `completions json, trickled #${i}`, path: '/v1/completions', read: 'openai-json', trickle: true, body: { model: 'stories', prompt, max_tokens: n, temperature: 0 } },
    );
  });
  return out;
}

/** Sends one well-formed request; returns its text, or throws with what went wrong. */
export async function runWellFormed(baseUrl: string, r: WellFormed): Promise<string> {
  if (r.trickle) {
    const body = JSON.stringify(r.body);
    const bytes = httpBytes('POST', r.path, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, body);
    const head = bytes.indexOf('\r\n\r\n') + 4;
    const res = await rawRequest(Number(new URL(baseUrl).port), bytes, { firstChunk: head, chunkSize: 16, chunkDelayMs: 5 });
    if (res.status !== 200) throw new Error(`${r.name}: status ${res.status}: ${res.body.slice(0, 200)}`);
    return readJson(r, JSON.parse(res.body));
  }
  const response = await fetch(`${baseUrl}${r.path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(r.body) });
  if (response.status !== 200) throw new Error(`${r.name}: status ${response.status}: ${(await response.text()).slice(0, 200)}`);
  if (!r.read.endsWith('-sse')) return readJson(r, (await response.json()) as Record<string, any>);
  if (!response.body) throw new Error(`${r.name}: no body`);
  let text = '';
  let ended = false;
  for await (const data of sseData(response.body)) {
    if (data === '[DONE]') {
      ended = true;
      continue;
    }
    const event = JSON.parse(data) as Record<string, any>;
    if (event.error) throw new Error(`${r.name}: stream error ${JSON.stringify(event.error)}`);
    if (r.read === 'openai-sse') text += event.choices?.[0]?.text ?? '';
    else if (r.read === 'chat-sse') text += event.choices?.[0]?.delta?.content ?? '';
    else if (r.read === 'tgi-sse') {
      if (event.generated_text !== null && event.generated_text !== undefined) {
        text = event.generated_text;
        ended = true;
      }
    } else {
      text += event.text_output ?? '';
      ended = true;
    }
  }
  if (!ended) throw new Error(`${r.name}: the stream ended without its last event`);
  return text;
}

function readJson(r: WellFormed, body: Record<string, any>): string {
  if (r.read === 'openai-json') return body.choices[0].text;
  if (r.read === 'tgi-json') return body.generated_text;
  return body.text_output;
}

/**
 * Sends the well-formed requests over and over (3 at a time) while something else runs, comparing
 * each text with its reference; stop() ends the loop and returns what was seen.
 */
export function wellFormedTraffic(baseUrl: string, requests: readonly WellFormed[], reference: ReadonlyMap<string, string>): {
  stop(): Promise<{ count: number; mismatches: string[] }>;
} {
  let running = true;
  let count = 0;
  const mismatches: string[] = [];
  const workers = Promise.all(Array.from({ length: 3 }, async (_, worker) => {
    for (let i = worker; running; i += 3) {
      const r = requests[i % requests.length] as WellFormed;
      try {
        const text = await runWellFormed(baseUrl, r);
        if (text !== reference.get(r.name)) mismatches.push(`${r.name}: ${JSON.stringify(text)} != ${JSON.stringify(reference.get(r.name))}`);
      } catch (err) {
        mismatches.push(`${r.name}: ${(err as Error).message}`);
      }
      count++;
    }
  }));
  return {
    async stop() {
      running = false;
      await workers;
      return { count, mismatches };
    },
  };
}
