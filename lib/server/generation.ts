// Binds engine requests to one HTTP exchange: refuses new work while draining, aborts the engine
// request when the client goes away (or the drain deadline passes), records metrics, and waits for the
// first event before anything is written so that a full queue or a bad parameter still becomes an HTTP
// status instead of a broken stream.
import type { FastifyReply } from 'fastify';
import type { GenerateEvent, PromptInput, SamplingParamsInput } from '../engine/types.js';
import { HttpError, RETRY_AFTER_SECONDS, toHttpError } from './http-error.js';
import type { Lifecycle } from './lifecycle.js';
import type { ServerMetrics } from './metrics.js';
import type { ServingEngine } from './serving-engine.js';

export interface GenerationSpec {
  prompt: PromptInput;
  params: SamplingParamsInput;
  requestId: string;
  priority?: number;
  cacheSalt?: string;
}

export interface GenerationDeps {
  engine: ServingEngine;
  metrics: ServerMetrics;
  lifecycle: Lifecycle;
}

/** The engine requests of one HTTP exchange. Iterate `streams` (or `merged()`), then `close()`. */
export class ExchangeGenerations {
  readonly streams: Array<AsyncGenerator<GenerateEvent>>;
  readonly signal: AbortSignal;
  private readonly instrumented: Instrumented[];
  private readonly controller: AbortController;
  private readonly cleanup: () => void;
  private closed = false;

  /** @internal use startGenerations */
  constructor(instrumented: Instrumented[], controller: AbortController, cleanup: () => void) {
    this.instrumented = instrumented;
    this.streams = instrumented.map((i) => i.stream);
    this.controller = controller;
    this.signal = controller.signal;
    this.cleanup = cleanup;
  }

  /** All streams interleaved as events arrive, each tagged with its stream's position. */
  merged(): AsyncIterable<[number, GenerateEvent]> {
    return mergeAsync(this.streams);
  }

  /** Aborts whatever is still running and releases the exchange (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.controller.abort();
    // Streams left mid-way, or never read (the client left before the route read them), finish reading
    // the engine's (abort) end in the background, for the metrics.
    for (const i of this.instrumented) {
      i.releaseUnread();
      void i.stream.return(undefined).catch(() => undefined);
    }
    this.cleanup();
  }
}

/**
 * Submits every spec to the engine and waits for each one's first event. Throws an HttpError
 * (503 while draining or when the queue is full, 400 for bad parameters) with nothing submitted left
 * running.
 */
export async function startGenerations(
  deps: GenerationDeps,
  reply: FastifyReply,
  specs: GenerationSpec[],
  paramNames: Record<string, string> = {},
): Promise<ExchangeGenerations> {
  if (deps.lifecycle.draining) throw drainingError();
  const controller = new AbortController();
  const release = deps.lifecycle.track(controller);
  const res = reply.raw;
  const onClose = (): void => {
    // 'close' after a complete response is normal; before it, the client went away.
    if (!res.writableFinished) controller.abort(new Error('client disconnected'));
  };
  res.on('close', onClose);
  const cleanup = (): void => {
    res.off('close', onClose);
    release();
  };

  const iterators: Array<AsyncIterator<GenerateEvent>> = [];
  try {
    for (const spec of specs) {
      const iterable = deps.engine.generate(spec.prompt, spec.params, {
        signal: controller.signal,
        requestId: spec.requestId,
        ...(spec.priority !== undefined ? { priority: spec.priority } : {}),
        ...(spec.cacheSalt !== undefined ? { cacheSalt: spec.cacheSalt } : {}),
      });
      iterators.push(iterable[Symbol.asyncIterator]());
    }
    const firsts = await Promise.allSettled(iterators.map((it) => it.next()));
    const failed = firsts.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const streams = iterators.map((it, i) => {
      const first = (firsts[i] as PromiseFulfilledResult<IteratorResult<GenerateEvent>>).value;
      return instrument(it, first, deps.metrics, controller);
    });
    return new ExchangeGenerations(streams, controller, cleanup);
  } catch (err) {
    controller.abort();
    await Promise.allSettled(iterators.map((it) => it.return?.()));
    cleanup();
    throw toHttpError(err, paramNames);
  }
}

export function drainingError(): HttpError {
  return new HttpError(503, 'unavailable', 'The server is shutting down and accepts no new requests', {
    headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
  });
}

interface Instrumented {
  stream: AsyncGenerator<GenerateEvent>;
  /** When the stream was never read: abort the request and count the rest of its events (its end). */
  releaseUnread(): void;
}

/**
 * One engine request's events with the metrics taken as they pass. The first event (already read by
 * startGenerations) counts at once: a route may never read a stream (its client left), and a
 * generator that never started runs no `finally`; releaseUnread then reads the request's end.
 */
function instrument(
  iterator: AsyncIterator<GenerateEvent>,
  first: IteratorResult<GenerateEvent>,
  metrics: ServerMetrics,
  controller: AbortController,
): Instrumented {
  const tracker = metrics.startRequest();
  if (!first.done) tracker.onEvent(first.value);
  let started = false;
  let released = false;
  // Reads what the engine still delivers, so the request's end is counted and nothing is left running.
  const readRest = async (): Promise<void> => {
    try {
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) tracker.onEvent(r.value);
    } catch {
      // An aborted or failed request ends here; there is nobody left to tell.
    }
  };
  async function* run(): AsyncGenerator<GenerateEvent> {
    started = true;
    let result = first;
    try {
      while (!result.done) {
        yield result.value;
        result = await iterator.next();
        if (!result.done) tracker.onEvent(result.value);
      }
    } finally {
      if (!result.done) {
        // The consumer left early (client gone, a failed write, an error): abort the request.
        controller.abort();
        await readRest();
      }
    }
  }
  return {
    stream: run(),
    releaseUnread: () => {
      if (started || released || first.done) return;
      released = true;
      controller.abort();
      void readRest();
    },
  };
}

/** Interleaves async iterables as their values arrive; ends when all have ended. */
export async function* mergeAsync<T>(sources: Array<AsyncIterable<T>>): AsyncGenerator<[number, T]> {
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  const pending = new Map<number, Promise<[number, IteratorResult<T>]>>();
  const pull = (i: number): void => {
    const it = iterators[i];
    if (it) pending.set(i, it.next().then((r) => [i, r] as [number, IteratorResult<T>]));
  };
  iterators.forEach((_, i) => pull(i));
  try {
    while (pending.size > 0) {
      const [i, result] = await Promise.race(pending.values());
      if (result.done) {
        pending.delete(i);
      } else {
        pull(i);
        yield [i, result.value];
      }
    }
  } finally {
    // Not awaited: a source may be mid-step; its owner aborts it and it ends on its own.
    for (const i of pending.keys()) void iterators[i]?.return?.()?.catch(() => undefined);
  }
}
