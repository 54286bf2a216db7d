// The Engine: tokenizes requests, schedules them (pure-TS scheduler and KV manager), runs one native
// step per iteration of its loop, and streams each request's output as typed events.
import { randomUUID } from 'node:crypto';
import { KvserveError, invalidArgument } from '../errors.js';
import { KvCacheManager } from '../kv/kv-cache-manager.js';
import { logger } from '../log.js';
import { resolveModelPath } from '../model/resolve-model-path.js';
import { loadModelSpec } from '../model/load-model-spec.js';
import type { ModelSpec } from '../model/types.js';
import { cudaAvailability } from '../native/cuda-probe.js';
import { loadNativeAddon } from '../native/load.js';
import { nativeModelDescription } from '../native/model-description.js';
import type { NativeModel, NativeModelInfo, NativeStepResult } from '../native/types.js';
import { buildStepInput } from '../runner/build-step-input.js';
import { buildSamplingInput } from '../runner/build-sampling-input.js';
import { validateSamplingParams, type SamplingParams } from '../sampling/sampling-params.js';
import { Request } from '../scheduler/request.js';
import { Scheduler } from '../scheduler/scheduler.js';
import type { SchedulerOutput } from '../scheduler/scheduler-output.js';
import { loadTokenizer } from '../tokenizer/index.js';
import type { Tokenizer } from '../tokenizer/types.js';
import { resolveEngineConfig, type EngineOptions, type ResolvedEngineConfig } from './engine-options.js';
import { EventChannel } from './event-channel.js';
import { SampleState } from './sample-state.js';
import { StepCostModel } from './step-cost-model.js';
import type {
  ChatMessage,
  EngineStats,
  GenerateEvent,
  GenerateOptions,
  PromptInput,
  SamplingParamsInput,
} from './types.js';

/** A prompt as the engine receives it: PromptInput, or text with explicit special-token handling (chat). */
type PromptSource = PromptInput | { text: string; addSpecialTokens: boolean };

/** A step handed to the native model (or the error that kept it from starting). */
interface LaunchedStep {
  output: SchedulerOutput;
  promise: Promise<NativeStepResult> | null;
  launchError?: unknown;
  maxLogprobs: number;
}

/** A step's sampled tokens, applied to the scheduler but not yet delivered as events. */
interface StepTokens {
  /** requestId and logits row of each sampled request, in row order. */
  rows: Array<[string, number]>;
  tokenIds: Int32Array;
  logprobs: ReturnType<typeof readLogprobs>;
  /** Requests the scheduler finished at this step (EOS, stop ids, length). */
  finished: Request[];
}

interface RequestGroup {
  groupId: string;
  channel: EventChannel<GenerateEvent>;
  samples: SampleState[];
  numPromptTokens: number;
  onAbort?: () => void;
  signal?: AbortSignal;
}

export class Engine implements AsyncDisposable {
  readonly tokenizer: Tokenizer;
  readonly spec: ModelSpec;
  readonly config: ResolvedEngineConfig;
  readonly modelName: string;
  private readonly model: NativeModel;
  private readonly scheduler: Scheduler;
  private readonly groups = new Map<string, RequestGroup>();
  /** requestId of a sample -> its state */
  private readonly samples = new Map<string, SampleState>();
  private loopRunning = false;
  private closed = false;
  private loopDone: Promise<void> = Promise.resolve();
  private stepFailures = 0;
  /** Step time against step size, for the stall-free prefill limit; null when that limit is off. */
  private readonly stepCost: StepCostModel | null;

  /** The chat template given at creation, overriding the model's own (undefined: the model's). */
  readonly chatTemplate: string | undefined;

  private constructor(spec: ModelSpec, tokenizer: Tokenizer, model: NativeModel, config: ResolvedEngineConfig, chatTemplate?: string) {
    this.chatTemplate = chatTemplate;
    this.spec = spec;
    this.tokenizer = tokenizer;
    this.model = model;
    this.config = config;
    this.modelName = spec.name;
    const kv = new KvCacheManager({
      numBlocks: config.numBlocks,
      blockSize: config.blockSize,
      enablePrefixCaching: config.enablePrefixCaching,
    });
    const stepCost = config.maxDecodeSlowdown > 0 ? new StepCostModel() : null;
    this.stepCost = stepCost;
    this.scheduler = new Scheduler(
      {
        maxNumBatchedTokens: config.maxNumBatchedTokens,
        maxNumSeqs: config.maxNumSeqs,
        maxModelLen: config.maxModelLen,
        ...(config.maxNumQueuedRequests !== undefined ? { maxNumQueuedRequests: config.maxNumQueuedRequests } : {}),
        policy: config.schedulingPolicy,
        ...(stepCost !== null
          ? { prefillTokenLimit: (numDecodes: number) => stepCost.prefillTokenLimit(numDecodes, config.maxDecodeSlowdown) }
          : {}),
      },
      kv,
    );
  }

  static async create(options: EngineOptions): Promise<Engine> {
    if (!options || typeof options.model !== 'string' || options.model.length === 0) {
      throw invalidArgument('model', 'a model path or hub id', options?.model);
    }
    const progress = options.onProgress ?? (() => {});
    const path = await resolveModelPath(options.model, options.revision ?? 'main', progress, {
      ...(options.hub ? { hub: options.hub } : {}),
      ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    });
    progress({ phase: 'load', fraction: 0, detail: 'reading model' });
    const spec = await loadModelSpec(path);
    const tokenizer = await loadTokenizer(spec.format === 'gguf' ? spec.source : path);
    const config = resolveEngineConfig(options, spec);
    progress({ phase: 'load', fraction: 0.5, detail: 'mapping weights and allocating the KV cache' });
    const addon = loadNativeAddon({ device: config.device });
    // The CUDA addon also runs on the CPU: use the GPU when asked to, or when 'auto' found one usable.
    const device =
      addon.backend === 'cuda' && (config.device === 'cuda' || (config.device === 'auto' && cudaAvailability().available))
        ? 'cuda'
        : 'cpu';
    let model: NativeModel;
    try {
      model = new addon.Model(
        nativeModelDescription(spec, { numBlocks: config.numBlocks, blockSize: config.blockSize, dtype: config.kvCacheDtype }, config.threads, options.isa, device),
      );
    } catch (err) {
      throw new KvserveError('ERR_MODEL_FORMAT', `${spec.source}: ${(err as Error).message}`, { cause: err });
    }
    progress({ phase: 'load', fraction: 1 });
    return new Engine(spec, tokenizer, model, config, options.chatTemplate);
  }

  get maxModelLen(): number {
    return this.config.maxModelLen;
  }

  get kvCapacity(): { numBlocks: number; blockSize: number; numTokens: number; bytesPerToken: number } {
    const info = this.model.info();
    return { numBlocks: info.numBlocks, blockSize: info.blockSize, numTokens: info.numBlocks * info.blockSize, bytesPerToken: info.kvBytesPerToken };
  }

  nativeInfo(): NativeModelInfo {
    return this.model.info();
  }

  /** Streams the output of one prompt. Invalid parameters, an over-long prompt or a full queue reject the first next(). */
  generate(prompt: PromptInput, params: SamplingParamsInput = {}, options: GenerateOptions = {}): AsyncIterableIterator<GenerateEvent> {
    return this.start(prompt, params, options);
  }

  private start(prompt: PromptSource, params: SamplingParamsInput, options: GenerateOptions): AsyncIterableIterator<GenerateEvent> {
    const groupId = options.requestId ?? randomUUID();
    const channel = new EventChannel<GenerateEvent>(() => this.abort(groupId));
    this.submit(groupId, channel, prompt, params, options).catch((err: unknown) => channel.fail(err));
    return channel;
  }

  /** Applies the chat template (the engine's override, else the model's) and generates. */
  chat(messages: ChatMessage[], params: SamplingParamsInput = {}, options: GenerateOptions = {}): AsyncIterableIterator<GenerateEvent> {
    const text = this.tokenizer.applyChatTemplate(messages, {
      addGenerationPrompt: true,
      ...(this.chatTemplate !== undefined ? { template: this.chatTemplate } : {}),
    });
    // Chat templates write their own BOS, so none is added here (as vLLM).
    return this.start({ text, addSpecialTokens: false }, params, options);
  }

  /** Aborts every sample of a request; its KV blocks are free before the next step. */
  abort(requestId: string): void {
    const group = this.groups.get(requestId);
    if (!group) return;
    for (const s of group.samples) {
      if (s.finished) continue;
      this.scheduler.abort(s.request.requestId);
      this.finishSample(group, s, 'abort');
    }
  }

  stats(): EngineStats {
    const s = this.scheduler.stats();
    return {
      numRunning: s.numRunning,
      numWaiting: s.numWaiting,
      kvBlocksUsed: s.numUsedBlocks,
      kvBlocksTotal: s.numTotalBlocks,
      kvCacheUsage: s.kvUsage,
      prefixCacheQueries: s.prefixCacheQueries,
      prefixCacheHits: s.prefixCacheHits,
      prefixCacheHitRate: s.prefixCacheQueries > 0 ? s.prefixCacheHits / s.prefixCacheQueries : 0,
      numPreemptions: s.numPreemptions,
    };
  }

  /** Aborts what is in flight, waits for the running step, frees native memory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const groupId of [...this.groups.keys()]) this.abort(groupId);
    await this.loopDone;
    this.model.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async submit(
    groupId: string,
    channel: EventChannel<GenerateEvent>,
    prompt: PromptSource,
    input: SamplingParamsInput,
    options: GenerateOptions,
  ): Promise<void> {
    if (this.closed) throw new KvserveError('ERR_ENGINE_CLOSED', 'the engine is closed');
    if (this.groups.has(groupId)) throw invalidArgument('requestId', 'an id not already in use', groupId);
    const promptTokenIds = await this.tokenizePrompt(prompt);
    const params = validateSamplingParams(input, {
      vocabSize: this.spec.config.vocabSize,
      maxModelLen: this.config.maxModelLen,
      defaults: this.samplingDefaults(),
    });
    if (this.closed) throw new KvserveError('ERR_ENGINE_CLOSED', 'the engine is closed');
    if (options.signal?.aborted) throw new KvserveError('ERR_ENGINE_ABORTED', 'the request was aborted before it started');
    const arrivalTime = performance.now();
    const eosTokenIds = [...new Set([...this.tokenizer.eosTokenIds, ...this.spec.config.eosTokenIds])];
    const samples: SampleState[] = [];
    for (let i = 0; i < params.n; i++) {
      const requestId = params.n === 1 ? groupId : `${groupId}#${i}`;
      const request = Request.fromSamplingParams(requestId, promptTokenIds, params, {
        eosTokenIds,
        priority: options.priority ?? 0,
        arrivalTime: Date.now(),
        cacheSalt: options.cacheSalt ?? null,
      });
      samples.push(new SampleState(groupId, i, request, params, this.tokenizer, promptTokenIds, arrivalTime, samplingSeed(params, i)));
    }
    // Add the parent first, then fork the siblings from it (they share the prompt's blocks).
    const first = samples[0] as SampleState;
    this.scheduler.addRequest(first.request);
    for (const s of samples.slice(1)) {
      try {
        this.scheduler.addRequest(s.request, { forkFrom: first.request.requestId });
      } catch (err) {
        for (const added of samples) this.scheduler.abort(added.request.requestId);
        throw err;
      }
    }
    const group: RequestGroup = { groupId, channel, samples, numPromptTokens: promptTokenIds.length };
    this.groups.set(groupId, group);
    for (const s of samples) this.samples.set(s.request.requestId, s);
    if (options.signal) {
      const onAbort = () => this.abort(groupId);
      options.signal.addEventListener('abort', onAbort, { once: true });
      group.onAbort = onAbort;
      group.signal = options.signal;
    }
    this.wake();
  }

  private async tokenizePrompt(prompt: PromptSource): Promise<number[]> {
    let ids: number[];
    if (typeof prompt === 'string') {
      ids = await this.tokenizer.encode(prompt, { addSpecialTokens: true });
    } else if (prompt && typeof prompt === 'object' && 'text' in prompt && typeof prompt.text === 'string') {
      ids = await this.tokenizer.encode(prompt.text, { addSpecialTokens: prompt.addSpecialTokens });
    } else if (prompt && typeof prompt === 'object' && 'promptTokenIds' in prompt && Array.isArray(prompt.promptTokenIds)) {
      ids = prompt.promptTokenIds;
      const vocab = this.spec.config.vocabSize;
      ids.forEach((id, i) => {
        if (!Number.isInteger(id) || id < 0 || id >= vocab) throw invalidArgument(`promptTokenIds[${i}]`, `a token id in [0, ${vocab})`, id);
      });
    } else {
      throw invalidArgument('prompt', 'a string or { promptTokenIds: number[] }', prompt);
    }
    if (ids.length === 0) throw invalidArgument('prompt', 'at least one token', '(empty)');
    return ids;
  }

  private samplingDefaults(): Parameters<typeof validateSamplingParams>[1]['defaults'] {
    const d = this.spec.generationDefaults;
    return {
      ...(d.temperature !== undefined ? { temperature: d.temperature } : {}),
      ...(d.topK !== undefined ? { topK: d.topK } : {}),
      ...(d.topP !== undefined ? { topP: d.topP } : {}),
      ...(d.minP !== undefined ? { minP: d.minP } : {}),
      ...(d.repetitionPenalty !== undefined ? { repetitionPenalty: d.repetitionPenalty } : {}),
    };
  }

  private wake(): void {
    if (this.loopRunning || this.closed) return;
    this.loopRunning = true;
    // The loop never rejects: a failure outside any one request ends the requests in flight with an
    // error instead of leaving them hanging (or crashing the process on an unhandled rejection).
    this.loopDone = this.loop().catch((err: unknown) => this.failAll(err)).finally(() => {
      this.loopRunning = false;
      // Requests may have arrived while the loop was finishing.
      if (!this.closed && this.scheduler.hasUnfinishedRequests()) this.wake();
    });
  }

  private async loop(): Promise<void> {
    // Two overlaps keep native compute busy between steps:
    //  - a step's tokens are delivered as events (detokenization, stop strings, the consumers'
    //    wake-ups) after the next step is launched; the scheduler itself is updated first. A request
    //    a stop string ends is then already in the launched step: it is finished as an abort mid-step
    //    is, and that step's token for it is dropped;
    //  - while a step runs, the step after it is built ahead (Scheduler.scheduleAhead) and queued
    //    behind it natively, its tokens taken from the running step's samples; so in steady decoding
    //    the next step starts the moment the last one ends, with no round trip through JS.
    let pending: StepTokens | null = null;
    const inFlight: LaunchedStep[] = [];
    try {
      while (!this.closed && (inFlight.length > 0 || this.scheduler.hasUnfinishedRequests())) {
        if (inFlight.length === 0) {
          const output = this.scheduler.schedule();
          if (output.scheduled.length === 0) {
            if (pending) pending = this.deliver(pending);
            // Nothing can run now (e.g. everything waiting was aborted); a new request wakes the loop.
            if (!this.scheduler.hasUnfinishedRequests()) break;
            await new Promise((resolve) => setImmediate(resolve));
            continue;
          }
          inFlight.push(this.launch(output));
        }
        if (inFlight.length === 1 && this.config.asyncScheduling) {
          const ahead = this.scheduler.scheduleAhead((inFlight[0] as LaunchedStep).output);
          if (ahead) inFlight.push(this.launch(ahead));
        }
        if (pending) pending = this.deliver(pending);
        const step = inFlight.shift() as LaunchedStep;
        let result: NativeStepResult;
        try {
          if (!step.promise) throw step.launchError;
          result = await step.promise;
          this.stepCost?.observe(step.output.numBatchedTokens, result.computeMs);
          this.stepFailures = 0;
        } catch (err) {
          this.failStep(step.output, err);
          continue;
        }
        pending = this.recordStep(step.output, result.tokenIds, readLogprobs(result, step.maxLogprobs));
      }
    } finally {
      // Closing: the native model may only be released once no step of it is in flight.
      for (const step of inFlight) await step.promise?.catch(() => {});
      if (pending) this.deliver(pending);
    }
  }

  /** Builds a step's native input and starts it; a failure to build or start is kept for the caller. */
  private launch(output: SchedulerOutput): LaunchedStep {
    const now = performance.now();
    for (const s of output.scheduled) this.samples.get(s.request.requestId)?.markScheduled(now);
    try {
      const sampling = buildSamplingInput(output.scheduled, this.samples);
      const promise = this.model.step({
        ...buildStepInput(
          output.scheduled.map((s) => ({
            tokenIds: s.request.allTokenIds,
            startPosition: s.startPosition,
            numScheduledTokens: s.numScheduledTokens,
            blockIds: s.blockIds,
            sampleThisStep: s.sampleThisStep,
            ...(s.continuesRow !== undefined ? { continuesRow: s.continuesRow } : {}),
          })),
          this.config.blockSize,
          output.blockCopies,
        ),
        sampling,
      });
      return { output, promise, maxLogprobs: sampling.maxLogprobs };
    } catch (err) {
      return { output, promise: null, launchError: err, maxLogprobs: 0 };
    }
  }

  /** Applies a step's sampled tokens to the scheduler (finishing requests at EOS, stop ids or length). */
  private recordStep(output: SchedulerOutput, tokenIds: Int32Array, logprobs: ReturnType<typeof readLogprobs>): StepTokens {
    const sampled = new Map<string, number[]>();
    const rows: Array<[string, number]> = [];
    let row = 0;
    for (const s of output.scheduled) {
      if (!s.sampleThisStep) continue;
      rows.push([s.request.requestId, row]);
      sampled.set(s.request.requestId, [tokenIds[row] as number]);
      row++;
    }
    const finished = this.scheduler.updateFromOutput(output, sampled);
    return { rows, tokenIds, logprobs, finished };
  }

  /** Turns a recorded step's tokens into events; ends the samples that finished or hit a stop string. */
  private deliver(step: StepTokens): null {
    const finishedIds = new Set(step.finished.map((r) => r.requestId));
    const now = performance.now();
    for (const [requestId, r] of step.rows) {
      const state = this.samples.get(requestId);
      if (!state || state.finished) continue;
      const group = this.groups.get(state.groupId);
      if (!group) continue;
      try {
        const event = state.pushToken(step.tokenIds[r] as number, step.logprobs?.(r), now);
        if (event) group.channel.push(event);
        if (state.stoppedByString && !finishedIds.has(requestId)) {
          this.scheduler.finishRequest(requestId, 'finished_stopped');
          this.finishSample(group, state, 'stop');
        }
      } catch (err) {
        this.failGroup(group, err);
      }
    }
    for (const request of step.finished) {
      const state = this.samples.get(request.requestId);
      if (!state || state.finished) continue;
      const group = this.groups.get(state.groupId);
      if (!group) continue;
      try {
        this.finishSample(group, state, state.stoppedByString || request.status === 'finished_stopped' ? 'stop' : 'length', request.stopReason ?? undefined);
      } catch (err) {
        this.failGroup(group, err);
      }
    }
    return null;
  }

  /** Ends one request (all its samples) with an error; the rest of the batch goes on. */
  private failGroup(group: RequestGroup, err: unknown): void {
    const error = new KvserveError('ERR_ENGINE_REQUEST_FAILED', `request ${group.groupId} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    logger().error({ err: error.message, requestId: group.groupId }, 'request failed');
    for (const s of group.samples) this.scheduler.abort(s.request.requestId);
    this.dropGroup(group);
    group.channel.fail(error);
  }

  /** The loop itself failed: every request in flight ends with the error, and their KV blocks are freed. */
  private failAll(err: unknown): void {
    const error = new KvserveError('ERR_ENGINE_INTERNAL', `engine step loop failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    logger().error({ err: error.message, numRequests: this.groups.size }, 'engine step loop failed');
    for (const group of [...this.groups.values()]) {
      for (const s of group.samples) this.scheduler.abort(s.request.requestId);
      this.dropGroup(group);
      group.channel.fail(error);
    }
  }

  private failStep(output: SchedulerOutput, err: unknown): void {
    this.stepFailures++;
    const error = new KvserveError('ERR_NATIVE_STEP', `native step failed: ${(err as Error).message}`, { cause: err });
    logger().error({ err: error.message, numRequests: output.scheduled.length }, 'native step failed');
    for (const s of output.scheduled) {
      const state = this.samples.get(s.request.requestId);
      if (!state) continue;
      const group = this.groups.get(state.groupId);
      if (!group) continue;
      for (const sib of group.samples) this.scheduler.abort(sib.request.requestId);
      this.dropGroup(group);
      group.channel.fail(error);
    }
  }

  private finishSample(group: RequestGroup, state: SampleState, reason: 'stop' | 'length' | 'abort', stopToken?: number): void {
    const tail = state.finish(reason, stopToken, performance.now(), group.numPromptTokens);
    for (const event of tail) group.channel.push(event);
    this.samples.delete(state.request.requestId);
    if (group.samples.every((s) => s.finished)) {
      this.dropGroup(group);
      group.channel.end();
    }
  }

  private dropGroup(group: RequestGroup): void {
    this.groups.delete(group.groupId);
    for (const s of group.samples) this.samples.delete(s.request.requestId);
    if (group.signal && group.onAbort) group.signal.removeEventListener('abort', group.onAbort);
  }
}

function samplingSeed(params: SamplingParams, index: number): number {
  // A seeded request gives the same output alone or batched; siblings of n > 1 get distinct streams.
  if (params.seed !== null) return (params.seed + index * 0x9e3779b1) >>> 0;
  return Math.floor(Math.random() * 2 ** 32) >>> 0;
}

function readLogprobs(
  result: { logprobs?: Float32Array; topIds?: Int32Array; topLogprobs?: Float32Array },
  maxLogprobs: number,
): ((row: number) => { logprob: number; top: Array<{ tokenId: number; logprob: number }> }) | null {
  if (!result.logprobs) return null;
  const lp = result.logprobs;
  return (row) => {
    const top: Array<{ tokenId: number; logprob: number }> = [];
    for (let k = 0; k < maxLogprobs; k++) {
      const id = result.topIds?.[row * maxLogprobs + k];
      const v = result.topLogprobs?.[row * maxLogprobs + k];
      if (id === undefined || v === undefined || id < 0) break;
      top.push({ tokenId: id, logprob: v });
    }
    return { logprob: lp[row] as number, top };
  };
}
