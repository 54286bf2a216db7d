// Parses what a user names as a model: a local path, or a hub id `org/name`, `org/name:file.gguf`
// or `org/name:Q4_K_M` (a quantization tag that picks the matching GGUF file).
import { existsSync } from 'node:fs';

export type ModelRef =
  | { kind: 'local'; path: string }
  | { kind: 'hub'; repoId: string; file: string | null; quant: string | null; revision: string };

// huggingface_hub's validate_repo_id: word characters, '-' and '.', starting and ending with a word
// character, no '--' or '..' (the cache folder separator), at most 96 characters.
const REPO_ID = /^\w(?:[\w.-]*\w)?\/\w(?:[\w.-]*\w)?$/;

/** `org/name` as the hub allows it. */
export function isValidRepoId(repoId: unknown): repoId is string {
  return typeof repoId === 'string' && REPO_ID.test(repoId) && !repoId.includes('..') && !repoId.includes('--') && repoId.length <= 96;
}

export function parseModelRef(name: string, revision = 'main'): ModelRef {
  if (existsSync(name)) return { kind: 'local', path: name };
  const colon = name.indexOf(':');
  const repoId = colon >= 0 ? name.slice(0, colon) : name;
  const selector = colon >= 0 ? name.slice(colon + 1) : null;
  if (!isValidRepoId(repoId)) {
    return { kind: 'local', path: name };
  }
  if (selector === null || selector === '') return { kind: 'hub', repoId, file: null, quant: null, revision };
  if (selector.toLowerCase().endsWith('.gguf')) return { kind: 'hub', repoId, file: selector, quant: null, revision };
  return { kind: 'hub', repoId, file: null, quant: selector, revision };
}

/** Picks the GGUF file for a quantization tag (case-insensitive, delimited: "Q4_K_M" matches "model-Q4_K_M.gguf"). */
export function pickGgufForQuant(files: string[], quant: string): string | null {
  const q = quant.toLowerCase();
  const ggufs = files.filter((f) => f.toLowerCase().endsWith('.gguf'));
  const matches = ggufs.filter((f) => {
    const base = f.toLowerCase().slice(0, -'.gguf'.length);
    const idx = base.lastIndexOf(q);
    if (idx < 0) return false;
    const before = idx === 0 ? '' : base[idx - 1];
    const after = base[idx + q.length] ?? '';
    return (before === '' || /[-._/]/.test(before ?? '')) && (after === '' || after === '-' || after === '.');
  });
  // Prefer unsharded files, then the shortest name.
  matches.sort((a, b) => Number(/-\d{5}-of-\d{5}/.test(a)) - Number(/-\d{5}-of-\d{5}/.test(b)) || a.length - b.length);
  return matches[0] ?? null;
}
