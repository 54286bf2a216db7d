// Text normalisation shared by the tokenizers.

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Replaces unpaired surrogates with U+FFFD, which is what converting the string to UTF-8 does
 * (and so what llama.cpp sees through node-llama-cpp); the tokenizers work on well-formed text.
 */
export function toWellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD');
}
