// The merge queue shared by the SPM and BPE encoders: a binary max-heap of candidate symbol pairs
// kept in parallel typed arrays (no per-entry objects: a 100 KB fragment queues ~10^5 pairs).
// Order: higher priority first, then the left-most pair (llama.cpp's tie-break for both tokenizers).

export class BigramQueue {
  private priority = new Float64Array(64);
  private left = new Int32Array(64);
  private right = new Int32Array(64);
  private size = new Int32Array(64);
  private count = 0;

  /** Fields of the entry returned by the last pop(). */
  poppedLeft = 0;
  poppedRight = 0;
  poppedSize = 0;

  get length(): number {
    return this.count;
  }

  push(priority: number, left: number, right: number, size: number): void {
    if (this.count === this.priority.length) this.grow();
    let i = this.count++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(priority, left, parent)) break;
      this.move(parent, i);
      i = parent;
    }
    this.set(i, priority, left, right, size);
  }

  /** Removes the best entry into popped*; returns false when empty. */
  pop(): boolean {
    if (this.count === 0) return false;
    this.poppedLeft = this.left[0] as number;
    this.poppedRight = this.right[0] as number;
    this.poppedSize = this.size[0] as number;
    const last = --this.count;
    if (last === 0) return true;
    const p = this.priority[last] as number;
    const l = this.left[last] as number;
    const r = this.right[last] as number;
    const s = this.size[last] as number;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= last) break;
      if (c + 1 < last && this.before(this.priority[c + 1] as number, this.left[c + 1] as number, c)) c++;
      if (!this.beforeEntry(c, p, l)) break;
      this.move(c, i);
      i = c;
    }
    this.set(i, p, l, r, s);
    return true;
  }

  /** Whether (priority, left) goes before the entry at index j. */
  private before(priority: number, left: number, j: number): boolean {
    const pj = this.priority[j] as number;
    return priority > pj || (priority === pj && left < (this.left[j] as number));
  }

  /** Whether the entry at index j goes before (priority, left). */
  private beforeEntry(j: number, priority: number, left: number): boolean {
    const pj = this.priority[j] as number;
    return pj > priority || (pj === priority && (this.left[j] as number) < left);
  }

  private move(from: number, to: number): void {
    this.set(to, this.priority[from] as number, this.left[from] as number, this.right[from] as number, this.size[from] as number);
  }

  private set(i: number, priority: number, left: number, right: number, size: number): void {
    this.priority[i] = priority;
    this.left[i] = left;
    this.right[i] = right;
    this.size[i] = size;
  }

  private grow(): void {
    const n = this.priority.length * 2;
    const grow = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.priority = grow(this.priority, (k) => new Float64Array(k));
    this.left = grow(this.left, (k) => new Int32Array(k));
    this.right = grow(this.right, (k) => new Int32Array(k));
    this.size = grow(this.size, (k) => new Int32Array(k));
  }
}
