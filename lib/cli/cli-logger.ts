// For one-shot commands (generate, tokenize, download) stdout carries the result, so library logs go
// to stderr as plain "kvserve: message" lines instead of pino's JSON on stdout. (`serve` keeps JSON.)
import { pino } from 'pino';
import { setLogger } from '../log.js';
import { endProgressLine } from './progress.js';

export function useStderrLogger(prefix = 'kvserve'): void {
  const destination = {
    write(line: string): void {
      try {
        const record = JSON.parse(line) as { msg?: string; level?: number };
        const level = record.level !== undefined && record.level >= 50 ? 'error: ' : record.level === 40 ? 'warning: ' : '';
        endProgressLine();
        process.stderr.write(`${prefix}: ${level}${record.msg ?? line.trim()}\n`);
      } catch {
        process.stderr.write(line);
      }
    },
  };
  setLogger(pino({ name: 'kvserve', level: process.env.KVSERVE_LOG_LEVEL ?? 'warn' }, destination));
}

/** One stderr line per notice, for onWarning callbacks. */
export function stderrWarning(prefix = 'kvserve'): (message: string) => void {
  return (message) => {
    endProgressLine();
    process.stderr.write(`${prefix}: warning: ${message}\n`);
  };
}
