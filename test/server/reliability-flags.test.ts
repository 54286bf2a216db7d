// The serve flags for the HTTP layer's limits and request logging, and their defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseServeArgs } from '../../lib/cli/serve-flags.js';

test('--request-timeout, --max-header-size and --enable-log-requests', () => {
  const c = parseServeArgs(['model.gguf', '--request-timeout', '5s', '--max-header-size', '8KiB', '--enable-log-requests'], {});
  assert.ok(c !== 'help');
  assert.equal(c.requestTimeoutS, 5);
  assert.equal(c.maxHeaderSize, 8192);
  assert.equal(c.logRequests, true);
  const d = parseServeArgs(['model.gguf'], {});
  assert.ok(d !== 'help');
  assert.equal(d.requestTimeoutS, 60);
  assert.equal(d.maxHeaderSize, 16384);
  assert.equal(d.logRequests, false);
  assert.throws(() => parseServeArgs(['model.gguf', '--request-timeout', 'soon'], {}), /--request-timeout: expected a duration/);
  assert.throws(() => parseServeArgs(['model.gguf', '--max-header-size', 'big'], {}), /--max-header-size/);
});
