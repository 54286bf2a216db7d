// One benchmark request: a streaming /v1/completions call timed the way `vllm bench serve` times it
// (TTFT at the first non-empty text chunk, one ITL per later chunk, tokens from the usage chunk).
import { networkCause } from './bench-error.js';
import type { RequestRecord } from './serve-stats.js';

export interface CompletionRequestSpec {
  baseUrl: string;
  model: string;
  prompt: string;
  promptLen: number;
  maxTokens: number;
  apiKey?: string | undefined;
  signal?: AbortSignal;
}

const now = (): number => performance.now() / 1000;

/** Splits an SSE byte stream into `data:` payloads. */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let sep: number;
    while ((sep = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, sep);
      buffer = buffer.slice(sep).replace(/^\r?\n\r?\n/, '');
      const data = block
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data !== '') yield data;
    }
  }
}

interface CompletionChunk {
  choices?: Array<{ text?: string }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string } | string;
}

export async function runCompletionRequest(spec: CompletionRequestSpec): Promise<RequestRecord> {
  const record: RequestRecord = {
    success: false,
    error: null,
    promptLen: spec.promptLen,
    outputTokens: 0,
    ttft: 0,
    itl: [],
    latency: 0,
    startTime: now(),
    chunkTimes: [],
  };
  const start = record.startTime;
  try {
    const response = await fetch(`${spec.baseUrl.replace(/\/+$/, '')}/v1/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(spec.apiKey ? { authorization: `Bearer ${spec.apiKey}` } : {}),
      },
      body: JSON.stringify({
        model: spec.model,
        prompt: spec.prompt,
        max_tokens: spec.maxTokens,
        temperature: 0,
        ignore_eos: true,
        stream: true,
        stream_options: { include_usage: true },
      }),
      ...(spec.signal ? { signal: spec.signal } : {}),
    });
    if (!response.ok || !response.body) {
      const text = await response.text().catch(() => '');
      record.error = `HTTP ${response.status}: ${text.slice(0, 200)}`;
      record.latency = now() - start;
      return record;
    }
    let last = start;
    let numTextChunks = 0;
    let usageTokens: number | null = null;
    for await (const data of sseData(response.body)) {
      if (data === '[DONE]') break;
      const chunk = JSON.parse(data) as CompletionChunk;
      if (chunk.error) throw new Error(typeof chunk.error === 'string' ? chunk.error : (chunk.error.message ?? 'stream error'));
      const t = now();
      const text = chunk.choices?.[0]?.text;
      if (text) {
        if (record.ttft === 0) record.ttft = t - start;
        else record.itl.push(t - last);
        last = t;
        numTextChunks++;
        record.chunkTimes.push(t);
      }
      if (chunk.usage) {
        if (typeof chunk.usage.completion_tokens === 'number') usageTokens = chunk.usage.completion_tokens;
        if (typeof chunk.usage.prompt_tokens === 'number') record.promptLen = chunk.usage.prompt_tokens;
      }
    }
    record.latency = now() - start;
    record.outputTokens = usageTokens ?? numTextChunks;
    if (record.ttft === 0) {
      record.error = 'the stream carried no text';
    } else {
      record.success = true;
    }
  } catch (err) {
    // fetch's own message is only "fetch failed": keep the reason from its cause chain (ECONNRESET, ...).
    const message = err instanceof Error ? err.message : String(err);
    const cause = networkCause(err);
    record.error = cause !== message && message === 'fetch failed' ? `fetch failed: ${cause}` : message;
    record.latency = now() - start;
  }
  return record;
}
