// The waiting queue. 'fcfs': arrival order, with preempted requests put back at the front so they
// resume before anything newer. 'priority': ordered by (priority, arrivalTime, order added); a
// preempted request goes back to its place in that order, which is ahead of everything that
// arrived later with the same priority.
//
// Backed by a plain array: the queue is bounded by maxNumQueuedRequests and the costly
// operations (front insertions, removal on abort) move at most that many references.
import type { Request } from './request.js';

export type SchedulingPolicy = 'fcfs' | 'priority';

/** Orders requests for the 'priority' policy; `order` breaks ties in the order they were added. */
export type RequestOrder = (request: Request) => number;

export class RequestQueue {
  private readonly items: Request[] = [];

  constructor(
    readonly policy: SchedulingPolicy,
    private readonly order: RequestOrder,
  ) {}

  get length(): number {
    return this.items.length;
  }

  /** The next request to admit, without removing it. */
  peek(): Request | undefined {
    return this.items[0];
  }

  /** Removes and returns the next request to admit. */
  pop(): Request | undefined {
    return this.items.shift();
  }

  /** A newly arrived request. */
  push(request: Request): void {
    if (this.policy === 'fcfs') this.items.push(request);
    else this.insertSorted(request);
  }

  /** A preempted request (or one that must run next): the front under fcfs, its place under priority. */
  pushFront(request: Request): void {
    if (this.policy === 'fcfs') this.items.unshift(request);
    else this.insertSorted(request);
  }

  /** Puts `replacements` where `request` is (fcfs), or in order (priority); false if absent. */
  replace(request: Request, replacements: readonly Request[]): boolean {
    const index = this.items.indexOf(request);
    if (index < 0) return false;
    if (this.policy === 'fcfs') {
      this.items.splice(index, 1, ...replacements);
    } else {
      this.items.splice(index, 1);
      for (const item of replacements) this.insertSorted(item);
    }
    return true;
  }

  remove(request: Request): boolean {
    const index = this.items.indexOf(request);
    if (index < 0) return false;
    this.items.splice(index, 1);
    return true;
  }

  has(request: Request): boolean {
    return this.items.includes(request);
  }

  [Symbol.iterator](): IterableIterator<Request> {
    return this.items[Symbol.iterator]();
  }

  /** Negative when `a` runs before `b` under the priority policy. */
  compare(a: Request, b: Request): number {
    return a.priority - b.priority || a.arrivalTime - b.arrivalTime || this.order(a) - this.order(b);
  }

  private insertSorted(request: Request): void {
    let low = 0;
    let high = this.items.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.compare(this.items[mid] as Request, request) <= 0) low = mid + 1;
      else high = mid;
    }
    this.items.splice(low, 0, request);
  }
}
