#!/usr/bin/env node
// kvserve command line: `kvserve serve | generate | tokenize | bench | doctor`. The only place that
// installs signal handlers (in `serve`).
import { KvserveError } from '../errors.js';

const COMMANDS: Record<string, () => Promise<{ run(argv: string[]): Promise<number> }>> = {
  serve: () => import('./serve.js'),
  generate: () => import('./generate.js'),
  download: () => import('./download.js'),
  tokenize: () => import('./tokenize.js'),
  doctor: () => import('./doctor.js'),
  bench: () => import('./bench.js'),
};

const USAGE = `usage: kvserve <command> [options]

commands:
  serve [model] [--port 8000]        OpenAI, TGI and KServe v2 / Triton HTTP server (vLLM's flags)
  generate [model] --prompt <text>   generate text (greedy unless --temperature > 0)
  download <model> [--revision r]    fetch a hub model into the Hugging Face cache, print its path
  tokenize <model> --text <text>     print token ids as JSON
  doctor                             platform, CPU features and the native binary in use
  bench serve --base-url <url>       load-test an OpenAI-compatible server (vLLM bench serve metrics)

<model> is a GGUF file, a Hugging Face model directory, or a hub id: org/name, org/name:file.gguf,
org/name:Q8_0 (a quantization tag). With no model, serve and generate run a built-in demo model
whose output is meaningless. Run 'kvserve <command> --help' for options.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (command === '--version' || command === 'version') {
    const { packageVersion } = await import('./version.js');
    console.log(packageVersion());
    return 0;
  }
  const load = COMMANDS[command];
  if (!load) {
    console.error(`kvserve: unknown command '${command}'\n\n${USAGE}`);
    return 2;
  }
  const mod = await load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof KvserveError) {
      console.error(`kvserve: ${err.message}`);
    } else if (err instanceof Error && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`kvserve: ${err.message}`);
    } else {
      console.error(err);
    }
    process.exitCode = 1;
  },
);
