// The soak's requests: greedy, streamed, spread over the OpenAI (completions and chat), TGI and
// KServe/Triton streaming routes; a share of the clients disconnect at a random point: before the
// first token (a few ms after sending, often before any response byte), during a long prompt's
// prefill (a long prompt no other request shares, so the prefix cache cannot skip it and its prefill
// spans several steps; the client leaves when the server says the engine has scheduled it and no
// token is out yet, or at its first event at the latest), or mid-stream (after some events). The server counts where each aborted request really was (waiting,
// prefill, decoding). One request runs over its own connection (node:http, no keep-alive) so a
// disconnect is a closed socket, as with a real client that goes away.
import { request as httpRequest, type ClientRequest } from 'node:http';
import { Random } from '../../fuzz/js/random.js';

export type Route = 'completions' | 'chat' | 'tgi' | 'kserve';
export type Disconnect = 'before-first-token' | 'during-prefill' | 'mid-stream';

export interface SoakRequest {
  index: number;
  route: Route;
  prompt: number;
  maxTokens: number;
  disconnect: Disconnect | null;
  /** Events to read before a mid-stream disconnect; ms after sending before a before-first-token one. */
  disconnectAfter: number;
}

export type Outcome =
  | { kind: 'completed'; text: string; ms: number }
  | { kind: 'disconnected'; gotBytes: boolean; ms: number }
  | { kind: 'failed'; status: number; error: string; ms: number; retryAfter?: string | undefined; afterSignal?: boolean }
  | { kind: 'hung'; ms: number };

export const ROUTES: Route[] = ['completions', 'chat', 'tgi', 'kserve'];

const STORY = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. ';

/**
 * Short story starts, and long prompts whose prefill spans several steps; the last one (the story
 * `prefillRepeats` times, ~45 tokens each with stories260K) is for clients that leave during prefill.
 */
export function soakPrompts(prefillRepeats = 4): string[] {
  const story = STORY;
  return [
    'Once upon a time',
    'The little dog',
    'Lily and Ben went to the park',
    'One day, a cat',
    'Tom had a red ball',
    'The sun was shining and',
    story.repeat(3),
    `${story.repeat(4)}Then`,
    `${story.repeat(prefillRepeats)}And`,
  ];
}

/** The prompt of clients that leave during prefill. */
export const PREFILL_PROMPT = 8;

export function planRequests(count: number, seed: number, disconnectShare: number, maxTokens: readonly number[]): SoakRequest[] {
  const rng = new Random(seed);
  const numPrompts = PREFILL_PROMPT;
  return Array.from({ length: count }, (_, index) => {
    const disconnect: Disconnect | null = rng.float() < disconnectShare ? rng.pick(['before-first-token', 'during-prefill', 'mid-stream'] as const) : null;
    const prompt = disconnect === 'during-prefill' ? PREFILL_PROMPT : rng.int(numPrompts);
    const n = rng.pick(maxTokens);
    return {
      index,
      route: rng.pick(ROUTES),
      prompt,
      maxTokens: n,
      disconnect,
      disconnectAfter: disconnect === 'mid-stream' ? 1 + rng.int(Math.max(1, n - 1)) : rng.int(15),
    };
  });
}

/** Reference key: requests with the same key must produce the same text. */
export function referenceKey(r: Pick<SoakRequest, 'route' | 'prompt' | 'maxTokens'>): string {
  return `${r.route}|${r.prompt}|${r.maxTokens}`;
}

function requestFor(r: Pick<SoakRequest, 'index' | 'route' | 'prompt' | 'maxTokens' | 'disconnect'>, prompts: string[]): { path: string; body: unknown } {
  // A client that leaves during its prefill never reads its text: its prompt starts with its own index,
  // so the prefix cache cannot skip the prefill it leaves in the middle of.
  const prompt = r.disconnect === 'during-prefill' ? `${r.index}. ${prompts[r.prompt] as string}` : (prompts[r.prompt] as string);
  switch (r.route) {
    case 'completions':
      return { path: '/v1/completions', body: { model: 'stories', prompt, max_tokens: r.maxTokens, temperature: 0, stream: true } };
    case 'chat':
      return { path: '/v1/chat/completions', body: { model: 'stories', messages: [{ role: 'user', content: prompt }], max_tokens: r.maxTokens, temperature: 0, stream: true } };
    case 'tgi':
      return { path: '/generate_stream', body: { inputs: prompt, parameters: { max_new_tokens: r.maxTokens } } };
    case 'kserve':
      return { path: '/v2/models/stories/generate_stream', body: { text_input: prompt, parameters: { max_tokens: r.maxTokens, temperature: 0, return_finish_reason: true } } };
  }
}

/** Reads one event's text; `done` when it is the stream's last event (and the request succeeded). */
function readEvent(route: Route, data: string): { text: string; done: boolean; error?: string } {
  if (data === '[DONE]') return { text: '', done: true };
  const e = JSON.parse(data) as Record<string, any>;
  if (e.error) return { text: '', done: false, error: typeof e.error === 'string' ? e.error : JSON.stringify(e.error) };
  switch (route) {
    case 'completions':
      return { text: e.choices?.[0]?.text ?? '', done: false };
    case 'chat':
      return { text: e.choices?.[0]?.delta?.content ?? '', done: false };
    case 'tgi':
      // The last event carries the whole text.
      return e.generated_text !== null && e.generated_text !== undefined ? { text: e.generated_text, done: true } : { text: '', done: false };
    case 'kserve':
      return { text: e.text_output ?? '', done: e.finish_reason !== undefined && e.finish_reason !== 'None' };
  }
}

export interface RequestHooks {
  /** The response's head arrived (for a stream: the engine holds the request). */
  onResponse?: (status: number) => void;
  /** Whether the server has been sent SIGTERM (a 503 after it is the drain refusing new work). */
  signalled?: () => boolean;
  /** Calls `leave` once the server reports this request in its prefill. */
  onPrefill?: (index: number, leave: () => void) => void;
}

/** Runs one request to its end, its disconnect, or the timeout. */
export function runRequest(baseUrl: string, r: SoakRequest, prompts: string[], timeoutMs: number, hooks: RequestHooks = {}): Promise<Outcome> {
  const { path, body } = requestFor(r, prompts);
  const start = performance.now();
  const elapsed = (): number => performance.now() - start;
  return new Promise<Outcome>((resolve) => {
    let settled = false;
    let req: ClientRequest | null = null;
    const finish = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (earlyTimer) clearTimeout(earlyTimer);
      req?.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ kind: 'hung', ms: elapsed() }), timeoutMs);
    let gotBytes = false;
    let earlyTimer: NodeJS.Timeout | null = null;
    const payload = JSON.stringify(body);
    req = httpRequest(`${baseUrl}${path}`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      gotBytes = true;
      const afterSignal = hooks.signalled?.() ?? false;
      hooks.onResponse?.(res.statusCode ?? 0);
      let buffer = '';
      let text = '';
      let done = false;
      let numEvents = 0;
      let errorText: string | null = null;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (settled) return;
        buffer += chunk;
        let sep: number;
        while ((sep = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, sep);
          buffer = buffer.slice(sep + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
          if (data === '') continue;
          if (res.statusCode !== 200) {
            errorText = data;
            continue;
          }
          const e = readEvent(r.route, data);
          if (e.error !== undefined) errorText = e.error;
          if (r.route === 'tgi') {
            if (e.done) text = e.text;
          } else {
            text += e.text;
          }
          done ||= e.done;
          numEvents++;
          if (r.disconnect === 'during-prefill' && !done) {
            // The first token came before the timer: leave now, before reading it.
            finish({ kind: 'disconnected', gotBytes: true, ms: elapsed() });
            return;
          }
          if (r.disconnect === 'mid-stream' && numEvents >= r.disconnectAfter && !done) {
            finish({ kind: 'disconnected', gotBytes: true, ms: elapsed() });
            return;
          }
        }
      });
      res.on('end', () => {
        if (res.statusCode !== 200) {
          const retryAfter = res.headers['retry-after'];
          finish({ kind: 'failed', status: res.statusCode ?? 0, error: (errorText ?? buffer).slice(0, 300), ms: elapsed(), retryAfter, afterSignal });
        }
        else if (errorText !== null) finish({ kind: 'failed', status: 200, error: `stream error: ${errorText.slice(0, 300)}`, ms: elapsed() });
        else if (!done) finish({ kind: 'failed', status: 200, error: 'the stream ended without its last event', ms: elapsed() });
        else finish({ kind: 'completed', text, ms: elapsed() });
      });
      res.on('error', (err) => finish({ kind: 'failed', status: res.statusCode ?? 0, error: err.message, ms: elapsed() }));
    });
    req.on('error', (err) => finish({ kind: 'failed', status: 0, error: err.message, ms: elapsed() }));
    req.end(payload);
    if (r.disconnect === 'during-prefill') hooks.onPrefill?.(r.index, () => finish({ kind: 'disconnected', gotBytes, ms: elapsed() }));
    if (r.disconnect === 'before-first-token') {
      earlyTimer = setTimeout(() => finish({ kind: 'disconnected', gotBytes, ms: elapsed() }), r.disconnectAfter);
    }
  });
}
