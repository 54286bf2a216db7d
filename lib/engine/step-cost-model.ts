// Predicts a step's native time from its token count: time = fixed + perToken * tokens, fitted by
// least squares over recent steps (exponential forgetting, so it follows the machine and the context
// lengths). The fixed part is reading the weights once per step (memory bound on CPU), the per-token
// part the arithmetic; their ratio says how many prompt tokens a step can carry before it is a given
// factor slower than a decode-only step. Used for the scheduler's stall-free prefill limit.

/** Weight of the past per new step: about the last 1 / (1 - DECAY) steps count. */
const DECAY = 0.98;
/** Steps before the fit is trusted. */
const MIN_STEPS = 8;

export class StepCostModel {
  private sumW = 0;
  private sumX = 0;
  private sumY = 0;
  private sumXX = 0;
  private sumXY = 0;
  private steps = 0;

  /** Records one step: its scheduled tokens and native milliseconds. */
  observe(numTokens: number, ms: number): void {
    if (!(numTokens > 0) || !(ms >= 0) || !Number.isFinite(ms)) return;
    this.sumW = this.sumW * DECAY + 1;
    this.sumX = this.sumX * DECAY + numTokens;
    this.sumY = this.sumY * DECAY + ms;
    this.sumXX = this.sumXX * DECAY + numTokens * numTokens;
    this.sumXY = this.sumXY * DECAY + numTokens * ms;
    this.steps++;
  }

  /** { fixedMs, perTokenMs } once enough varied steps were seen; null before. */
  fit(): { fixedMs: number; perTokenMs: number } | null {
    if (this.steps < MIN_STEPS) return null;
    const meanX = this.sumX / this.sumW;
    const meanY = this.sumY / this.sumW;
    const varX = this.sumXX / this.sumW - meanX * meanX;
    // All steps of (nearly) one size: the split between fixed and per-token cost is unknown.
    if (!(varX > 0.25)) return null;
    const perTokenMs = (this.sumXY / this.sumW - meanX * meanY) / varX;
    if (!(perTokenMs > 0)) return null;
    return { fixedMs: Math.max(0, meanY - perTokenMs * meanX), perTokenMs };
  }

  /**
   * Prompt tokens a step with `numDecodes` decode rows may add so that it takes at most `slowdown`
   * times a decode-only step: (slowdown - 1) * (fixed / perToken + numDecodes). Infinity while the
   * fit is unknown (no limit rather than a guess).
   */
  prefillTokenLimit(numDecodes: number, slowdown: number): number {
    const fit = this.fit();
    if (fit === null) return Number.POSITIVE_INFINITY;
    return (slowdown - 1) * (fit.fixedMs / fit.perTokenMs + numDecodes);
  }
}
