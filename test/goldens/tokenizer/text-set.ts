// The texts tokenized for the llama.cpp goldens (scripts/goldens/tokenizer-goldens.mjs) and checked by
// test/unit/tokenizer/goldens.test.ts. Changing this file requires regenerating the goldens.

export const FIXED_TEXTS: readonly string[] = [
  '',
  ' ',
  '  ',
  '   ',
  '\t',
  '\n',
  ' \n',
  '\n\n\n',
  '\r\n',
  'Hello',
  'Hello world',
  ' Hello world',
  'Hello world ',
  '  Hello   world  ',
  'hello World HELLO wOrLd',
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.',
  'One day, she saw a big, red ball. She wanted to play with it, but it was too high.',
  "It's a dog's life, isn't it? I'm sure you'll see, we've done what they'd said they're doing.",
  "IT'S DON'T I'LL YOU'RE WE'VE HE'D SHE'S I'M",
  "'s 't 're 've 'm 'll 'd",
  "rock 'n' roll ' quoted ' 'tis",
  'Hello , world . Really ? Yes ! ok',
  "a ' b ' c ' ' d",
  'tab\tseparated\tvalues\t\tend',
  'line one\nline two\n\nline four\n',
  'trailing spaces   \n   leading spaces',
  'mixed \t \n \r\n whitespace\u00a0nbsp\u2003em\u3000ideographic',
  '1 12 123 1234 12345 123456 1234567 3.14159 -42 +7 1e10 0x1F 1,000,000',
  '9876543210987654321098765432109876543210',
  '2024-01-15T12:34:56Z and 192.168.0.1:8080',
  'def f(x):\n    return x ** 2  # square\n',
  'function add(a, b) {\n\treturn a + b;\n}\nconsole.log(add(1, 2));',
  '<div class="x">&amp; &lt;tag&gt;</div>',
  'SELECT * FROM users WHERE id = 42;',
  'https://example.com/path?query=1&b=two#frag',
  'user@example.com',
  '~!@#$%^&*()_+-=[]{}|;:\'",.<>/?`',
  '...!!!???,,,;;;',
  '--- *** ___ === ###',
  '<s>',
  '</s>',
  '<s>Hello</s>',
  'Hello <s> world </s> again',
  '<s><s></s></s>',
  '<unk>',
  'a<unk>b',
  '<|endoftext|>',
  'Hello<|endoftext|>world',
  '<|start_story|>Once upon a time<|end_story|>',
  '<|start_story|> Once',
  '<|im_start|>user\nHi<|im_end|>',
  '[INST] hi [/INST]',
  '日本語のテキストです。',
  '中文文本，包含标点符号！',
  '한국어 텍스트',
  'مرحبا بالعالم',
  'שלום עולם',
  'Привет, мир! Ёжик.',
  'Γειά σου Κόσμε',
  'नमस्ते दुनिया',
  'สวัสดีชาวโลก',
  'e\u0301 a\u0300 n\u0303 combining: Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319',
  'caf\u00e9 vs cafe\u0301',
  'ﬁ ﬂ ＡＢＣ ①②③ ½ ™',
  '😀',
  '😀😃😄 emoji 🎉',
  '👨‍👩‍👧‍👦 family',
  '👍🏽 👩🏿‍💻 🏳️‍🌈 🇯🇵🇺🇸',
  '❤️ ✔️ ☀',
  '𝕳𝖊𝖑𝖑𝖔 𝟙𝟚𝟛',
  '\u200b zero\u200bwidth \u200d joiner \ufeff bom',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  '                                                                ',
  'The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX!',
  'Lily and Ben were friends. They liked to play in the garden.',
  'She had a toy car that she loved very much.',
  'One day, she went to the park to play with her toy car in the park.',
  'The sun was shining and the birds were singing. They played together all day.',
  'He said, "Thank you, Mom!" The end.',
  'little',
  'supercalifragilisticexpialidocious antidisestablishmentarianism',
];

/** Deterministic pseudo-random texts (mulberry32) mixing the fragments tokenizers get wrong. */
export function randomTexts(count: number, seed: number): string[] {
  const fragments = [
    'a', 'b', 'Z', 'the', ' the', 'Lily', ' happy', 'ing', "'s", "'t", "'re", ' ', '  ', '\t', '\n', '\r\n',
    '.', ',', '!', '?', "'", '"', '-', '(', ')', '0', '7', '42', '1234', 'é', 'ß', 'ø', '日本', '中', '한',
    'ا', 'ש', 'я', '\u0301', '😀', '👍🏽', '👨‍👩‍👧', '🇺🇸', '\u200d', '\u00a0', '<s>', '</s>', '<unk>',
    '<|endoftext|>', '<|start_story|>', '<|end_story|>', '<', '>', '|', '_', '▁', 'Ġ',
  ];
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = 1 + Math.floor(next() * 24);
    let s = '';
    for (let j = 0; j < n; j++) s += fragments[Math.floor(next() * fragments.length)];
    out.push(s);
  }
  return out;
}

/** Every text in the golden files, in order. */
export const GOLDEN_TEXTS: readonly string[] = [...FIXED_TEXTS, ...randomTexts(60, 20240611)];

/** Random id sequences decoded by llama.cpp for the decode goldens (count per model, seed). */
export const RANDOM_DECODE = { count: 40, maxLength: 24, seed: 7 } as const;

/** Vocabularies the goldens are made for: a shared model file, optionally with metadata overrides. */
export interface GoldenModel {
  name: string;
  file: string;
  overrides?: Record<string, { type: 'string'; value: string } | { type: 'bool'; value: boolean }>;
}

export const GOLDEN_MODELS: readonly GoldenModel[] = [
  { name: 'llama-spm', file: 'vocab-gguf/ggml-vocab-llama-spm.gguf' },
  {
    name: 'llama-spm-no-space-prefix',
    file: 'vocab-gguf/ggml-vocab-llama-spm.gguf',
    overrides: { 'tokenizer.ggml.add_space_prefix': { type: 'bool', value: false } },
  },
  { name: 'gpt-2', file: 'vocab-gguf/ggml-vocab-gpt-2.gguf' },
  { name: 'gpt-2-pre-default', file: 'vocab-gguf/ggml-vocab-gpt-2.gguf', overrides: { 'tokenizer.ggml.pre': { type: 'string', value: 'default' } } },
  { name: 'gpt-2-pre-llama-bpe', file: 'vocab-gguf/ggml-vocab-gpt-2.gguf', overrides: { 'tokenizer.ggml.pre': { type: 'string', value: 'llama-bpe' } } },
  { name: 'gpt-2-pre-qwen2', file: 'vocab-gguf/ggml-vocab-gpt-2.gguf', overrides: { 'tokenizer.ggml.pre': { type: 'string', value: 'qwen2' } } },
  { name: 'llama-2-tiny-random', file: 'llama-2-tiny-random/llama-2-tiny-random.gguf' },
  { name: 'stories260K', file: 'stories260K/stories260K.gguf' },
  { name: 'tinystories-656K', file: 'tinystories-656K/TinyStories-656K-Q8_0.gguf' },
];

/** Deterministic random id sequences for decode goldens. */
export function randomIdSequences(vocabSize: number, specialIds: readonly number[], seed: number): number[][] {
  let state = seed >>> 0;
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const out: number[][] = [];
  for (let i = 0; i < RANDOM_DECODE.count; i++) {
    const n = 1 + Math.floor(next() * RANDOM_DECODE.maxLength);
    const ids: number[] = [];
    for (let j = 0; j < n; j++) {
      const r = next();
      // Mostly ordinary ids, some specials (first position included), some low ids (byte tokens).
      if (r < 0.12 && specialIds.length > 0) ids.push(specialIds[Math.floor(next() * specialIds.length)] as number);
      else if (r < 0.35) ids.push(Math.floor(next() * Math.min(vocabSize, 300)));
      else ids.push(Math.floor(next() * vocabSize));
    }
    out.push(ids);
  }
  return out;
}
