// A seeded generator of malformed HTTP requests against kvserve's routes. Every case is malformed by
// construction (each mutation below is one the route must refuse), so every case must get a 4xx with
// an error body in the protocol of its path. Classes: invalid field values per route (wrong types,
// NaN / Infinity / huge numbers, negative values, missing fields, bad model names), broken bodies
// (invalid JSON, NaN literals, invalid UTF-8, deep nesting, not an object, __proto__, 10 MB, over the
// body limit), broken HTTP (bad header bytes, conflicting lengths, bad chunking, oversized head, bad
// request line, wrong methods, unknown paths), and clients that truncate, trickle or stall.
import { Random } from '../../bench/fuzz/js/random.js';
import { requestLinePath } from '../../lib/server/http-limits.js';
import { protocolOf } from '../../lib/server/error-render.js';
import type { RawResponse, RawSendOptions } from './raw-http.js';
import { httpBytes } from './raw-http.js';

export interface FuzzCase {
  name: string;
  /** The request's path (decides the protocol of the error body); null when the request line is unparseable. */
  path: string | null;
  bytes: Buffer;
  send: RawSendOptions;
  /** Allowed statuses (default: any 4xx). */
  statuses?: number[];
}

type Body = Record<string, unknown>;
type Mutation = [string, (b: Body) => void];

const MODEL = 'stories';
const HUGE_ID = 99_999_999;

function set(path: string, value: unknown): (b: Body) => void {
  return (b) => {
    const keys = path.split('.');
    let o: Record<string, unknown> = b;
    for (const k of keys.slice(0, -1)) {
      if (typeof o[k] !== 'object' || o[k] === null) o[k] = {};
      o = o[k] as Record<string, unknown>;
    }
    o[keys[keys.length - 1] as string] = value;
  };
}

function del(path: string): (b: Body) => void {
  return (b) => {
    const keys = path.split('.');
    let o: Record<string, unknown> = b;
    for (const k of keys.slice(0, -1)) o = (o[k] ?? {}) as Record<string, unknown>;
    delete o[keys[keys.length - 1] as string];
  };
}

function values(path: string, bad: unknown[]): Mutation[] {
  return bad.map((v) => [`${path}=${JSON.stringify(v)?.slice(0, 30)}`, set(path, v)]);
}

const WRONG_TYPES = ['x', true, [], {}];
const SAMPLING_INVALID: Mutation[] = [
  ...values('max_tokens', [-1, 0, 1.5, 1e300, 2 ** 53, ...WRONG_TYPES]),
  ...values('temperature', [-1, -1e308, ...WRONG_TYPES]),
  ...values('top_p', [0, -0.5, 1.5, 1e308, 'x']),
  ...values('top_k', [-2, 1.5, 'x']),
  ...values('min_p', [-1, 2, 'x']),
  ...values('n', [0, -1, 129, 1.5, 'two']),
  ...values('presence_penalty', [3, -1e9]),
  ...values('frequency_penalty', [-3, 1e308]),
  ...values('repetition_penalty', [0, -1]),
  ...values('seed', [1.5, 'x', []]),
  ...values('stop', [5, [1], {}, [[]], Array.from({ length: 65 }, () => 'x')]),
  ...values('stop_token_ids', ['x', [-1], [1.5], [HUGE_ID]]),
  ...values('logit_bias', ['x', { abc: 1 }, { 1: 1000 }, { 1: 'x' }, { [HUGE_ID]: 1 }]),
  ...values('model', ['other-model', '../../../etc/passwd', '/etc/hostname', 5]),
  ...values('use_beam_search', [true]),
  ...values('stream', ['yes', 1]),
  ...values('priority', ['high', 1.5]),
  ['stream_options without stream', (b) => { b.stream = false; b.stream_options = { include_usage: true }; }],
  ['min_tokens=-1', set('min_tokens', -1)],
];

const ROUTE_BODIES: Record<string, { base: () => Body; invalid: Mutation[] }> = {
  '/v1/completions': {
    base: () => ({ model: MODEL, prompt: 'Once upon a time', max_tokens: 4, temperature: 0 }),
    invalid: [
      ['no prompt', del('prompt')],
      ...values('prompt', [5, {}, true, null, [], [[]], [-1], [1.5], ['a', 1], [[1, -2]], [HUGE_ID], [[HUGE_ID]]]),
      ...values('logprobs', [-1, 21, 'x']),
      ...values('suffix', ['x']),
      ...values('echo', ['x']),
      ...SAMPLING_INVALID,
    ],
  },
  '/v1/chat/completions': {
    base: () => ({ model: MODEL, messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 4 }),
    invalid: [
      ['no messages', del('messages')],
      ...values('messages', ['hi', [], [{}], [{ role: 5 }], [{ role: 'user', content: 5 }], [{ role: 'user', content: [{ type: 'image_url' }] }], [{ role: 'user', content: [{ text: 'x' }] }], null]),
      ['top_logprobs without logprobs', set('top_logprobs', 2)],
      ...values('top_logprobs', [-1, 21]),
      ...values('chat_template', ['{{ x }}']),
      ...values('tools', [[{ type: 'function' }]]),
      ...values('max_completion_tokens', [0, -5, 'x']),
      ...SAMPLING_INVALID,
    ],
  },
  '/tokenize': {
    base: () => ({ prompt: 'Once upon a time' }),
    invalid: [
      ['no prompt or messages', (b) => { delete b.prompt; delete b.messages; }],
      ['prompt and messages', set('messages', [{ role: 'user', content: 'x' }])],
      ...values('prompt', [5, {}, [], null]),
      ...values('model', ['nope', '../etc/passwd']),
      ...values('add_special_tokens', ['x']),
    ],
  },
  '/detokenize': {
    base: () => ({ tokens: [1, 2, 3] }),
    invalid: [['no tokens', del('tokens')], ...values('tokens', ['x', [-1], [1.5], [HUGE_ID], {}, null]), ...values('model', ['nope'])],
  },
  tgi: {
    base: () => ({ inputs: 'Once upon a time', parameters: { max_new_tokens: 4 } }),
    invalid: [
      ['no inputs', del('inputs')],
      ...values('inputs', [5, '', {}, [], null]),
      ...values('parameters', ['x', 5, []]),
      ...values('parameters.max_new_tokens', [-1, 0, 'x', 1e9, 1.5]),
      ...values('parameters.temperature', [0, -1, 'x']),
      ...values('parameters.top_p', [0, 1, 1.5, -2]),
      ...values('parameters.top_k', [0, -1, 1.5]),
      ...values('parameters.best_of', [0, 3, 'x']),
      ...values('parameters.stop', [5, 'x', ['a', 'b', 'c', 'd', 'e'], [1]]),
      ...values('parameters.top_n_tokens', [-1, 6]),
      ...values('parameters.typical_p', [0.5]),
      ...values('parameters.truncate', [0, -1, 1e9]),
      ...values('parameters.repetition_penalty', [0, -1]),
      ...values('parameters.frequency_penalty', [3, -3]),
      ...values('parameters.seed', [-1, 'x', 1.5]),
      ...values('parameters.watermark', [true]),
      ...values('parameters.grammar', [{ type: 'json' }]),
      ...values('parameters.decoder_input_details', [true]),
      ...values('stream', ['x']),
    ],
  },
  'kserve-infer': {
    base: () => ({ inputs: [{ name: 'text_input', shape: [1], datatype: 'BYTES', data: ['Once upon a time'] }], parameters: { max_tokens: 4 } }),
    invalid: [
      ['no inputs', del('inputs')],
      ...values('inputs', ['x', [], [{}], [{ name: 'text_input', shape: [1], datatype: 'FP32', data: ['x'] }], [{ name: 'text_input', shape: [1], datatype: 'BYTES', data: [5] }],
        [{ name: 'text_input', shape: [-1], datatype: 'BYTES', data: ['x'] }], [{ name: 'other', shape: [1], datatype: 'BYTES', data: ['x'] }], [{ name: 'text_input', shape: [1], datatype: 'NOPE', data: ['x'] }]]),
      ...values('parameters', ['x', 5]),
      ...values('parameters.max_tokens', [-1, 'x', 1.5]),
      ...values('parameters.temperature', ['x', -1]),
      ...values('parameters.not_a_parameter', [1]),
      ...values('outputs', ['x', [{}]]),
    ],
  },
  'kserve-generate': {
    base: () => ({ text_input: 'Once upon a time', parameters: { max_tokens: 4 } }),
    invalid: [
      ['no text_input', del('text_input')],
      ...values('text_input', [5, {}, [], null]),
      ...values('parameters', ['x', 5]),
      ...values('parameters.max_tokens', [-1, 0, 'x']),
      ...values('parameters.temperature', ['x', -1]),
      ...values('parameters.top_p', [0, 2]),
      ...values('sampling_parameters', ['not json', '[1]', 5, '{"max_tokens": -1}']),
      ...values('not_a_parameter', [1]),
    ],
  },
};

function family(route: string): string {
  if (route === '/generate' || route === '/generate_stream' || route === '/') return 'tgi';
  if (route.endsWith('/infer')) return 'kserve-infer';
  if (route.endsWith('/generate') || route.endsWith('/generate_stream')) return 'kserve-generate';
  return route;
}

export function concretePath(route: string): string {
  return route.replace(':model', MODEL).replace(':version', '1');
}

const JSON_HEADERS = { 'content-type': 'application/json' };

function post(path: string, body: Buffer | string, headers: Record<string, string | number> = JSON_HEADERS): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return httpBytes('POST', path, { ...headers, 'content-length': b.length }, b);
}

const INVALID_UTF8 = [[0xc3, 0x28], [0xff], [0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]];

function withInvalidUtf8(json: string, rng: Random): Buffer {
  // Inside the first string value (the prompt, mostly): "Once" -> "On<bad bytes>ce".
  const at = json.indexOf('"', json.indexOf(':') + 1) + 3;
  const bad = Buffer.from(rng.pick(INVALID_UTF8));
  return Buffer.concat([Buffer.from(json.slice(0, at)), bad, Buffer.from(json.slice(at))]);
}

function brokenJson(json: string, rng: Random): string {
  const ops: Array<() => string> = [
    () => json.slice(0, 1 + rng.int(json.length - 2)),
    () => `${json}}`,
    () => `${json} garbage`,
    () => json.replace(/:\s*(\d+)/, ': NaN'),
    () => json.replace(/:\s*(\d+)/, ': Infinity'),
    () => json.replace(/:\s*(\d+)/, ': -Infinity'),
    () => json.replace(/"/g, "'"),
    () => json.replace(/"(\w+)":/, '$1:'),
    () => json.replace('{', '{,'),
    () => json.replace(/}$/, ',}'),
    () => `/* comment */${json}`,
    () => json.replace(/"([^"]*)"/, '"$1'),
    () => json.replace(/:/, ''),
    () => '{"a":1e99999999999}x',
  ];
  // Some edits do nothing to some bodies (no number after a colon): keep drawing until it is broken.
  for (let tries = 0; tries < 50; tries++) {
    const broken = rng.pick(ops)();
    try {
      JSON.parse(broken);
    } catch {
      return broken;
    }
  }
  return `${json}x`;
}

function nested(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** `count` malformed requests over `routes` (fastify's route list, GET and POST), from `seed`. */
export function generateCases(routes: Array<{ method: string; url: string }>, count: number, seed: number, limits: { bodyLimit: number; maxHeaderSize: number }): FuzzCase[] {
  const rng = new Random(seed);
  const posts = routes.filter((r) => r.method === 'POST').map((r) => r.url);
  const gets = routes.filter((r) => r.method === 'GET').map((r) => r.url);
  const cases: FuzzCase[] = [];
  const add = (c: FuzzCase): void => { cases.push(c); };

  // Every route, GET or POST: a header line without a colon, an oversized head, a method it lacks.
  for (const route of [...gets, ...posts]) {
    const path = concretePath(route);
    add({ name: `header without a colon ${route}`, path, bytes: Buffer.from(`GET ${path} HTTP/1.1\r\nhost: x\r\nno-colon-here\r\n\r\n`), send: {}, statuses: [400] });
    add({ name: `oversized head ${route}`, path, bytes: httpBytes('GET', path, { 'x-big': 'h'.repeat(limits.maxHeaderSize + 100) }), send: {}, statuses: [431] });
    add({ name: `method the route lacks ${route}`, path, bytes: httpBytes('DELETE', path, {}), send: {}, statuses: [404] });
  }

  // Fixed classes, once per run: 10 MB bodies per protocol family, over the body limit, stalls.
  const tenMb = 'a'.repeat(10_000_000);
  for (const route of ['/v1/completions', '/v1/chat/completions', '/generate', '/v2/models/:model/generate', '/v2/models/:model/infer', '/tokenize']) {
    const fam = ROUTE_BODIES[family(route)];
    if (!fam || !posts.includes(route)) continue;
    const body = fam.base();
    if ('prompt' in body) body.prompt = tenMb;
    if ('messages' in body) body.messages = [{ role: 'user', content: tenMb }];
    if ('inputs' in body && typeof body.inputs === 'string') body.inputs = tenMb;
    if ('text_input' in body) body.text_input = tenMb;
    if (Array.isArray(body.inputs)) body.inputs = [{ name: 'text_input', shape: [1], datatype: 'BYTES', data: [tenMb] }];
    add({ name: `10 MB prompt ${route}`, path: concretePath(route), bytes: post(concretePath(route), JSON.stringify(body)), send: {} });
  }
  for (const route of ['/v1/completions', '/generate', '/v2/models/:model/generate']) {
    if (!posts.includes(route)) continue;
    const big = `{"prompt":"${'b'.repeat(limits.bodyLimit + 1024)}"}`;
    add({ name: `over the body limit ${route}`, path: concretePath(route), bytes: post(concretePath(route), big), send: {}, statuses: [413] });
  }
  for (const route of ['/v1/completions', '/generate_stream', '/v2/models/:model/generate_stream']) {
    if (!posts.includes(route)) continue;
    const path = concretePath(route);
    const body = JSON.stringify(ROUTE_BODIES[family(route)]?.base() ?? {});
    const full = post(path, body);
    const cut = full.subarray(0, full.length - Math.floor(body.length / 2));
    add({ name: `truncated body, client stalls ${route}`, path, bytes: cut, send: { timeoutMs: 30_000 }, statuses: [408] });
    add({ name: `truncated body, client half-closes ${route}`, path, bytes: cut, send: { halfClose: true }, statuses: [400] });
    const headLength = full.indexOf('\r\n\r\n') + 4;
    add({ name: `body trickled past the request timeout ${route}`, path, bytes: full, send: { firstChunk: headLength, chunkSize: 1, chunkDelayMs: 250, timeoutMs: 30_000 }, statuses: [408] });
    // The head never completes: the path is unknown when the timeout fires (OpenAI's error shape).
    add({ name: `head trickled past the request timeout ${route}`, path: null, bytes: full.subarray(0, 40), send: { chunkSize: 1, chunkDelayMs: 100, timeoutMs: 30_000 }, statuses: [408] });
    const invalid = body.replace(/"max_(new_)?tokens":\s*\d+/, '"max_$1tokens":-3');
    add({ name: `invalid body trickled byte by byte (within the timeout) ${route}`, path, bytes: post(path, invalid), send: { chunkSize: 3, chunkDelayMs: 2 } });
  }

  while (cases.length < count) {
    const roll = rng.float();
    if (roll < 0.7 && posts.length > 0) {
      // A route's own invalid values, one to three of them, sometimes with unknown fields too.
      const route = rng.pick(posts);
      const fam = ROUTE_BODIES[family(route)];
      if (!fam) continue;
      const body = fam.base();
      const names: string[] = [];
      // One mutation where two could cancel out (tokenize: "no prompt" then "prompt and messages").
      const numMutations = route === '/tokenize' || route === '/detokenize' ? 1 : 1 + rng.int(3);
      for (let k = numMutations; k > 0; k--) {
        const [name, apply] = rng.pick(fam.invalid);
        apply(body);
        names.push(name);
      }
      if (rng.int(4) === 0) body[`unknown_${rng.int(1000)}`] = rng.pick([1, 'x', null, { deep: [1, 2] }]);
      const headers = rng.int(6) === 0 ? { 'content-type': rng.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'application/json; charset=latin1']) } : JSON_HEADERS;
      const path = concretePath(route);
      add({ name: `${route}: ${names.join(', ')}`, path, bytes: post(path, JSON.stringify(body), headers), send: {} });
    } else if (roll < 0.88 && posts.length > 0) {
      // A broken body.
      const route = rng.pick(posts);
      const path = concretePath(route);
      const json = JSON.stringify(ROUTE_BODIES[family(route)]?.base() ?? { x: 1 });
      const kind = rng.int(8);
      let body: Buffer | string;
      let name: string;
      if (kind === 0) [body, name] = [withInvalidUtf8(json, rng), 'invalid UTF-8'];
      else if (kind === 1) [body, name] = ['', 'empty body'];
      else if (kind === 2) [body, name] = [rng.pick(['[]', '"x"', '5', 'null', 'true', '[{"prompt":"x"}]']), 'not an object'];
      else if (kind === 3) [body, name] = [`{"prompt":${nested(200 + rng.int(20_000))},"inputs":"x"}`, 'deeply nested field'];
      else if (kind === 4) [body, name] = [nested(1000 + rng.int(100_000)), 'deeply nested body'];
      else if (kind === 5) [body, name] = [json.replace('{', '{"__proto__":{"polluted":1},'), '__proto__ key'];
      else [body, name] = [brokenJson(json, rng), 'invalid JSON'];
      add({ name: `${route}: ${name}`, path, bytes: post(path, body), send: {} });
    } else if (roll < 0.95) {
      // Broken HTTP.
      const route = rng.pick([...posts, ...gets]);
      const path = concretePath(route);
      const kind = rng.int(10);
      const body = '{"prompt":"x"}';
      let bytes: Buffer;
      let statuses: number[] | undefined;
      let reqPath: string | null = path;
      if (kind === 0) bytes = Buffer.from(`POST ${path} HTTP/1.1\r\nhost: x\r\nno-colon-here\r\ncontent-length: 2\r\n\r\n{}`);
      else if (kind === 1) bytes = Buffer.from(`POST ${path} HTTP/1.1\r\nhost: x\r\nx-bad: a\u0000b\r\ncontent-length: 2\r\n\r\n{}`, 'latin1');
      else if (kind === 2) bytes = Buffer.from(`POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\ncontent-length: 5\r\n\r\n{}`);
      else if (kind === 3) bytes = Buffer.from(`POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: 14\r\ntransfer-encoding: chunked\r\n\r\n${body}`);
      else if (kind === 4) bytes = Buffer.from(`POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: ${rng.pick(['-1', 'abc', '1e3', '99999999999999999999'])}\r\n\r\n{}`);
      else if (kind === 5) bytes = Buffer.from(`POST ${path} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`);
      else if (kind === 6) {
        bytes = httpBytes('GET', path, { 'x-big': 'h'.repeat(limits.maxHeaderSize + 100) });
        statuses = [431];
      } else if (kind === 7) {
        bytes = Buffer.from(rng.pick(['GARBAGE\r\n\r\n', `G@T ${path} HTTP/1.1\r\nhost: x\r\n\r\n`, `GET ${path} HTTP/9.9\r\nhost: x\r\n\r\n`, '\u0016\u0003\u0001\u0002\u0000\u0001\u0000', `GET ${path}\u0000 HTTP/1.1\r\n\r\n`]), 'latin1');
        // The server reads the path off the request line when it has the form METHOD PATH HTTP/n.
        reqPath = requestLinePath(bytes) ?? null;
      } else if (kind === 8) {
        // A method the route does not have, or a path no route has.
        const other = rng.pick(['/v1/nothing', '/v2/models/stories/explode', '/generate/extra', '/v1/completions/../../etc/passwd', '/%zz', '/v2/models/../../../etc/passwd/infer']);
        bytes = rng.bool() ? httpBytes('DELETE', path, {}) : httpBytes('POST', other, { 'content-type': 'application/json', 'content-length': 2 }, '{}');
        if (!bytes.toString('latin1').startsWith('DELETE')) reqPath = other;
      } else {
        // A model the server does not serve, named in the path.
        const name = rng.pick(['other', '..%2F..%2Fetc%2Fpasswd', '%2Fetc%2Fhostname', 'x'.repeat(600), 'stories%00']);
        const p = `/v2/models/${name}${rng.pick(['', '/ready', '/versions/1', '/versions/2/ready'])}`;
        bytes = httpBytes('GET', p, {});
        reqPath = p;
      }
      // A request line names its path: errors use that path's protocol; an unparseable one gets OpenAI's.
      add({ name: `broken HTTP #${kind} ${path}`, path: reqPath, bytes, send: {}, ...(statuses ? { statuses } : {}) });
    } else if (posts.length > 0) {
      // Invalid fields sent slowly (a slow client still gets its answer).
      const route = rng.pick(posts);
      const fam = ROUTE_BODIES[family(route)];
      if (!fam) continue;
      const body = fam.base();
      const [name, apply] = rng.pick(fam.invalid);
      apply(body);
      const path = concretePath(route);
      add({ name: `${route}: ${name}, sent in small pieces`, path, bytes: post(path, JSON.stringify(body)), send: { chunkSize: 7 + rng.int(20), chunkDelayMs: 1 } });
    }
  }
  return cases;
}

/** What is wrong with a response to a malformed request, or null. */
export function problemWith(c: FuzzCase, r: RawResponse): string | null {
  if (r.status === -1) return 'no answer: the connection stayed open past the timeout';
  if (r.status === 0) return `closed without an HTTP response (${JSON.stringify(r.body.slice(0, 80))})`;
  if (r.status < 400 || r.status > 499) return `status ${r.status}, expected a 4xx: ${r.body.slice(0, 200)}`;
  if (c.statuses && !c.statuses.includes(r.status)) return `status ${r.status}, expected ${c.statuses.join(' or ')}: ${r.body.slice(0, 200)}`;
  let body: any;
  try {
    body = JSON.parse(r.body);
  } catch {
    return `status ${r.status} with a body that is not JSON: ${JSON.stringify(r.body.slice(0, 120))}`;
  }
  const protocol = c.path === null ? 'openai' : protocolOf(c.path);
  const ok = protocol === 'openai'
    ? typeof body?.error === 'object' && body.error !== null && typeof body.error.message === 'string' && typeof body.error.type === 'string'
    : protocol === 'tgi'
      ? typeof body?.error === 'string' && typeof body?.error_type === 'string'
      : typeof body?.error === 'string' && Object.keys(body).length === 1;
  return ok ? null : `status ${r.status}: not a ${protocol} error body: ${r.body.slice(0, 200)}`;
}
