// A stream of distinct random prompts for `kvserve bench serve`. Every request of a run gets a prompt
// no earlier request had, across levels too: the server's prefix cache outlives a level, and a reused
// prompt would be served from it, hiding the prefill cost (and the stalls it causes) the bench measures.
// Prompts are built in chunks (each a /tokenize + /detokenize round trip per prompt); the next chunk
// is built in the background while the current one is used, so dispatch rarely waits.
import { buildRandomPrompts, type BenchPrompt, type DatasetOptions } from './serve-dataset.js';

export class PromptSource {
  private readonly prompts: BenchPrompt[] = [];
  private readonly options: Omit<DatasetOptions, 'count'>;
  private readonly chunkSize: number;
  private chunks = 0;
  private building: Promise<void> | null = null;
  /** 'tokenizer' when the first chunk was sized with the server's /tokenize and /detokenize. */
  sizedBy: 'tokenizer' | 'words' = 'words';

  constructor(options: Omit<DatasetOptions, 'count'>, chunkSize = 64) {
    this.options = options;
    this.chunkSize = Math.max(1, chunkSize);
  }

  /** Prompt number `index` (0-based); builds more when needed. */
  async get(index: number): Promise<BenchPrompt> {
    while (index >= this.prompts.length) await this.extend();
    // Refill ahead: start the next chunk when half of the current one is used.
    if (this.prompts.length - index < this.chunkSize / 2) void this.extend().catch(() => undefined);
    return this.prompts[index] as BenchPrompt;
  }

  /** How many prompts are built so far. */
  get size(): number {
    return this.prompts.length;
  }

  private extend(): Promise<void> {
    this.building ??= (async () => {
      // Each chunk draws from its own seeded stream, so a run is reproducible from --seed.
      const chunk = this.chunks++;
      const { prompts, sizedBy } = await buildRandomPrompts({ ...this.options, count: this.chunkSize, seed: this.options.seed + chunk * 0x9e37 });
      if (chunk === 0) this.sizedBy = sizedBy;
      this.prompts.push(...prompts);
    })().finally(() => {
      this.building = null;
    });
    return this.building;
  }
}
