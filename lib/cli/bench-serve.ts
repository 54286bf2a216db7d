// `kvserve bench serve`: load-test any OpenAI-compatible server with streaming completions and report
// what `vllm bench serve` reports, per concurrency level.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatLevel, formatSummaryTable } from '../bench/serve-report.js';
import { BenchServeError } from '../bench/bench-error.js';
import { discoverModel, runServeBench, type ServeBenchOptions, type ServeBenchReport } from '../bench/serve-runner.js';
import { invalidArgument } from '../errors.js';
import { parseDurationSeconds, parseInteger, parseIntegerList, parseNumber } from './flag-values.js';

const HELP = `usage: kvserve bench serve [options]

  --base-url <url>          server to load (default http://127.0.0.1:8000)
  --model <name>            model name to send (default: the first of GET /v1/models)
  --concurrency <list>      levels to run, e.g. 1,2,4,16,32 (default 1)
  --num-prompts <n>         requests per level (default 100 unless --duration)
  --duration <time>         send requests for this long per level instead, e.g. 60s
  --input-len <n>           prompt tokens (default 128)
  --output-len <n>          generated tokens per request (ignore_eos, max_tokens = n; default 128)
  --request-rate <r>        requests per second, Poisson arrivals (default inf)
  --seed <n>                workload seed (default 0)
  --api-key <key>           bearer key (default $OPENAI_API_KEY)
  --save-result             write the results as JSON
  --result-dir <dir>        where --save-result writes (default .)
  --result-filename <name>  file name for --save-result
  --no-progress             no progress bar`;

export interface BenchServeConfig extends ServeBenchOptions {
  saveResult: string | null;
}

export function parseBenchServeArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): BenchServeConfig | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      'base-url': { type: 'string' },
      model: { type: 'string' },
      concurrency: { type: 'string' },
      'max-concurrency': { type: 'string' },
      'num-prompts': { type: 'string' },
      duration: { type: 'string' },
      'input-len': { type: 'string' },
      'output-len': { type: 'string' },
      'random-input-len': { type: 'string' },
      'random-output-len': { type: 'string' },
      'request-rate': { type: 'string' },
      seed: { type: 'string' },
      'api-key': { type: 'string' },
      'save-result': { type: 'boolean' },
      'result-dir': { type: 'string' },
      'result-filename': { type: 'string' },
      'no-progress': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (positionals.length > 0) throw invalidArgument('bench serve', 'options only', positionals.join(' '));
  const concurrencyFlag = values.concurrency ?? values['max-concurrency'] ?? '1';
  const durationS = values.duration !== undefined ? parseDurationSeconds('--duration', values.duration) : null;
  if (durationS !== null && values['num-prompts'] !== undefined) {
    throw invalidArgument('--duration', 'either --duration or --num-prompts, not both', `${values.duration} and ${values['num-prompts']}`);
  }
  if (durationS !== null && !(durationS > 0)) throw invalidArgument('--duration', 'a positive duration', values.duration);
  const numPrompts = durationS !== null ? null : parseInteger('--num-prompts', values['num-prompts'] ?? '100', 1);
  const rateFlag = values['request-rate'] ?? 'inf';
  const requestRate = rateFlag === 'inf' ? Infinity : parseNumber('--request-rate', rateFlag, 0);
  if (!(requestRate > 0)) throw invalidArgument('--request-rate', 'a positive rate or inf', rateFlag);
  const inputLen = parseInteger('--input-len', values['input-len'] ?? values['random-input-len'] ?? '128', 1);
  const outputLen = parseInteger('--output-len', values['output-len'] ?? values['random-output-len'] ?? '128', 1);
  const baseUrl = (values['base-url'] ?? 'http://127.0.0.1:8000').replace(/\/+$/, '');
  let saveResult: string | null = null;
  if (values['save-result'] || values['result-filename'] !== undefined) {
    const name = values['result-filename'] ?? `bench-serve-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
    saveResult = join(values['result-dir'] ?? '.', name);
  }
  return {
    baseUrl,
    model: values.model ?? '',
    apiKey: values['api-key'] ?? env.OPENAI_API_KEY,
    concurrencies: parseIntegerList('--concurrency', concurrencyFlag, 1),
    numPrompts,
    durationS,
    inputLen,
    outputLen,
    requestRate,
    seed: parseInteger('--seed', values.seed ?? '0', 0),
    progress: !values['no-progress'],
    saveResult,
  };
}

export async function run(argv: string[]): Promise<number> {
  const config = parseBenchServeArgs(argv);
  if (config === 'help') {
    console.log(HELP);
    return 0;
  }
  let report: ServeBenchReport;
  try {
    if (config.model === '') config.model = await discoverModel(config.baseUrl, config.apiKey);
    console.error(`bench serve: ${config.baseUrl} model=${config.model} input=${config.inputLen} output=${config.outputLen} ` +
      `rate=${Number.isFinite(config.requestRate) ? config.requestRate : 'inf'} concurrency=${config.concurrencies.join(',')} ` +
      (config.durationS !== null ? `duration=${config.durationS}s` : `prompts=${config.numPrompts}`));
    report = await runServeBench(config, (level) => console.log(`${formatLevel(level)}\n`));
  } catch (err) {
    // Unreachable server, HTTP errors, a refused first request: one line, no stack.
    if (!(err instanceof BenchServeError)) throw err;
    console.error(`kvserve bench serve: ${err.message}`);
    return 1;
  }
  console.log(formatSummaryTable(report.levels));
  if (config.saveResult) {
    const dir = join(config.saveResult, '..');
    mkdirSync(dir, { recursive: true });
    writeFileSync(config.saveResult, `${JSON.stringify(report, null, 2)}\n`);
    console.error(`results saved to ${config.saveResult}`);
  }
  return report.levels.some((l) => l.completed === 0) ? 1 : 0;
}
