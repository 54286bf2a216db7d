// Server-sent events over a fastify reply: takes the raw response over (reply.hijack), keeps the
// headers fastify hooks already set (CORS, request id), and respects backpressure. A write after the
// client went away is dropped and reported as false.
import type { FastifyReply } from 'fastify';

export class SseWriter {
  private readonly reply: FastifyReply;
  private opened = false;
  private ended = false;

  constructor(reply: FastifyReply) {
    this.reply = reply;
  }

  /** True once the client closed the connection (or the stream was ended). */
  get closed(): boolean {
    const res = this.reply.raw;
    return this.ended || res.destroyed || res.writableEnded;
  }

  open(extraHeaders: Record<string, string> = {}): void {
    if (this.opened) return;
    this.opened = true;
    this.reply.hijack();
    const headers: Record<string, string | number | string[]> = {};
    for (const [name, value] of Object.entries(this.reply.getHeaders())) {
      if (value !== undefined) headers[name] = value;
    }
    Object.assign(headers, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...extraHeaders,
    });
    this.reply.raw.writeHead(200, headers);
  }

  /** Writes one event whose data is `payload` (a string is sent as is, anything else as JSON). */
  async send(payload: unknown, prefix = 'data: '): Promise<boolean> {
    if (!this.opened) this.open();
    if (this.closed) return false;
    const data = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const res = this.reply.raw;
    if (res.write(`${prefix}${data}\n\n`)) return true;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
    return !this.closed;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    const res = this.reply.raw;
    if (!res.destroyed && !res.writableEnded) res.end();
  }
}
