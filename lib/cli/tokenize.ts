// `kvserve tokenize <model> --text <text>`: prints the token ids as JSON.
import { parseArgs } from 'node:util';
import { resolveModelPath } from '../model/resolve-model-path.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { stderrWarning, useStderrLogger } from './cli-logger.js';
import { progressPrinter } from './progress.js';

const USAGE = 'usage: kvserve tokenize <model> --text <text> [--no-special-tokens]\n\nPrints the token ids as a JSON array (with BOS unless --no-special-tokens).';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      text: { type: 'string' },
      'no-special-tokens': { type: 'boolean' },
      revision: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const model = positionals[0];
  if (values.help || !model || values.text === undefined) {
    // Asked for, the usage is the output (stdout); a usage error goes to stderr, off the ids' stream.
    (values.help ? console.log : console.error)(USAGE);
    return values.help ? 0 : 2;
  }
  useStderrLogger();
  const path = await resolveModelPath(model, values.revision ?? 'main', progressPrinter('kvserve'), { onWarning: stderrWarning() });
  const tokenizer = await loadTokenizer(path);
  console.log(JSON.stringify(await tokenizer.encode(values.text, { addSpecialTokens: !values['no-special-tokens'] })));
  return 0;
}
