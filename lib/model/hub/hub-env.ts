// Hugging Face hub settings from the environment, as huggingface_hub reads them, so that a cache
// filled by Python tools is reused and vice versa.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface HubEnv {
  endpoint: string;
  cacheDir: string;
  token: string | null;
  offline: boolean;
  /** Seconds to wait for the API and for file metadata (HF_HUB_ETAG_TIMEOUT, default 10). */
  etagTimeoutS: number;
  /** Seconds a download may go without receiving a byte before it is retried (HF_HUB_DOWNLOAD_TIMEOUT, default 10). */
  downloadTimeoutS: number;
}

/** Unset or empty variables count as unset (as huggingface_hub treats them). */
function get(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v;
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && ['1', 'true', 'yes', 'on'].includes(v.trim().toLowerCase());
}

function seconds(v: string | undefined, fallback: number): number {
  const n = v === undefined ? NaN : Number(v);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

/** The token `huggingface-cli login` / `hf auth login` saved, if any. */
function savedToken(path: string): string | null {
  try {
    const token = readFileSync(path, 'utf8').trim();
    return token === '' ? null : token;
  } catch {
    return null;
  }
}

export function hubEnv(env: NodeJS.ProcessEnv = process.env): HubEnv {
  const home = get(env, 'HF_HOME') ?? join(get(env, 'XDG_CACHE_HOME') ?? join(homedir(), '.cache'), 'huggingface');
  return {
    endpoint: (get(env, 'HF_ENDPOINT') ?? 'https://huggingface.co').replace(/\/+$/, ''),
    cacheDir: get(env, 'HF_HUB_CACHE') ?? get(env, 'HUGGINGFACE_HUB_CACHE') ?? join(home, 'hub'),
    token: get(env, 'HF_TOKEN') ?? get(env, 'HUGGING_FACE_HUB_TOKEN') ?? savedToken(get(env, 'HF_TOKEN_PATH') ?? join(home, 'token')),
    offline: truthy(get(env, 'HF_HUB_OFFLINE') ?? get(env, 'TRANSFORMERS_OFFLINE')),
    etagTimeoutS: seconds(get(env, 'HF_HUB_ETAG_TIMEOUT'), 10),
    downloadTimeoutS: seconds(get(env, 'HF_HUB_DOWNLOAD_TIMEOUT'), 10),
  };
}
