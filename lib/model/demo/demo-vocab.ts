// The demo model's tokenizer: a GPT-2-style byte-level BPE vocabulary (tokenizer.ggml.model "gpt2"):
// the 256 byte tokens, so that any text encodes, then merges that spell a short list of English
// words (" the", " garden", ...), then ChatML special tokens and a ChatML chat template.
import { BYTE_TO_UNICODE } from '../../tokenizer/byte-unicode.js';
import { ggufBool, ggufI32Array, ggufString, ggufStringArray, ggufU32, type GgufValue } from '../gguf/value.js';

// Each word becomes one token with a leading space (GPT-2's "Ġword"); the model only ever emits
// these, a few punctuation marks and the end-of-turn token, so its nonsense prints as plain words.
const WORDS = (
  'the a an and or but of to in on at with from by for as is was are were be has had it its this that ' +
  'he she they we you I my your our their one two three some many all no not very so then when ' +
  'time day night year cat dog bird fish tree house garden river stone road sun moon star cloud rain ' +
  'wind light door window book story song friend child king ship city field hill sea sky word ' +
  'model token number engine kernel cache server ' +
  'runs sees finds makes takes walks sings opens reads writes said went came looked found made ' +
  'big small red blue green quiet happy old new bright soft little long dark warm cold ' +
  'here there again away under over through before after'
).split(' ');

const PUNCTUATION = ['.', ',', '!', '?'];

/** GGUF token types (llama.cpp's LLAMA_TOKEN_TYPE_*). */
const NORMAL = 1;
const CONTROL = 3;

export const DEMO_SPECIAL_TOKENS = { endOfText: '<|endoftext|>', imStart: '<|im_start|>', imEnd: '<|im_end|>' } as const;

export const DEMO_CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export interface DemoVocab {
  tokens: string[];
  tokenTypes: Int32Array;
  merges: string[];
  /** Ids the model may generate: whole words, punctuation and <|im_end|>. */
  emitted: number[];
  endOfTextId: number;
  imEndId: number;
}

export function buildDemoVocab(): DemoVocab {
  const tokens = [...BYTE_TO_UNICODE];
  const ids = new Map(tokens.map((t, i) => [t, i]));
  const merges: string[] = [];
  const emitted: number[] = PUNCTUATION.map((p) => ids.get(p) as number);
  for (const word of WORDS) {
    // Left to right: "Ġ t" -> "Ġt", "Ġt h" -> "Ġth", "Ġth e" -> "Ġthe". Every merge starts at the
    // word's first character, so no merge can break another word's chain.
    const chars = [...`\u0120${word}`];
    let left = chars[0] as string;
    for (const ch of chars.slice(1)) {
      const merged = left + ch;
      if (!ids.has(merged)) {
        ids.set(merged, tokens.length);
        tokens.push(merged);
        merges.push(`${left} ${ch}`);
      }
      left = merged;
    }
    emitted.push(ids.get(left) as number);
  }
  const numNormal = tokens.length;
  tokens.push(DEMO_SPECIAL_TOKENS.endOfText, DEMO_SPECIAL_TOKENS.imStart, DEMO_SPECIAL_TOKENS.imEnd);
  const imEndId = tokens.length - 1;
  emitted.push(imEndId);
  const tokenTypes = new Int32Array(tokens.length).fill(NORMAL).fill(CONTROL, numNormal);
  return { tokens, tokenTypes, merges, emitted: [...new Set(emitted)].sort((a, b) => a - b), endOfTextId: numNormal, imEndId };
}

/** tokenizer.* metadata: byte-level BPE with the GPT-2 pre-tokenizer, no BOS added, ChatML template. */
export function demoVocabMetadata(vocab: DemoVocab): [string, GgufValue][] {
  return [
    ['tokenizer.ggml.model', ggufString('gpt2')],
    ['tokenizer.ggml.pre', ggufString('gpt-2')],
    ['tokenizer.ggml.tokens', ggufStringArray(vocab.tokens)],
    ['tokenizer.ggml.token_type', ggufI32Array(vocab.tokenTypes)],
    ['tokenizer.ggml.merges', ggufStringArray(vocab.merges)],
    ['tokenizer.ggml.bos_token_id', ggufU32(vocab.endOfTextId)],
    ['tokenizer.ggml.eos_token_id', ggufU32(vocab.endOfTextId)],
    ['tokenizer.ggml.padding_token_id', ggufU32(vocab.endOfTextId)],
    ['tokenizer.ggml.add_bos_token', ggufBool(false)],
    ['tokenizer.chat_template', ggufString(DEMO_CHAT_TEMPLATE)],
  ];
}
