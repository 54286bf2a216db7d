// What every route gets: the engine (through its narrow serving interface), metrics, lifecycle, and
// the resolved server settings.
import type { GenerationDeps } from './generation.js';

export interface ServerContext extends GenerationDeps {
  /** Names clients may use for the model; the first is the one responses carry. */
  servedModelNames: string[];
  /** The public model name (servedModelNames[0]). */
  modelName: string;
  /** Where the weights came from (shown by /v1/models, /info). */
  modelSource: string;
  /** The chat template that replaces the model's own (the engine's --chat-template). */
  chatTemplate?: string;
  /** kvserve's version. */
  version: string;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
