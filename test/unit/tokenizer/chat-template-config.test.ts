// Chat templates of Hugging Face model directories, as transformers stores them: tokenizer_config.json
// `chat_template` as a string or as a named list (the 'default' entry, else the first), and a
// chat_template.jinja file, which takes precedence over tokenizer_config.json. Each is rendered with
// the directory's own special tokens. The directory is TinyStories-656K's, copied and edited.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { loadTokenizer } from '../../../lib/tokenizer/index.js';
import { MODELS, modelPath } from '../../helpers/models.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const TOKENIZER_FILES = ['config.json', 'generation_config.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json'];

const CHATML =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

// Uses the directory's bos_token / eos_token (TinyStories: <|start_story|> / <|end_story|>).
const STORY =
  "{{ bos_token }}{% for m in messages %}{{ m.role | upper }}: {{ m.content }}\n{% endfor %}" +
  "{% if add_generation_prompt %}ASSISTANT:{% else %}{{ eos_token }}{% endif %}";

const TOOLS = "{{ 'the tool-use template' }}";

const messages = [
  { role: 'user', content: 'Tell me a story.' },
  { role: 'assistant', content: 'Once upon a time' },
  { role: 'user', content: 'More!' },
];

const CHATML_PROMPT =
  '<|im_start|>user\nTell me a story.<|im_end|>\n<|im_start|>assistant\nOnce upon a time<|im_end|>\n<|im_start|>user\nMore!<|im_end|>\n<|im_start|>assistant\n';
const STORY_PROMPT = '<|start_story|>USER: Tell me a story.\nASSISTANT: Once upon a time\nUSER: More!\nASSISTANT:';

/** A writable copy of TinyStories-656K's tokenizer files, its tokenizer_config.json edited by `edit`. */
function tinyCopy(t: TestContext, edit: (config: Record<string, unknown>) => void): string | null {
  const source = modelPath(t, MODELS.tinystoriesHfDir);
  if (source === null) return null;
  const dir = tmpDir(t, 'kvserve-chat-config-');
  for (const f of TOKENIZER_FILES) writeFileSync(join(dir, f), readFileSync(join(source, f)));
  const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.chat_template, undefined, 'the original has no template');
  edit(config);
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
  return dir;
}

test('tokenizer_config.json chat_template as a string: the template, rendered with the model bos/eos tokens', async (t) => {
  const dir = tinyCopy(t, (c) => { c.chat_template = STORY; });
  if (dir === null) return;
  const tok = await loadTokenizer(dir);
  assert.equal(tok.chatTemplate, STORY);
  assert.equal(tok.applyChatTemplate(messages), STORY_PROMPT);
  assert.equal(
    tok.applyChatTemplate(messages.slice(0, 2), { addGenerationPrompt: false }),
    '<|start_story|>USER: Tell me a story.\nASSISTANT: Once upon a time\n<|end_story|>',
  );
  // The rendered BOS is the special token when the prompt is encoded (not split into pieces).
  const ids = await tok.encode(tok.applyChatTemplate(messages), { addSpecialTokens: false });
  assert.equal(ids[0], tok.bosTokenId);
  assert.equal(ids.filter((id) => id === tok.bosTokenId).length, 1);
});

test("tokenizer_config.json chat_template as a named list: the 'default' entry wherever it is, else the first", async (t) => {
  const dir = tinyCopy(t, (c) => {
    c.chat_template = [
      { name: 'tool_use', template: TOOLS },
      { name: 'default', template: CHATML },
      { name: 'rag', template: STORY },
    ];
  });
  if (dir === null) return;
  const tok = await loadTokenizer(dir);
  assert.equal(tok.chatTemplate, CHATML);
  assert.equal(tok.applyChatTemplate(messages), CHATML_PROMPT);

  const noDefault = tinyCopy(t, (c) => {
    c.chat_template = [
      { name: 'rag', template: STORY },
      { name: 'tool_use', template: TOOLS },
    ];
  });
  const first = await loadTokenizer(noDefault as string);
  assert.equal(first.chatTemplate, STORY);
  assert.equal(first.applyChatTemplate(messages), STORY_PROMPT);
});

test('a chat_template.jinja file is the template, ahead of tokenizer_config.json chat_template', async (t) => {
  const dir = tinyCopy(t, (c) => { c.chat_template = STORY; });
  if (dir === null) return;
  writeFileSync(join(dir, 'chat_template.jinja'), CHATML);
  const tok = await loadTokenizer(dir);
  assert.equal(tok.chatTemplate, CHATML);
  assert.equal(tok.applyChatTemplate(messages), CHATML_PROMPT);
  assert.ok(!tok.applyChatTemplate(messages, { addGenerationPrompt: false }).endsWith('<|im_start|>assistant\n'));

  // The file alone, with no chat_template in tokenizer_config.json, is enough.
  const fileOnly = tinyCopy(t, () => {});
  writeFileSync(join(fileOnly as string, 'chat_template.jinja'), STORY);
  const fromFile = await loadTokenizer(fileOnly as string);
  assert.equal(fromFile.chatTemplate, STORY);
  assert.equal(fromFile.applyChatTemplate(messages), STORY_PROMPT);
});
