// `kvserve download <id>`: fetches a hub model into the shared Hugging Face cache without running
// it (progress on stderr), then prints its local path on stdout.
import { parseArgs } from 'node:util';
import { hubEnv } from '../model/hub/hub-env.js';
import { parseModelRef } from '../model/hub/model-ref.js';
import { resolveHubModel } from '../model/hub/resolve-hub-model.js';
import { describeDownload } from '../model/resolve-model-path.js';
import { stderrWarning, useStderrLogger } from './cli-logger.js';
import { progressPrinter } from './progress.js';

const HELP = `usage: kvserve download <model> [--revision <rev>] [--quiet]

Fetches a model from the Hugging Face hub into the shared cache without running it and prints its
local path. Only the files kvserve needs are fetched; an interrupted download resumes.

  <model>            org/name (config.json + safetensors), org/name:file.gguf, or org/name:Q8_0
                     (a quantization tag picking the matching GGUF file)
  --revision <rev>   branch, tag or commit (default main)
  --quiet            no progress on stderr

Environment: HF_TOKEN (gated and private models), HF_HUB_CACHE or HF_HOME (cache location,
default ~/.cache/huggingface/hub), HF_ENDPOINT (a mirror), HF_HUB_OFFLINE=1 (no network: only
check that the model is in the cache).`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      revision: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const name = positionals[0];
  if (!name || positionals.length > 1) {
    console.error(`kvserve download: ${name ? 'one model at a time' : 'a model is required'}\n\n${HELP}`);
    return 2;
  }
  const ref = parseModelRef(name, values.revision ?? 'main');
  if (ref.kind === 'local') {
    console.error(`kvserve download: ${JSON.stringify(name)} is not a hub id (expected org/name, org/name:file.gguf or org/name:Q8_0)`);
    return 2;
  }
  useStderrLogger();
  const progress = values.quiet ? null : progressPrinter('kvserve');
  const path = await resolveHubModel(
    { repoId: ref.repoId, revision: ref.revision, file: ref.file, quant: ref.quant },
    {
      env: hubEnv(),
      onWarning: stderrWarning(),
      ...(progress
        ? { onProgress: (p) => progress({ phase: 'download', fraction: p.totalBytes ? p.downloadedBytes / p.totalBytes : 0, detail: describeDownload(p) }) }
        : {}),
    },
  );
  console.log(path);
  return 0;
}
