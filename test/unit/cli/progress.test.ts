// The progress printer: a bar redrawn in place on a terminal (cut to its width, a new line per
// phase), plain lines elsewhere (phase changes and completion, not every update).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProgressLine, progressPrinter } from '../../../lib/cli/progress.js';
import { describeDownload } from '../../../lib/model/resolve-model-path.js';

function sink(isTTY: boolean, columns = 200) {
  const out: string[] = [];
  return { out, stream: { isTTY, columns, write: (s: string) => out.push(s) } };
}

test('a download line shows the bar, bytes, total, speed and file position', () => {
  const detail = describeDownload({ file: 'model.safetensors', fileIndex: 2, numFiles: 3, downloadedBytes: 3 * 2 ** 20, totalBytes: 12 * 2 ** 20, bytesPerSecond: 1.5 * 2 ** 20 });
  assert.equal(detail, '3.0 MiB / 12.0 MiB at 1.5 MiB/s model.safetensors (2/3)');
  assert.equal(formatProgressLine('kvserve', { phase: 'download', fraction: 0.25, detail }), `kvserve: download [#####---------------]  25% ${detail}`);
  assert.equal(describeDownload({ file: 'm.gguf', fileIndex: 1, numFiles: 1, downloadedBytes: 512, totalBytes: null, bytesPerSecond: 0 }), '512 B m.gguf');
});

test('on a terminal the line is redrawn in place, cut to the width, and ends at completion', () => {
  const { out, stream } = sink(true, 60);
  const print = progressPrinter('kv', stream);
  print({ phase: 'download', fraction: 0.1, detail: 'a long detail that will not fit in sixty columns of a small terminal' });
  print({ phase: 'download', fraction: 0.1, detail: 'a long detail that will not fit in sixty columns of a small terminal' });
  print({ phase: 'download', fraction: 0.5 });
  print({ phase: 'load', fraction: 0 });
  print({ phase: 'load', fraction: 1 });
  assert.equal(out.length, 5, 'an identical update is not redrawn');
  assert.ok(out.every((s) => s.replace(/^\n/, '').replace(/\n$/, '').length <= 60));
  assert.match(out[0] as string, /^\rkv: download \[##-+\]  10% a long.*\.\.\.$/);
  assert.match(out[1] as string, /^\rkv: download \[#{10}-{10}\]  50% +$/, 'padded over the longer previous line');
  assert.equal(out[2], '\n', 'a new phase starts on a new line');
  assert.match(out[4] as string, /100%\n$/);
});

test('elsewhere plain lines: each phase change and completion, not every update', () => {
  const { out, stream } = sink(false);
  const print = progressPrinter('kv', stream);
  for (let i = 0; i <= 10; i++) print({ phase: 'download', fraction: i / 10 });
  print({ phase: 'load', fraction: 0 });
  print({ phase: 'load', fraction: 1 });
  assert.deepEqual(out.map((s) => s.replace(/ \[.*\] +/, ' ')), ['kv: download 0%\n', 'kv: download 100%\n', 'kv: load 0%\n', 'kv: load 100%\n']);
});
