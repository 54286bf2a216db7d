// Sequential little-endian reads from a file through a bounded window: only the bytes asked for
// are ever read, so parsing the header of a many-GB model touches only the header. Every read is
// checked against the file size first; running past the end is an ERR_MODEL_FORMAT error that
// says what was being read (`context`), never a RangeError.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { formatError, ioError } from '../format-error.js';

const WINDOW = 1 << 20;

export class ChunkedFileReader {
  readonly file: string;
  readonly size: number;
  /** What is being read, for error messages ("metadata entry 3 ('general.name')"). */
  context = 'header';
  private readonly fd: number;
  private window = Buffer.alloc(0);
  private windowStart = 0;
  private pos = 0;
  private readonly strictDecoder = new TextDecoder('utf-8', { fatal: true });
  private readonly lenientDecoder = new TextDecoder('utf-8');

  private constructor(file: string, fd: number, size: number) {
    this.file = file;
    this.fd = fd;
    this.size = size;
  }

  static open(file: string): ChunkedFileReader {
    let fd: number | undefined;
    try {
      fd = openSync(file, 'r');
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw formatError(file, 'not a regular file');
      return new ChunkedFileReader(file, fd, stat.size);
    } catch (error) {
      if (fd !== undefined) closeSync(fd);
      throw ioError(file, error);
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  get position(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.size - this.pos;
  }

  /** Makes `n` bytes at the current position available in the window (n may exceed WINDOW). */
  private ensure(n: number): number {
    if (n > this.size - this.pos) {
      throw formatError(
        this.file,
        `truncated: reading ${this.context} needs ${n} bytes at offset ${this.pos} but the file is ${this.size} bytes`,
      );
    }
    const rel = this.pos - this.windowStart;
    if (rel >= 0 && rel + n <= this.window.length) return rel;
    const length = Math.min(Math.max(n, WINDOW), this.size - this.pos);
    const buf = length <= this.window.length ? this.window : Buffer.allocUnsafe(length);
    let got = 0;
    try {
      while (got < length) {
        const r = readSync(this.fd, buf, got, length - got, this.pos + got);
        if (r === 0) break;
        got += r;
      }
    } catch (error) {
      throw ioError(this.file, error);
    }
    if (got < n) {
      throw formatError(this.file, `truncated: file shrank while reading ${this.context} at offset ${this.pos}`);
    }
    this.window = buf.subarray(0, got);
    this.windowStart = this.pos;
    return 0;
  }

  u8(): number {
    const at = this.ensure(1);
    this.pos += 1;
    return this.window[at]!;
  }

  u32(): number {
    const at = this.ensure(4);
    this.pos += 4;
    return this.window.readUInt32LE(at);
  }

  /** A uint64 as a number; values beyond 2^53 are a format error (no file is that large). */
  u64(what: string): number {
    const at = this.ensure(8);
    const value = this.window.readBigUInt64LE(at);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw formatError(this.file, `${what} ${value} at offset ${this.pos} is too large (${this.context})`);
    }
    this.pos += 8;
    return Number(value);
  }

  /** Raw bytes, copied out of the window. */
  bytes(n: number): Uint8Array {
    const at = this.ensure(n);
    this.pos += n;
    return Uint8Array.prototype.slice.call(this.window, at, at + n);
  }

  /** A view into the window, valid until the next read. */
  view(n: number): Buffer {
    const at = this.ensure(n);
    this.pos += n;
    return this.window.subarray(at, at + n);
  }

  /**
   * A UTF-8 string. Strict (an error) for names that must match exactly; lenient (U+FFFD for bad
   * bytes) for values, where llama.cpp also accepts whatever bytes are there.
   */
  utf8(n: number, strict: boolean): string {
    const at = this.ensure(n);
    const raw = this.window.subarray(at, at + n);
    let text: string;
    if (strict) {
      try {
        text = this.strictDecoder.decode(raw);
      } catch {
        throw formatError(this.file, `invalid UTF-8 in ${this.context} at offset ${this.pos}`);
      }
    } else {
      text = this.lenientDecoder.decode(raw);
    }
    this.pos += n;
    return text;
  }

  skip(n: number): void {
    this.ensure(n);
    this.pos += n;
  }
}
