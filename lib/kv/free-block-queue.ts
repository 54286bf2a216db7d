// The free block queue: every block with ref count 0, in eviction order (the front is allocated
// and, if it holds a cached prefix block, evicted first). A doubly linked list over block ids in
// two Int32Arrays, so a cached free block that gets hit again is removed from the middle in O(1).

export class FreeBlockQueue {
  /** Sentinel index: the list is circular through it; next[sentinel] is the front. */
  private readonly sentinel: number;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly queued: Uint8Array;
  private numQueued = 0;

  /** Starts with blocks 0..numBlocks-1 queued in id order. */
  constructor(readonly numBlocks: number) {
    this.sentinel = numBlocks;
    this.next = new Int32Array(numBlocks + 1);
    this.prev = new Int32Array(numBlocks + 1);
    this.queued = new Uint8Array(numBlocks);
    this.next[this.sentinel] = this.sentinel;
    this.prev[this.sentinel] = this.sentinel;
    for (let blockId = 0; blockId < numBlocks; blockId++) this.pushBack(blockId);
  }

  get length(): number {
    return this.numQueued;
  }

  has(blockId: number): boolean {
    return this.queued[blockId] === 1;
  }

  /** Appends at the back (evicted last). */
  pushBack(blockId: number): void {
    if (this.queued[blockId] === 1) throw new Error(`block ${blockId} is already in the free queue`);
    const last = this.prev[this.sentinel] as number;
    this.next[last] = blockId;
    this.prev[blockId] = last;
    this.next[blockId] = this.sentinel;
    this.prev[this.sentinel] = blockId;
    this.queued[blockId] = 1;
    this.numQueued++;
  }

  /** Removes and returns the front block (the next to allocate), or -1 when empty. */
  popFront(): number {
    const first = this.next[this.sentinel] as number;
    if (first === this.sentinel) return -1;
    this.remove(first);
    return first;
  }

  /** Removes a block from anywhere in the queue in O(1). */
  remove(blockId: number): void {
    if (this.queued[blockId] !== 1) throw new Error(`block ${blockId} is not in the free queue`);
    const before = this.prev[blockId] as number;
    const after = this.next[blockId] as number;
    this.next[before] = after;
    this.prev[after] = before;
    this.queued[blockId] = 0;
    this.numQueued--;
  }

  /** Block ids front to back (eviction order). O(n); for tests and diagnostics. */
  toArray(): number[] {
    const out: number[] = [];
    for (let id = this.next[this.sentinel] as number; id !== this.sentinel; id = this.next[id] as number) {
      out.push(id);
    }
    return out;
  }
}
