// The model a CLI command runs: the one the user named (a path or hub id, resolved by
// Engine.create), or, when none is named, the built-in demo model, generated on first use, with a
// plain notice that its output is meaningless and how to run a real model. `generate` and `serve`
// both go through here.
import { kvserveCacheDir } from '../config.js';
import { DEMO_MODEL_NAME, ensureDemoModel } from '../model/demo/demo-model.js';

export type ModelCommand = 'generate' | 'serve';

export interface CliModel {
  /** What to pass to Engine.create({ model }). */
  model: string;
  /** True for the built-in demo model. */
  demo: boolean;
}

/** The example real model named in notices and the README (its Q8_0 GGUF is ~0.5 GB and loads in kvserve). */
export const EXAMPLE_HUB_MODEL = 'Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q8_0';

export function demoNotice(command: ModelCommand, path: string): string[] {
  const args = command === 'generate' ? ' --prompt "Hello"' : '';
  return [
    `no model given: using the built-in demo model ${DEMO_MODEL_NAME} (${path}).`,
    'Its weights are synthetic random numbers: its output is MEANINGLESS text. It only shows that kvserve runs here.',
    'To run a real model, name one:',
    `  kvserve ${command} ${EXAMPLE_HUB_MODEL}${args}   (a Hugging Face hub id: downloaded once into the HF cache)`,
    `  kvserve ${command} ./model.gguf${args}   (a local GGUF file or Hugging Face model directory)`,
  ];
}

/** Writes one notice line as plain text to stderr (kept off stdout, which carries the command's output). */
export function printNotice(line: string): void {
  process.stderr.write(`kvserve: ${line}\n`);
}

/**
 * `named` as given, or the demo model (its notice goes to `notify`, one line per call). The demo
 * model is written under `cacheDir` (default: KVSERVE_CACHE_DIR or ~/.cache/kvserve).
 */
export async function resolveCliModel(
  named: string | undefined,
  command: ModelCommand,
  notify: (line: string) => void,
  cacheDir: string = kvserveCacheDir(),
): Promise<CliModel> {
  if (named !== undefined && named !== '') return { model: named, demo: false };
  const { path } = await ensureDemoModel(cacheDir);
  for (const line of demoNotice(command, path)) notify(line);
  return { model: path, demo: true };
}
