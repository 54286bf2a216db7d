// Random prompts of a given token length, like vLLM's random dataset: random text cut to exactly
// `inputLen` tokens with the server's /tokenize and /detokenize (vLLM's extension), or, for servers
// without them, `inputLen` random words (about one token each on common tokenizers).
import { seededRandom } from './random.js';

const WORDS = (
  'the a little girl boy cat dog bird tree house park ball sun moon star day night happy sad big small red blue ' +
  'green yellow run jump play walk look see find help love want like make go come went saw said was were had ' +
  'friend mom dad toy box car boat fish water sky cloud rain snow flower garden school book story time once upon ' +
  'there one two three four five very much many some all they she he it we you and but then so because when ' +
  'with to from in on at under over into out up down fast slow good bad new old warm cold soft loud quiet'
).split(' ');

export interface BenchPrompt {
  text: string;
  /** Prompt tokens as counted when the prompt was made (the server's usage replaces it later). */
  promptLen: number;
}

export interface DatasetOptions {
  baseUrl: string;
  model: string;
  apiKey?: string | undefined;
  inputLen: number;
  count: number;
  seed: number;
}

function randomWords(random: () => number, count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(WORDS[Math.floor(random() * WORDS.length)] ?? 'the');
  return out.join(' ');
}

async function postJson(url: string, body: unknown, apiKey: string | undefined): Promise<unknown> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

/** Returns the prompts and how they were sized ('tokenizer' when /tokenize and /detokenize worked). */
export async function buildRandomPrompts(options: DatasetOptions): Promise<{ prompts: BenchPrompt[]; sizedBy: 'tokenizer' | 'words' }> {
  const random = seededRandom(options.seed);
  const base = options.baseUrl.replace(/\/+$/, '');
  const prompts: BenchPrompt[] = [];
  try {
    for (let i = 0; i < options.count; i++) {
      let words = randomWords(random, options.inputLen);
      let tokens: number[] = [];
      for (let attempt = 0; attempt < 8; attempt++) {
        const result = (await postJson(`${base}/tokenize`, { model: options.model, prompt: words, add_special_tokens: false }, options.apiKey)) as { tokens?: unknown };
        if (!Array.isArray(result.tokens)) throw new Error('/tokenize answered without tokens');
        tokens = result.tokens as number[];
        if (tokens.length >= options.inputLen) break;
        words += ` ${randomWords(random, options.inputLen - tokens.length + 1)}`;
      }
      const slice = tokens.slice(0, options.inputLen);
      const result = (await postJson(`${base}/detokenize`, { model: options.model, tokens: slice }, options.apiKey)) as { prompt?: unknown };
      if (typeof result.prompt !== 'string') throw new Error('/detokenize answered without a prompt');
      prompts.push({ text: result.prompt, promptLen: slice.length });
    }
    return { prompts, sizedBy: 'tokenizer' };
  } catch {
    const fallback = seededRandom(options.seed);
    const words: BenchPrompt[] = [];
    for (let i = 0; i < options.count; i++) words.push({ text: randomWords(fallback, options.inputLen), promptLen: options.inputLen });
    return { prompts: words, sizedBy: 'words' };
  }
}
