// Regression test for a native fuzz finding (native/fuzz/regressions/dequantize): an empty row
// dequantizes to nothing (a memcpy from a null pointer before). The other findings, NaN / infinite /
// huge numbers where the addon wants an integer and float tensors misaligned in their file, are
// covered through the addon by test/e2e/native-model-errors.test.ts.
import { test } from 'node:test';
import { addon, ISAS } from '../helpers/native.js';

test('dequantizing an empty row writes nothing, in every variant', () => {
  for (const isa of ISAS) {
    for (let dtype = 0; dtype <= 6; dtype++) addon.ops.dequantizeRow(isa, new Float32Array(0), new Uint8Array(0), dtype, 0);
  }
});
