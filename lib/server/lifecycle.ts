// Serving state for graceful shutdown: while draining, readiness is false and new work gets 503;
// requests already running may finish until the deadline, after which they are aborted.
import { setTimeout as sleep } from 'node:timers/promises';

export interface DrainResult {
  /** Requests that were still running at the deadline and were aborted. */
  numAborted: number;
  /** Milliseconds the drain took. */
  elapsedMs: number;
}

export class Lifecycle {
  private drainingFlag = false;
  private readonly inFlight = new Set<AbortController>();
  private readonly idleWaiters: Array<() => void> = [];

  get draining(): boolean {
    return this.drainingFlag;
  }

  get numInFlight(): number {
    return this.inFlight.size;
  }

  /** Registers a running request; returns the function that unregisters it. */
  track(controller: AbortController): () => void {
    this.inFlight.add(controller);
    return () => {
      if (!this.inFlight.delete(controller)) return;
      if (this.inFlight.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    };
  }

  /**
   * Stops admitting work and waits up to `timeoutMs` for in-flight requests to finish, then aborts
   * the rest and waits (briefly) for them to unwind.
   */
  async drain(timeoutMs: number): Promise<DrainResult> {
    const start = performance.now();
    this.drainingFlag = true;
    const idle = (): Promise<void> =>
      this.inFlight.size === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
    const deadline = new AbortController();
    const finished = await Promise.race([
      idle().then(() => true),
      sleep(Math.max(0, timeoutMs), false, { signal: deadline.signal }).catch(() => false),
    ]);
    deadline.abort();
    let numAborted = 0;
    if (!finished) {
      numAborted = this.inFlight.size;
      for (const controller of this.inFlight) controller.abort(new Error('server shutting down'));
      const unwind = new AbortController();
      await Promise.race([idle(), sleep(5000, undefined, { signal: unwind.signal }).catch(() => undefined)]);
      unwind.abort();
    }
    return { numAborted, elapsedMs: performance.now() - start };
  }
}
