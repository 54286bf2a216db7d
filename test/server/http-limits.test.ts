// The pure pieces of the HTTP layer's defences: the UTF-8 check that names the first bad byte (agrees
// with the fatal TextDecoder on random bytes), the JSON nesting scan (strings and escapes skipped),
// and reading a path off a raw request line (only METHOD PATH HTTP/n with a printable path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstInvalidUtf8, jsonDepthExceeded, requestLinePath } from '../../lib/server/http-limits.js';
import { rng } from '../helpers/native.js';

test('firstInvalidUtf8 agrees with the fatal TextDecoder, and the prefix before it decodes', () => {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const random = rng(11);
  const tricky = [0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0x80, 0xbf, 0x9f, 0xa0, 0x8f, 0x90, 0xc0, 0xc1, 0xff];
  for (let t = 0; t < 50_000; t++) {
    const bytes = Uint8Array.from({ length: 1 + Math.floor(random() * 7) }, () => (random() < 0.5 ? Math.floor(random() * 256) : tricky[Math.floor(random() * tricky.length)]!));
    let valid = true;
    try {
      decoder.decode(bytes);
    } catch {
      valid = false;
    }
    const at = firstInvalidUtf8(bytes);
    assert.equal(at === bytes.length, valid, `${[...bytes].map((b) => b.toString(16))}`);
    decoder.decode(bytes.subarray(0, at));
  }
  const valid = Buffer.from('{"prompt":"h\u00e9llo \u{1F600}"}');
  assert.equal(firstInvalidUtf8(valid), valid.length);
  assert.equal(firstInvalidUtf8(Buffer.from([0x7b, 0x22, 0xc3, 0x28])), 2);
});

test('jsonDepthExceeded counts brackets outside strings only', () => {
  assert.equal(jsonDepthExceeded(Buffer.from('{"a":[[1]]}'), 3), -1);
  assert.equal(jsonDepthExceeded(Buffer.from('{"a":[[[1]]]}'), 3), 7);
  assert.equal(jsonDepthExceeded(Buffer.from(`{"a":"${'['.repeat(50)}\\"${'{'.repeat(50)}"}`), 2), -1);
  assert.equal(jsonDepthExceeded(Buffer.from('['.repeat(129) + ']'.repeat(129)), 128), 128);
});

test('requestLinePath reads the path of a well-formed request line only', () => {
  assert.equal(requestLinePath(Buffer.from('POST /v1/completions HTTP/1.1\r\nhost: x\r\n')), '/v1/completions');
  assert.equal(requestLinePath(Buffer.from('GET /v2/models/stories/ready HTTP/1.0\r\n')), '/v2/models/stories/ready');
  assert.equal(requestLinePath(Buffer.from('G@T / HTTP/1.1\r\n')), undefined);
  assert.equal(requestLinePath(Buffer.from('GET /a\u0000b HTTP/1.1\r\n', 'latin1')), undefined);
  assert.equal(requestLinePath(Buffer.from('GARBAGE\r\n\r\n')), undefined);
  assert.equal(requestLinePath(undefined), undefined);
});
