// SchedulerOutput -> StepInput: packs the tokens each scheduled request computes this step into the
// flat arrays of one native step() call (DESIGN.md, step 4).
import type { NativeStepInput } from '../native/types.js';

/** What the runner needs of one scheduled request. */
export interface ScheduledSequence {
  /** All known token ids of the request (prompt + output so far). */
  tokenIds: ArrayLike<number>;
  /** Tokens already in the KV cache before this step (== the first position computed now). */
  startPosition: number;
  numScheduledTokens: number;
  /** The request's whole block table. */
  blockIds: ArrayLike<number>;
  /** Whether this step reaches the request's last known token, so its logits are sampled. */
  sampleThisStep: boolean;
  /**
   * A row of a step built ahead: its one token, at startPosition (== tokenIds.length), is the one
   * the previous step samples at this logits row; it is passed as -(row + 1) and resolved natively.
   */
  continuesRow?: number;
}

export function buildStepInput(
  seqs: readonly ScheduledSequence[],
  blockSize: number,
  blockCopies: ReadonlyArray<readonly [number, number]> = [],
): NativeStepInput {
  let numTokens = 0;
  let maxBlocks = 1;
  let numLogits = 0;
  let continues = false;
  for (const s of seqs) {
    if (s.continuesRow !== undefined) continues = true;
    numTokens += s.numScheduledTokens;
    maxBlocks = Math.max(maxBlocks, Math.ceil((s.startPosition + s.numScheduledTokens) / blockSize));
    if (s.sampleThisStep) numLogits++;
  }
  const tokenIds = new Int32Array(numTokens);
  const positions = new Int32Array(numTokens);
  const slotMapping = new Int32Array(numTokens);
  const queryStartLoc = new Int32Array(seqs.length + 1);
  const seqLens = new Int32Array(seqs.length);
  const blockTables = new Int32Array(seqs.length * maxBlocks);
  const logitsIndices = new Int32Array(numLogits);
  let t = 0;
  let r = 0;
  seqs.forEach((s, i) => {
    queryStartLoc[i] = t;
    const end = s.startPosition + s.numScheduledTokens;
    for (let p = s.startPosition; p < end; p++, t++) {
      const tokenId = s.continuesRow !== undefined && p === s.tokenIds.length ? -(s.continuesRow + 1) : s.tokenIds[p];
      const blockId = s.blockIds[Math.floor(p / blockSize)];
      if (tokenId === undefined || blockId === undefined) {
        throw new Error(`runner: position ${p} has no token or block (request has ${s.tokenIds.length} tokens, ${s.blockIds.length} blocks)`);
      }
      tokenIds[t] = tokenId;
      positions[t] = p;
      slotMapping[t] = blockId * blockSize + (p % blockSize);
    }
    seqLens[i] = end;
    const usedBlocks = Math.ceil(end / blockSize);
    for (let b = 0; b < usedBlocks; b++) blockTables[i * maxBlocks + b] = s.blockIds[b] as number;
    if (s.sampleThisStep) logitsIndices[r++] = t - 1;
  });
  queryStartLoc[seqs.length] = t;
  const input: NativeStepInput = {
    tokenIds,
    positions,
    slotMapping,
    queryStartLoc,
    seqLens,
    blockTables,
    maxBlocksPerSeq: maxBlocks,
    logitsIndices,
  };
  if (continues) input.continuesPrevious = true;
  if (blockCopies.length > 0) {
    input.copySrc = Int32Array.from(blockCopies, (c) => c[0]);
    input.copyDst = Int32Array.from(blockCopies, (c) => c[1]);
  }
  return input;
}
