// Structured logging (pino). The library logs through this logger; the CLI sets its level.
import { pino, type Logger } from 'pino';

let root: Logger | null = null;

export function logger(): Logger {
  root ??= pino({
    name: 'kvserve',
    level: process.env.KVSERVE_LOG_LEVEL ?? 'info',
  });
  return root;
}

export function setLogger(next: Logger): void {
  root = next;
}
