// Splits input text around special-token strings before the model tokenizer sees it, like
// llama.cpp's tokenizer_st_partition with parse_special = true: special tokens are taken one at a
// time, longest text first, and every occurrence in every remaining text fragment becomes that token.

/** A piece of input: raw text still to be tokenized, or an already-resolved special token. */
export type Fragment = { readonly text: string } | { readonly id: number };

export function partitionSpecialTokens(
  text: string,
  specialIds: readonly number[],
  tokenText: (id: number) => string,
): Fragment[] {
  let fragments: Fragment[] = text.length > 0 ? [{ text }] : [];
  for (const id of specialIds) {
    const special = tokenText(id);
    // Cheap filter: a token absent from the whole input cannot occur in any fragment of it.
    if (special.length === 0 || !text.includes(special)) continue;
    const next: Fragment[] = [];
    for (const fragment of fragments) {
      if (!('text' in fragment)) {
        next.push(fragment);
        continue;
      }
      const raw = fragment.text;
      let start = 0;
      for (let at = raw.indexOf(special); at >= 0; at = raw.indexOf(special, start)) {
        if (at > start) next.push({ text: raw.slice(start, at) });
        next.push({ id });
        start = at + special.length;
      }
      if (start < raw.length) next.push(start === 0 ? fragment : { text: raw.slice(start) });
    }
    fragments = next;
  }
  return fragments;
}
