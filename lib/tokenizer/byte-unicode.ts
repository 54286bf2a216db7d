// GPT-2's reversible byte <-> unicode mapping (bytes_to_unicode in openai/gpt-2 encoder.py): byte-level
// BPE vocabularies store every byte as a printable code point, e.g. ' ' -> 'Ġ' (U+0120).

function buildByteToCodePoint(): number[] {
  const map = new Array<number>(256).fill(-1);
  const keep = (from: number, to: number): void => {
    for (let b = from; b <= to; b++) map[b] = b;
  };
  keep(0x21, 0x7e);
  keep(0xa1, 0xac);
  keep(0xae, 0xff);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (map[b] === -1) map[b] = 256 + n++;
  }
  return map;
}

const BYTE_TO_CODE_POINT = buildByteToCodePoint();

/** The printable character standing for each byte value. */
export const BYTE_TO_UNICODE: readonly string[] = BYTE_TO_CODE_POINT.map((cp) => String.fromCodePoint(cp));

/** Code point -> byte value, for the 256 characters above. */
export const UNICODE_TO_BYTE: ReadonlyMap<number, number> = new Map(BYTE_TO_CODE_POINT.map((cp, b) => [cp, b]));

const utf8Encoder = new TextEncoder();

/** Maps each UTF-8 byte of `text` to its printable character (the form merges and vocab entries use). */
export function byteEncode(text: string): string {
  const bytes = utf8Encoder.encode(text);
  let out = '';
  for (const b of bytes) out += BYTE_TO_UNICODE[b];
  return out;
}
