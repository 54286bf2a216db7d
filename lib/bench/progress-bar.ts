// A one-line progress bar on stderr (redrawn in place on a terminal, every 10% otherwise).

export class ProgressBar {
  private readonly label: string;
  private readonly total: number | null;
  private readonly durationS: number | null;
  private readonly stream: NodeJS.WriteStream;
  private readonly start = performance.now();
  private lastDecile = -1;

  /** Either a request count (`total`) or a time budget (`durationS`) defines 100%. */
  constructor(label: string, total: number | null, durationS: number | null, stream: NodeJS.WriteStream = process.stderr) {
    this.label = label;
    this.total = total;
    this.durationS = durationS;
    this.stream = stream;
  }

  update(done: number, failed: number): void {
    const elapsed = (performance.now() - this.start) / 1000;
    const fraction = this.total !== null ? done / Math.max(1, this.total) : Math.min(1, elapsed / Math.max(1e-9, this.durationS ?? 1));
    const width = 30;
    const filled = Math.round(fraction * width);
    const bar = `${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}`;
    const count = this.total !== null ? `${done}/${this.total}` : `${done}`;
    const line = `${this.label} [${bar}] ${count} requests${failed ? ` (${failed} failed)` : ''} ${elapsed.toFixed(1)}s`;
    if (this.stream.isTTY) {
      this.stream.write(`\r${line}\x1b[K`);
    } else {
      const decile = Math.floor(fraction * 10);
      if (decile !== this.lastDecile) {
        this.lastDecile = decile;
        this.stream.write(`${line}\n`);
      }
    }
  }

  finish(done: number, failed: number): void {
    this.update(done, failed);
    if (this.stream.isTTY) this.stream.write('\n');
  }
}
