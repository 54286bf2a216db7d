// `kvserve generate [model] --prompt <text>`: one completion, streamed to stdout (text) or printed as
// JSON ({ text, tokenIds, promptTokenIds }). With no model, the built-in demo model runs.
import { parseArgs } from 'node:util';
import { Engine } from '../engine/engine.js';
import { invalidArgument } from '../errors.js';
import { progressPrinter } from './progress.js';
import { intFlag, numberFlag } from './flags.js';
import { stderrWarning, useStderrLogger } from './cli-logger.js';
import { printNotice, resolveCliModel } from './model-arg.js';

const HELP = `usage: kvserve generate [model] --prompt <text> [options]

  [model]                  a GGUF file, a Hugging Face model directory, or a hub id (org/name,
                           org/name:file.gguf, org/name:Q8_0); none: the built-in demo model
                           (random weights, meaningless output)
  --prompt <text>          the prompt (required)
  --max-tokens <n>         tokens to generate (default 128)
  --temperature <t>        0 = greedy (default 0)
  --top-k <k> --top-p <p> --min-p <p> --repetition-penalty <r>
  --seed <s>               seed for sampling (reproducible output)
  --stop <text>            stop string (repeatable)
  --ignore-eos             keep generating past the end-of-sequence token
  --chat                   wrap the prompt as a user message with the model's chat template
  --output text|json       json prints {"text", "tokenIds", "promptTokenIds"}
  --threads <n>            compute threads (default: all CPUs)
  --device auto|cpu|cuda   where the model runs (default auto: the GPU when the CUDA addon is built
                           and a GPU passes its probe; cuda fails naming what is missing)
  --revision <rev>         hub revision for hub ids (default main)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      prompt: { type: 'string' },
      'max-tokens': { type: 'string' },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      'min-p': { type: 'string' },
      'repetition-penalty': { type: 'string' },
      seed: { type: 'string' },
      stop: { type: 'string', multiple: true },
      'ignore-eos': { type: 'boolean' },
      chat: { type: 'boolean' },
      output: { type: 'string', default: 'text' },
      threads: { type: 'string' },
      device: { type: 'string' },
      revision: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.prompt === undefined || positionals.length > 1) {
    console.error(`kvserve generate: ${values.prompt === undefined ? '--prompt is required' : `one model at a time, got ${positionals.join(' ')} (quote a prompt with spaces)`}\n\n${HELP}`);
    return 2;
  }
  if (values.output !== 'text' && values.output !== 'json') throw invalidArgument('--output', "'text' or 'json'", values.output);
  const threads = intFlag('--threads', values.threads);
  useStderrLogger();
  const { model } = await resolveCliModel(positionals[0], 'generate', printNotice);
  const device = values.device ?? 'auto';
  if (device !== 'auto' && device !== 'cpu' && device !== 'cuda') throw invalidArgument('--device', "'auto', 'cpu' or 'cuda'", device);
  const engine = await Engine.create({
    model,
    device,
    ...(threads !== undefined ? { threads } : {}),
    ...(values.revision ? { revision: values.revision } : {}),
    onProgress: progressPrinter('kvserve'),
    onWarning: stderrWarning(),
  });
  try {
    const params = {
      maxTokens: intFlag('--max-tokens', values['max-tokens']) ?? 128,
      temperature: numberFlag('--temperature', values.temperature) ?? 0,
      topK: intFlag('--top-k', values['top-k']),
      topP: numberFlag('--top-p', values['top-p']),
      minP: numberFlag('--min-p', values['min-p']),
      repetitionPenalty: numberFlag('--repetition-penalty', values['repetition-penalty']),
      seed: intFlag('--seed', values.seed),
      stop: values.stop,
      ignoreEos: values['ignore-eos'],
    };
    const stream = values.chat
      ? engine.chat([{ role: 'user', content: values.prompt }], params)
      : engine.generate(values.prompt, params);
    const json = values.output === 'json';
    if (!json && !values.chat) process.stdout.write(values.prompt);
    for await (const event of stream) {
      if (event.type === 'delta') {
        if (!json) process.stdout.write(event.text);
      } else if (json) {
        const promptTokenIds = values.chat
          ? await engine.tokenizer.encode(engine.tokenizer.applyChatTemplate([{ role: 'user', content: values.prompt }]), { addSpecialTokens: false })
          : await engine.tokenizer.encode(values.prompt);
        console.log(JSON.stringify({ text: event.text, tokenIds: event.tokenIds, promptTokenIds, finishReason: event.finishReason, usage: event.usage }));
      } else {
        process.stdout.write('\n');
      }
    }
  } finally {
    await engine.close();
  }
  return 0;
}
