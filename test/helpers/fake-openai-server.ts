// A minimal OpenAI-compatible streaming server for testing the benchmark CLIENT's arithmetic (not our
// engine): each whitespace-separated word is one token, completions stream `max_tokens` chunks with
// fixed delays, and every `failEvery`-th completion request answers 500.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeServerOptions {
  firstChunkDelayMs: number;
  chunkDelayMs: number;
  /** 0 = never fail. */
  failEvery?: number;
  /** Serve /tokenize and /detokenize (vLLM's extension). */
  tokenizer?: boolean;
}

export interface FakeServer {
  url: string;
  /** Completion requests received (including failed ones). */
  numCompletions(): number;
  /** The prompt of every completion request, in arrival order. */
  completionPrompts(): string[];
  /** The most completion requests that were open at the same time. */
  peakConcurrency(): number;
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startFakeOpenAiServer(options: FakeServerOptions): Promise<FakeServer> {
  const vocab = new Map<string, number>();
  const words: string[] = [];
  const idOf = (w: string): number => {
    let id = vocab.get(w);
    if (id === undefined) {
      id = words.length;
      vocab.set(w, id);
      words.push(w);
    }
    return id;
  };
  let completions = 0;
  const completionPrompts: string[] = [];
  let open = 0;
  let peak = 0;
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.method === 'GET' && req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: 'fake-model', object: 'model' }] }));
        return;
      }
      if (req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      const body = await readJson(req);
      if (req.url === '/tokenize' && options.tokenizer) {
        const tokens = String(body.prompt).split(/\s+/).filter((w) => w !== '').map(idOf);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count: tokens.length, tokens }));
        return;
      }
      if (req.url === '/detokenize' && options.tokenizer) {
        const prompt = (body.tokens as number[]).map((id) => words[id] ?? '?').join(' ');
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ prompt }));
        return;
      }
      if (req.url !== '/v1/completions') {
        res.writeHead(404).end();
        return;
      }
      completions++;
      completionPrompts.push(String(body.prompt));
      if (options.failEvery && completions % options.failEvery === 0) {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'injected failure' } }));
        return;
      }
      open++;
      peak = Math.max(peak, open);
      try {
        const maxTokens = Number(body.max_tokens);
        const promptTokens = String(body.prompt).split(/\s+/).filter((w) => w !== '').length;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (let i = 0; i < maxTokens; i++) {
          await sleep(i === 0 ? options.firstChunkDelayMs : options.chunkDelayMs);
          res.write(`data: ${JSON.stringify({ choices: [{ index: 0, text: ` t${i}`, finish_reason: null }] })}\n\n`);
        }
        res.write(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: maxTokens, total_tokens: promptTokens + maxTokens } })}\n\n`);
        res.end('data: [DONE]\n\n');
      } finally {
        open--;
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    numCompletions: () => completions,
    completionPrompts: () => [...completionPrompts],
    peakConcurrency: () => peak,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
