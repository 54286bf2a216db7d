// Chat templates: the Jinja template shipped with the model (tokenizer_config.json chat_template or
// GGUF tokenizer.chat_template), rendered with @huggingface/jinja.
import { Template } from '@huggingface/jinja';
import { invalidArgument, KvserveError } from '../errors.js';
import type { ChatMessage, ChatTemplateOptions } from './types.js';

export interface ChatTemplateContext {
  /** The model's template, or null when it ships none. */
  modelTemplate: string | null;
  bosToken: string;
  eosToken: string;
}

// Parsed templates by source; bounded because per-request templates (opts.template) may vary.
const compiled = new Map<string, Template>();
const MAX_COMPILED = 32;

export function applyChatTemplate(
  ctx: ChatTemplateContext,
  messages: readonly ChatMessage[],
  opts: ChatTemplateOptions = {},
): string {
  if (!Array.isArray(messages)) throw invalidArgument('messages', 'an array of { role, content }', messages);
  messages.forEach((m, i) => {
    if (typeof m !== 'object' || m === null || typeof m.role !== 'string' || typeof m.content !== 'string') {
      throw invalidArgument(`messages[${i}]`, '{ role: string, content: string }', m);
    }
  });
  const source = opts.template ?? ctx.modelTemplate;
  if (source === null || source === undefined || source === '') {
    throw new KvserveError(
      'ERR_TOKENIZER_TEMPLATE',
      'the model has no chat template (neither tokenizer_config.json chat_template nor GGUF tokenizer.chat_template); ' +
        'pass one with --chat-template <file> or use the plain completion endpoint',
    );
  }
  let template = compiled.get(source);
  try {
    if (!template) {
      template = new Template(source);
      if (compiled.size >= MAX_COMPILED) compiled.clear();
      compiled.set(source, template);
    }
    return template.render({
      messages: messages.map((m) => ({ ...m })),
      bos_token: ctx.bosToken,
      eos_token: ctx.eosToken,
      add_generation_prompt: opts.addGenerationPrompt ?? true,
    });
  } catch (err) {
    throw new KvserveError('ERR_TOKENIZER_TEMPLATE', `chat template failed to render: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
