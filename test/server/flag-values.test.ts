import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDurationSeconds, parseInteger, parseIntegerList, parseNumber, parseStringList } from '../../lib/cli/flag-values.js';

test('flag values parse and name the flag when they do not', () => {
  assert.equal(parseInteger('--port', '8000', 0, 65535), 8000);
  assert.throws(() => parseInteger('--port', '70000', 0, 65535), /--port: expected an integer in \[0, 65535\], got "70000"/);
  assert.throws(() => parseInteger('--max-num-seqs', '1.5', 1), /--max-num-seqs: expected an integer >= 1, got "1.5"/);
  assert.equal(parseNumber('--request-rate', '2.5', 0), 2.5);
  assert.equal(parseDurationSeconds('--duration', '60s'), 60);
  assert.equal(parseDurationSeconds('--duration', '500ms'), 0.5);
  assert.equal(parseDurationSeconds('--duration', '2m'), 120);
  assert.equal(parseDurationSeconds('--shutdown-timeout', '30'), 30);
  assert.throws(() => parseDurationSeconds('--duration', 'soon'), /--duration: expected a duration/);
  assert.deepEqual(parseIntegerList('--concurrency', '1, 2,4', 1), [1, 2, 4]);
  assert.deepEqual(parseStringList('--allowed-origins', '["http://a", "http://b"]'), ['http://a', 'http://b']);
  assert.deepEqual(parseStringList('--allowed-origins', 'http://a,http://b'), ['http://a', 'http://b']);
  assert.throws(() => parseStringList('--allowed-origins', '[1]'), /--allowed-origins: expected a JSON list of strings/);
});
