// Hugging Face hub settings from the environment, as huggingface_hub reads them, so that a cache
// filled by Python tools is reused and vice versa.
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface HubEnv {
  endpoint: string;
  cacheDir: string;
  token: string | null;
  offline: boolean;
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && ['1', 'true', 'yes', 'on'].includes(v.trim().toLowerCase());
}

export function hubEnv(env: NodeJS.ProcessEnv = process.env): HubEnv {
  const home = env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
  return {
    endpoint: (env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, ''),
    cacheDir: env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE ?? join(home, 'hub'),
    token: env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN ?? null,
    offline: truthy(env.HF_HUB_OFFLINE),
  };
}
