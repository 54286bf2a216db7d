// Writes test/goldens/generation/<case>.json: llama.cpp's greedy token ids (and first-step logits for
// F32 models) for every case in test/goldens/generation/cases.ts. Needs node-llama-cpp (installed on
// demand into .llama-ref/). Usage: node --import tsx scripts/goldens/generation-goldens.ts [case ...]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticGguf } from '../../lib/model/synthetic.js';
import { ensureDemoModel } from '../../lib/model/demo/demo-model.js';
import { sharedModelsDir } from '../../lib/config.js';
import { GOLDEN_CASES } from '../../test/goldens/generation/cases.js';
// @ts-expect-error plain ESM helper without types
import { llamaCppGreedy } from './llama-cpp-greedy.mjs';

const outDir = resolve(fileURLToPath(import.meta.url), '..', '..', '..', 'test', 'goldens', 'generation');
const only = new Set(process.argv.slice(2));
const tmp = mkdtempSync(join(tmpdir(), 'kvserve-goldens-'));
try {
  for (const c of GOLDEN_CASES) {
    if (only.size > 0 && !only.has(c.name)) continue;
    let path: string;
    if (c.shared) {
      path = join(sharedModelsDir(), c.shared);
    } else if (c.demo) {
      path = (await ensureDemoModel(tmp)).path;
    } else {
      path = join(tmp, `${c.name}.gguf`);
      await writeSyntheticGguf(path, c.synthetic!);
    }
    const started = Date.now();
    const r = await llamaCppGreedy(path, c.prompt ?? '', {
      numTokens: c.numTokens,
      keepLogits: c.checkLogits ? 1 : 0,
      ...(c.promptTokenIds ? { promptTokenIds: c.promptTokenIds } : {}),
    });
    const golden = {
      name: c.name,
      source: 'llama.cpp via node-llama-cpp 3.22.1, CPU, greedy (argmax of raw logits), F32 KV cache, no flash attention',
      promptTokenIds: r.promptTokenIds,
      tokenIds: r.tokenIds,
      ...(c.checkLogits ? { firstLogits: Array.from(r.logits[0] as Float32Array, (v) => Number(v.toPrecision(7))) } : {}),
    };
    writeFileSync(join(outDir, `${c.name}.json`), `${JSON.stringify(golden)}\n`);
    console.log(`${c.name}: ${r.tokenIds.length} tokens in ${Date.now() - started} ms`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(0);
