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
  /** kvserve's version. */
  version: string;
  /** Engine limits, for /info and the model metadata routes. */
  limits: {
    maxNumSeqs: number | null;
    maxNumQueuedRequests: number | null;
  };
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
