// Load/download progress on stderr: a bar redrawn in place when stderr is a terminal (cut to its
// width), plain lines otherwise (at phase changes, at completion, and at most every 2 s between).
export interface ProgressUpdate {
  phase: string;
  fraction: number;
  detail?: string;
}

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const BAR_WIDTH = 20;
const PLAIN_INTERVAL_MS = 2000;

export function formatProgressLine(label: string, p: ProgressUpdate): string {
  const pct = Math.max(0, Math.min(100, Math.floor(p.fraction * 100)));
  const filled = Math.round((pct / 100) * BAR_WIDTH);
  return `${label}: ${p.phase} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(pct).padStart(3)}%${p.detail ? ` ${p.detail}` : ''}`;
}

/** The stream whose TTY progress line is being redrawn, if any (other output must start below it). */
let openLine: ProgressStream | null = null;

/** Ends a progress line being redrawn, so that a message written next starts on its own line. */
export function endProgressLine(): void {
  openLine?.write('\n');
  openLine = null;
}

export function progressPrinter(label = 'kvserve', stream: ProgressStream = process.stderr): (p: ProgressUpdate) => void {
  const tty = stream.isTTY === true;
  let phase: string | null = null;
  let drawnLength = 0;
  let lastPlain = 0;
  let last = '';
  return (p) => {
    const done = p.fraction >= 1;
    let line = formatProgressLine(label, p);
    if (line === last) return;
    last = line;
    if (tty) {
      if (openLine === stream && p.phase !== phase) endProgressLine();
      if (openLine !== stream) drawnLength = 0;
      const width = (stream.columns || 80) - 1;
      if (line.length > width) line = `${line.slice(0, Math.max(0, width - 3))}...`;
      stream.write(`\r${line.padEnd(drawnLength)}${done ? '\n' : ''}`);
      drawnLength = done ? 0 : line.length;
      openLine = done ? null : stream;
    } else {
      const now = Date.now();
      if (done || p.phase !== phase || now - lastPlain >= PLAIN_INTERVAL_MS) {
        stream.write(`${line}\n`);
        lastPlain = now;
      }
    }
    phase = p.phase;
  };
}
