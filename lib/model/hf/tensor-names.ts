// Hugging Face parameter names -> kvserve's canonical (GGUF-style) tensor names.

const TOP_LEVEL: Readonly<Record<string, string>> = {
  'model.embed_tokens.weight': 'token_embd.weight',
  'model.norm.weight': 'output_norm.weight',
  'lm_head.weight': 'output.weight',
};

const LAYER: Readonly<Record<string, string>> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.v_proj.weight': 'attn_v.weight',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'self_attn.q_proj.bias': 'attn_q.bias',
  'self_attn.k_proj.bias': 'attn_k.bias',
  'self_attn.v_proj.bias': 'attn_v.bias',
  'self_attn.o_proj.bias': 'attn_output.bias',
  'self_attn.q_norm.weight': 'attn_q_norm.weight',
  'self_attn.k_norm.weight': 'attn_k_norm.weight',
  'post_attention_layernorm.weight': 'ffn_norm.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
};

/** Non-parameter buffers some older checkpoints saved; they carry no weights. */
const IGNORED_LAYER = new Set(['self_attn.rotary_emb.inv_freq']);

const LAYER_NAME = /^model\.layers\.(0|[1-9]\d*)\.(.+)$/;

/**
 * The canonical name of an HF tensor, null for a buffer to skip, or undefined when the name is
 * not one kvserve knows (the caller reports it).
 */
export function canonicalTensorName(hfName: string): string | null | undefined {
  const top = TOP_LEVEL[hfName];
  if (top !== undefined) return top;
  const m = LAYER_NAME.exec(hfName);
  if (m === null) return undefined;
  const suffix = m[2]!;
  if (IGNORED_LAYER.has(suffix)) return null;
  const mapped = LAYER[suffix];
  return mapped === undefined ? undefined : `blk.${m[1]}.${mapped}`;
}

/** The HF name for a canonical name (used by writers of synthetic HF checkpoints). */
export function hfTensorName(canonical: string): string {
  for (const [hf, c] of Object.entries(TOP_LEVEL)) if (c === canonical) return hf;
  const m = /^blk\.(\d+)\.(.+)$/.exec(canonical);
  if (m !== null) {
    for (const [hf, c] of Object.entries(LAYER)) if (c === m[2]) return `model.layers.${m[1]}.${hf}`;
  }
  throw new RangeError(`no Hugging Face name for tensor '${canonical}'`);
}
