// Stop strings over streamed text: finds a stop string even when it arrives split across pieces,
// never releases text past it, and holds back only the shortest tail that could still start one.

export interface StopScan {
  /** Text that can be released now. */
  text: string;
  /** The stop string that ended the stream, if one completed. */
  stop: string | null;
}

export class StopStringMatcher {
  private held = '';
  private readonly maxLength: number;
  private done = false;

  constructor(
    private readonly stops: readonly string[],
    private readonly includeStop: boolean,
  ) {
    this.maxLength = stops.reduce((m, s) => Math.max(m, s.length), 0);
  }

  /** Adds text. After a stop string is found, everything further is dropped. */
  push(piece: string): StopScan {
    if (this.done) return { text: '', stop: null };
    const text = this.held + piece;
    const hit = this.findFirst(text);
    if (hit) {
      this.done = true;
      this.held = '';
      return { text: text.slice(0, this.includeStop ? hit.end : hit.end - hit.stop.length), stop: hit.stop };
    }
    const keep = this.partialTail(text);
    this.held = text.slice(text.length - keep);
    return { text: text.slice(0, text.length - keep), stop: null };
  }

  /** End of stream: the held tail is plain text after all. */
  flush(): string {
    const text = this.held;
    this.held = '';
    return this.done ? '' : text;
  }

  /**
   * The stop string completed earliest in `text` (the held part contains none by construction);
   * among those ending at the same place, the longest. This is what a character-by-character stream
   * would see first, so the result does not depend on how the text was split into pieces.
   */
  private findFirst(text: string): { stop: string; end: number } | null {
    let best: { stop: string; end: number } | null = null;
    for (const stop of this.stops) {
      if (stop.length === 0) continue;
      const at = text.indexOf(stop);
      if (at < 0) continue;
      const end = at + stop.length;
      if (!best || end < best.end || (end === best.end && stop.length > best.stop.length)) best = { stop, end };
    }
    return best;
  }

  /** Length of the longest proper suffix of `text` that is a prefix of some stop string. */
  private partialTail(text: string): number {
    for (let k = Math.min(text.length, this.maxLength - 1); k > 0; k--) {
      const tail = text.slice(text.length - k);
      if (this.stops.some((s) => s.length > k && s.startsWith(tail))) return k;
    }
    return 0;
  }
}
