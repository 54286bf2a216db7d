// Load/download progress on stderr: a bar when stderr is a terminal, plain lines otherwise.
export function progressPrinter(label = 'kvserve'): (p: { phase: string; fraction: number; detail?: string }) => void {
  const tty = process.stderr.isTTY === true;
  let lastLine = '';
  let lastTime = 0;
  return (p) => {
    const pct = Math.max(0, Math.min(100, Math.round(p.fraction * 100)));
    const width = 24;
    const filled = Math.round((pct / 100) * width);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
    const line = `${label}: ${p.phase} [${bar}] ${String(pct).padStart(3)}%${p.detail ? ` ${p.detail}` : ''}`;
    if (tty) {
      process.stderr.write(`\r${line.padEnd(lastLine.length)}`);
      if (p.fraction >= 1) process.stderr.write('\n');
    } else {
      const now = Date.now();
      if (p.fraction >= 1 || now - lastTime > 1000 || p.phase !== lastLine.split(':')[1]?.trim().split(' ')[0]) {
        process.stderr.write(`${line}\n`);
        lastTime = now;
      }
    }
    lastLine = line;
  };
}
