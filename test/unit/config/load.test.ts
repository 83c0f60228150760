import { describe, expect, test } from 'bun:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ConfigError, loadConfig, validateConfig } from '../../../src/config/load.ts';
import { buildChannels } from '../../../src/runtime.ts';

const dir = mkdtempSync(join(tmpdir(), 'sb-config-'));
const write = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };
const problems = (fn: () => unknown): string[] => {
  try { fn(); } catch (e) { if (e instanceof ConfigError) return e.problems; throw e; }
  throw new Error('expected a ConfigError');
};
const base = { channels: [{ name: 'c', type: 'anthropic', base_url: 'https://api.anthropic.com', models: ['m'] }] };

describe('loadConfig', () => {
  test("YAML's .inf is a number, but not a weight", () => {
    const p = write('inf.yaml', 'channels:\n  - { name: c, type: anthropic, base_url: "https://x.test", models: [m], weight: .inf }\n');
    expect(problems(() => loadConfig({ path: p, env: {} }))).toEqual(['channels[0].weight: must be a finite number']);
  });

  test('JSON with ${VAR} expansion and defaults', () => {
    const p = write('a.json', JSON.stringify({ channels: [{ name: 'c', type: 'anthropic', base_url: 'https://x.test', api_key: '${MY_KEY}', models: ['m'] }] }));
    const cfg = loadConfig({ path: p, env: { MY_KEY: 'secret' } });
    expect(cfg.channels[0]!.api_key).toBe('secret');
    expect(cfg.server).toMatchObject({ host: '127.0.0.1', port: 8080, max_body_bytes: 32 * 1024 * 1024 });
    expect(cfg.channels[0]).toMatchObject({ priority: 0, weight: 1 });
  });

  test('YAML by extension', () => {
    const p = write('a.yaml', 'server:\n  port: 9999\nchannels:\n  - name: c\n    type: openai\n    base_url: http://127.0.0.1:1/v1\n    models: { a: b }\n');
    const cfg = loadConfig({ path: p, env: {} });
    expect(cfg.server.port).toBe(9999);
    expect(cfg.channels[0]!.models).toEqual({ a: 'b' });
  });

  test('a number from the environment: `port: ${PORT}` (a ${VAR} gives a string) is the number it holds', () => {
    // the port a container platform sets as PORT, durations and weights kept in an env file: each was refused as
    // 'server.port: Invalid type: Expected number but received "9000"', which reads as a number to the user
    const p = write('n.yaml', [
      'server:\n  port: ${PORT}\n  drain_timeout_ms: "${DRAIN_MS}"',
      'routing: { max_attempts: "${ATTEMPTS}" }',
      'channels:\n  - name: c\n    type: openai\n    base_url: http://127.0.0.1:1/v1\n    models: [m]\n    weight: ${W}\n    priority: "${P}"',
      '    quirks: { max_output_tokens: { "*": "${CAP}" } }\n',
    ].join('\n'));
    const cfg = loadConfig({ path: p, env: { PORT: '9000', DRAIN_MS: '5000\n', ATTEMPTS: '2', W: '0.5', P: '-1', CAP: '16384' } });
    expect(cfg.server).toMatchObject({ port: 9000, drain_timeout_ms: 5000 });
    expect(cfg.routing.max_attempts).toBe(2);
    expect(cfg.channels[0]).toMatchObject({ weight: 0.5, priority: -1, quirks: { max_output_tokens: { '*': 16384 } } });
    // what is not a number is still refused as one, and a number's own checks still hold
    expect(problems(() => loadConfig({ path: p, env: { PORT: '90x', DRAIN_MS: '1', ATTEMPTS: '0', W: '1', P: '0', CAP: '1' } }))).toEqual([
      'server.port: Invalid type: Expected number but received "90x"',
      'routing.max_attempts: Invalid value: Expected >=1 but received 0',
    ]);
  });

  test('a missing variable is an error naming it and where', () => {
    const p = write('b.json', JSON.stringify({ channels: [{ name: 'c', type: 'anthropic', base_url: 'https://x.test', api_key: '${NOPE_KEY}', models: ['m'] }] }));
    expect(problems(() => loadConfig({ path: p, env: {} }))).toEqual(['channels[0].api_key: environment variable NOPE_KEY is not set']);
  });

  test('an empty variable is an error too (KEY= in an env file), not an empty api_key that every upstream refuses', () => {
    const p = write('e.json', JSON.stringify({ channels: [{ name: 'c', type: 'anthropic', base_url: 'https://x.test', api_key: 'Bearer ${EMPTY_KEY}', models: ['m'] }] }));
    expect(problems(() => loadConfig({ path: p, env: { EMPTY_KEY: '' } }))).toEqual(['channels[0].api_key: environment variable EMPTY_KEY is empty']);
  });

  test('$${VAR} stays literal', () => {
    const p = write('c.json', JSON.stringify({ channels: [{ name: 'c', type: 'anthropic', base_url: 'https://x.test', api_key: '$${LITERAL}', models: ['m'] }] }));
    expect(loadConfig({ path: p, env: {} }).channels[0]!.api_key).toBe('${LITERAL}');
  });

  test('unreadable and unparseable files', () => {
    expect(problems(() => loadConfig({ path: join(dir, 'missing.json'), env: {} }))[0]).toContain('cannot read config file');
    expect(problems(() => loadConfig({ path: write('bad.json', '{"a":'), env: {} }))[0]).toContain('not valid JSON');
    expect(problems(() => loadConfig({ path: write('bad.yml', 'a: [1,'), env: {} }))[0]).toContain('not valid YAML');
  });

  test('a YAML syntax error names its line (the parser alone says only "Unexpected token")', () => {
    const cases: Array<[string, number]> = [
      ['channels:\n  - name: a\n    type: anthropic\n     base_url: http://x.test\n    models: [m]\n', 4], // one space too many
      ['channels:\n  - name: a\n  type: anthropic\n  base_url: http://x.test\n  models: [m]\n', 3], // the rest not under the item
      ['server:\n  port: 1\nchannels:\n- name: a\n  models:\n  - m\n - name: b\n', 7],
      ['channels:\n  - { name: a, models: [x, y }\n', 2],
      ['keys:\n  - { key: "sk-12345678, name: x }\nchannels: []\n', 2], // a quote never closed
      // a flow mapping over two lines is not the error, though the file cut inside it does not parse
      ['channels:\n  - { name: a, type: anthropic,\n      base_url: "http://x.test", models: [m] }\n  - name: b\n     type: openai\n', 5],
    ];
    for (const [text, line] of cases) {
      const [problem, ...rest] = problems(() => loadConfig({ path: write('indent.yaml', text), env: {} }));
      expect(rest).toEqual([]);
      expect(problem).toStartWith(`${join(dir, 'indent.yaml')}: not valid YAML: YAML Parse error: `);
      expect(problem).toEndWith(` (line ${line})`);
    }
  });

  test('a JSON syntax error names its line (the parser alone says only what it found), a trailing comma the line of the comma', () => {
    const cases: Array<[string, string]> = [
      ['{\n  "channels": [\n    { "name": "a", "models": ["m"] },\n  ]\n}\n', 'line 3: a comma after the last item, which JSON does not allow'],
      ['{\n  "channels": [\n    { "name": "a", "models": ["m"],\n    }\n  ]\n}\n', 'line 3: a comma after the last item, which JSON does not allow'],
      ['{\n  "channels": [\n    { "name": "a" "models": ["m"] }\n  ]\n}\n', 'line 3'], // a comma missing
      ['{\n  // a comment\n  "channels": []\n}\n', 'line 2'],
      ['{\n  "channels": []\n}\n}\n', 'line 4'],
    ];
    for (const [text, where] of cases) {
      const [problem, ...rest] = problems(() => loadConfig({ path: write('syntax.json', text), env: {} }));
      expect(rest).toEqual([]);
      expect(problem).toStartWith(`${join(dir, 'syntax.json')}: not valid JSON: JSON Parse error: `);
      expect(problem).toEndWith(` (${where})`);
    }
  });

  test('a byte order mark (as Windows editors write one) is not an error, in JSON as in YAML', () => {
    const json = write('bom.json', `\uFEFF${JSON.stringify(base)}`);
    expect(loadConfig({ path: json, env: {} }).channels[0]!.name).toBe('c');
    const yaml = write('bom.yaml', '\uFEFFchannels:\n  - { name: c, type: anthropic, base_url: "https://x.test", models: [m] }\n');
    expect(loadConfig({ path: yaml, env: {} }).channels[0]!.name).toBe('c');
  });

  test('a YAML file of several documents is told so, not that its root is not a mapping', () => {
    const one = 'channels:\n  - { name: c, type: anthropic, base_url: "https://x.test", models: [m] }\n';
    for (const [text, n] of [[`${one}---\nkeys: []\n`, 2], [`# config\n---\n${one}---\n`, 2]] as const) {
      const p = write('multi.yaml', text);
      expect(problems(() => loadConfig({ path: p, env: {} }))).toEqual([`${p}: holds ${n} YAML documents (separated by ---); a config is one mapping`]);
    }
    // one document, marked as such, is a config; a list is still not one
    expect(loadConfig({ path: write('one.yaml', `---\n${one}...\n`), env: {} }).channels[0]!.name).toBe('c');
    expect(problems(() => loadConfig({ path: write('list.yaml', '---\n- a\n'), env: {} }))).toEqual(['(root): must be a mapping of server, keys, channels and routing']);
  });

  test('a YAML file of several documents after many blank lines is told so at once (the check for a leading --- does not backtrack line by line)', () => {
    const one = 'channels:\n  - { name: c, type: anthropic, base_url: "https://x.test", models: [m] }\n';
    const p = write('multi-blank.yaml', `# config\n${'\n'.repeat(27)}${one}---\nkeys: []\n`);
    const t0 = performance.now();
    expect(problems(() => loadConfig({ path: p, env: {} }))).toEqual([`${p}: holds 2 YAML documents (separated by ---); a config is one mapping`]);
    expect(performance.now() - t0).toBeLessThan(1000); // each blank line doubled the time: 27 of them took seconds, 40 hours
  });

  test('a file nested deeper than any config is one problem naming where, not a stack overflow', () => {
    const deep = write('deep.json', `{"channels":[],"server":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    const [problem, ...rest] = problems(() => loadConfig({ path: deep, env: {} }));
    expect(rest).toEqual([]);
    expect(problem).toStartWith('server[0][0]');
    expect(problem).toEndWith(': nested more than 64 levels deep');
  });

  test('zero-config: provider keys become channels; ANTHROPIC_BASE_URL is not followed', () => {
    const cfg = loadConfig({ env: { ANTHROPIC_API_KEY: 'a', OPENAI_API_KEY: 'o', ANTHROPIC_BASE_URL: 'http://127.0.0.1:8080' } });
    expect(cfg.channels.map((c) => [c.name, c.base_url])).toEqual([['anthropic', 'https://api.anthropic.com'], ['openai', 'https://api.openai.com/v1']]);
    expect(cfg.server.host).toBe('127.0.0.1');
    expect(loadConfig({ env: {} }).channels).toEqual([]);
  });
  test('zero-config: PORT sets the port; a PORT that is not one is an error naming PORT, not a silent 8080', () => {
    expect(loadConfig({ env: { PORT: '9090' } }).server.port).toBe(9090);
    expect(loadConfig({ env: { PORT: '' } }).server.port).toBe(8080);
    for (const bad of ['abc', '80 80', '-1', '70000', '8080.5']) {
      expect(problems(() => loadConfig({ env: { PORT: bad } }))).toEqual([`PORT: not a port number (0-65535): ${bad}`]);
    }
  });
});

describe('validation names every problem by path', () => {
  const cases: Array<[string, unknown, string]> = [
    ['bad URL', { channels: [base.channels[0], { name: 'd', type: 'openai', base_url: 'http://not a url', models: ['x'] }] }, 'channels[1].base_url: Invalid URL'],
    ['unknown top-level key', { ...base, chanels: [] }, 'chanels: unknown key'],
    ['unknown channel key', { channels: [{ ...base.channels[0], modles: [] }] }, 'channels[0].modles: unknown key'],
    ['unknown type', { channels: [{ ...base.channels[0], type: 'bedrock' }] }, 'channels[0].type: must be one of: anthropic, openai'],
    ['models empty', { channels: [{ ...base.channels[0], models: [] }] }, 'channels[0].models'],
    ['port out of range', { ...base, server: { port: 70000 } }, 'server.port'],
    ['a model name with a space at its end (a client never sends one)', { channels: [{ ...base.channels[0], models: ['claude-x '] }] }, 'channels[0].models[0]: no space or line break at either end'],
    ['an upstream name with a line break at its end', { channels: [{ ...base.channels[0], models: { 'claude-x': 'claude-y\n' } }] }, 'channels[0].models.claude-x: no space or line break at either end'],
    ['host with a port', { ...base, server: { host: 'localhost:8080' } }, 'server.host: without a port: the port is server.port (or --port)'],
    ['host as a URL', { ...base, server: { host: 'http://0.0.0.0' } }, 'server.host: a host name or address, not a URL'],
    ['host out of IPv4 range', { ...base, server: { host: '999.1.1.1' } }, 'server.host: not a valid IPv4 address'],
    ['host with a character no host name has', { ...base, server: { host: 'my!host' } }, 'server.host: not a host name or an IP address'],
    ['short key', { ...base, keys: [{ key: 'x', name: 'a' }] }, 'keys[0].key: must be at least 8 characters'],
    ['key ending in a line break (a ${VAR} read from a file)', { ...base, keys: [{ key: 'sk-gw-12345678\n', name: 'a' }] }, 'keys[0].key: must be printable ASCII with no space or line break at either end'],
    ['key with a space at its start', { ...base, keys: [{ key: ' sk-gw-12345678', name: 'a' }] }, 'keys[0].key: must be printable ASCII'],
    ['key with non-ASCII letters', { ...base, keys: [{ key: 'sk-gw-clé-12345678', name: 'a' }] }, 'keys[0].key: must be printable ASCII'],
    ['quirks on anthropic', { channels: [{ ...base.channels[0], quirks: { top_k: true } }] }, 'channels[0].quirks: only openai channels take quirks'],
    ['unknown quirk', { channels: [{ name: 'o', type: 'openai', base_url: 'http://x.test/v1', models: ['m'], quirks: { topk: true } }] }, 'channels[0].quirks.topk: unknown key'],
    ['openai without base_url or provider', { channels: [{ name: 'o', type: 'openai', models: ['m'] }] }, 'channels[0].base_url: required'],
    ['channels missing', {}, 'channels'],
    ['bad header name', { channels: [{ ...base.channels[0], headers: { 'x bad': 'v' } }] }, 'not a valid HTTP header name'],
    ['header value with a line break', { channels: [{ ...base.channels[0], headers: { 'x-ok': 'a\r\nx-evil: 1' } }] }, 'a header value cannot hold line breaks'],
    ['header value that is a number', { channels: [{ ...base.channels[0], headers: { 'x-ok': 5 } }] }, 'channels[0].headers.x-ok'],
  ];
  for (const [name, raw, expected] of cases) {
    test(name, () => {
      const ps = problems(() => validateConfig(raw));
      expect(ps.some((p) => p.startsWith(expected) || p.includes(expected))).toBe(true);
    });
  }
  test('a list where a mapping belongs (headers, thinking, quirks.max_output_tokens) is refused, not read as a map of "0", "1"…', () => {
    // valibot's record takes an array as an object: `headers: ["authorization: Bearer …"]` was sent upstream as a
    // header named "0", and the channel answered 401 with no word at start-up
    expect(problems(() => validateConfig({ channels: [
      { ...base.channels[0], headers: ['authorization: Bearer sk-x'], thinking: ['adaptive'] },
      { name: 'o', type: 'openai', base_url: 'http://x.test/v1', models: ['m'], quirks: { max_output_tokens: [16384], reasoning_efforts_by_model: [['low']] } },
    ] }))).toEqual([
      'channels[0].headers: must be a mapping (name: value), not a list',
      'channels[0].thinking: must be a mapping (name: value), not a list',
      'channels[1].quirks.max_output_tokens: must be a mapping (name: value), not a list',
      'channels[1].quirks.reasoning_efforts_by_model: must be a mapping (name: value), not a list',
    ]);
  });
  test('a header set to null (send none of that name) is accepted', () => {
    expect(validateConfig({ channels: [{ ...base.channels[0], headers: { 'anthropic-beta': null } }] }).channels[0]!.headers).toEqual({ 'anthropic-beta': null });
  });
  test('a base_url that is the endpoint itself, not the API it is part of, says what to write instead', () => {
    // the gateway appends the endpoint: .../v1/chat/completions/chat/completions is a 404 ("Not Found" from Anthropic)
    expect(problems(() => validateConfig({ channels: [
      { name: 'o', type: 'openai', base_url: 'https://api.openai.com/v1/chat/completions', models: ['m'] },
      { name: 'a', type: 'anthropic', base_url: 'https://api.anthropic.com/v1/messages/', models: ['m'] },
      { name: 'z', type: 'openai', provider: 'azure', base_url: 'https://r.openai.azure.com/openai/deployments/{model}/chat/completions?x=1', models: ['m'] },
    ] }))).toEqual([
      'channels[0].base_url: the API\'s base URL, not the endpoint: Switchboard appends /chat/completions (write https://api.openai.com/v1)',
      'channels[1].base_url: the API\'s base URL, not the endpoint: Switchboard appends /v1/messages (write https://api.anthropic.com)',
      'channels[2].base_url: the API\'s base URL, not the endpoint: Switchboard appends /chat/completions (write https://r.openai.azure.com/openai/deployments/{model}?x=1)',
    ]);
    // base URLs with or without /v1 stay valid
    for (const [type, url] of [['openai', 'http://127.0.0.1:8000/v1'], ['openai', 'http://127.0.0.1:8000/v1/'], ['anthropic', 'https://api.anthropic.com/v1'], ['anthropic', 'https://gw.test/messages-api'], ['openai', 'https://gw.test/chat']]) {
      expect(validateConfig({ channels: [{ name: 'c', type, base_url: url, models: ['m'] }] }).channels[0]!.base_url).toBe(url);
    }
  });
  test('a bad entry of `models` is named by its index or name, in a list as in a map', () => {
    const modelsProblems = (models: unknown) => problems(() => validateConfig({ channels: [{ ...base.channels[0], models }] }));
    // a list was also tried as a map of "0", "1"… and reported as neither: `channels[0].models: must be a list … or a map …`
    expect(modelsProblems(['m', ''])).toEqual(['channels[0].models[1]: must not be empty']);
    expect(modelsProblems([3.5])).toEqual(['channels[0].models[0]: Invalid type: Expected string but received 3.5']);
    expect(modelsProblems({ a: 1 })).toEqual(['channels[0].models.a: Invalid type: Expected string but received 1']);
    expect(modelsProblems({ '': 'x' })).toEqual(['channels[0].models[""]: must not be empty']);
    expect(modelsProblems('m')).toEqual(['channels[0].models: must be a list of model names or a map of exposed name → upstream name']);
    expect(modelsProblems([])).toEqual(['channels[0].models: must list at least one model']);
    expect(modelsProblems({})).toEqual(['channels[0].models: must map at least one model']);
  });
  test('a root that is not a mapping: one problem saying so', () => {
    for (const raw of [[1, 2], 'channels', 42, null]) expect(problems(() => validateConfig(raw))).toEqual(['(root): must be a mapping of server, keys, channels and routing']);
  });
  test('a duration past what a timer can hold (2^31-1 ms) is refused, not turned into 1 ms', () => {
    // setTimeout fires at once for longer delays: a stream_idle_timeout_ms of 35 days failed every stream in 1 ms
    const ps = problems(() => validateConfig({ channels: [{ ...base.channels[0], stream_idle_timeout_ms: 3_000_000_000, timeout_ms: 1e20 }], server: { drain_timeout_ms: 2 ** 31 }, routing: { circuit_cooldown_ms: 2 ** 31 } }));
    expect(ps).toEqual([
      'server.drain_timeout_ms: at most 2147483647 ms (24.8 days)',
      'channels[0].timeout_ms: at most 2147483647 ms (24.8 days)',
      'channels[0].stream_idle_timeout_ms: at most 2147483647 ms (24.8 days)',
      'routing.circuit_cooldown_ms: at most 2147483647 ms (24.8 days)',
    ]);
    expect(validateConfig({ channels: [{ ...base.channels[0], stream_idle_timeout_ms: 2 ** 31 - 1 }] }).channels[0]!.stream_idle_timeout_ms).toBe(2 ** 31 - 1);
  });
  test('a missing required field says so', () => {
    expect(problems(() => validateConfig({ channels: [{ type: 'anthropic', base_url: 'https://x.test' }], keys: [{ key: 'sk-12345678' }] }))).toEqual([
      'keys[0].name: required',
      'channels[0].name: required',
      'channels[0].models: required',
    ]);
    expect(problems(() => validateConfig({}))).toEqual(['channels: required']);
  });
  test("a key's model that no channel serves is named (it could never be used)", () => {
    const channels = [{ ...base.channels[0], models: ['m', 'claude-*'] }];
    expect(problems(() => validateConfig({ channels, keys: [{ key: 'sk-12345678', name: 'a', models: ['m', 'claude-x', 'gpt-4o'] }] })))
      .toEqual(['keys[0].models[2]: no channel serves model "gpt-4o"']);
    expect(validateConfig({ channels, keys: [{ key: 'sk-12345678', name: 'a', models: ['m', 'claude-x'] }] }).keys[0]!.models).toEqual(['m', 'claude-x']);
  });
  test("a key's models are exact names: a pattern is refused, not taken as a name no client sends", () => {
    const channels = [{ ...base.channels[0], models: ['claude-*'] }];
    expect(problems(() => validateConfig({ channels, keys: [{ key: 'sk-12345678', name: 'a', models: ['claude-sonnet-4-5', 'claude-*'] }] })))
      .toEqual(['keys[0].models[1]: "claude-*" is a pattern; a key\'s models are exact names (list each one)']);
  });
  test('a pattern maps to one upstream name or to itself: another pattern is refused, not sent upstream as it is', () => {
    const channels = [{ ...base.channels[0], models: { 'claude-*': 'anthropic/claude-*', 'gpt-*': 'gpt-*', 'o*': 'gpt-5' } }];
    expect(problems(() => validateConfig({ channels })))
      .toEqual(['channels[0].models.claude-*: "anthropic/claude-*" is a pattern; a pattern maps to one upstream name, or to itself to send the requested name']);
  });
  describe('drop_fields', () => {
    const anthropic = base.channels[0];
    const openai = { name: 'o', type: 'openai', base_url: 'http://x.test/v1', models: ['m'] };
    test('absent by default; names of top-level fields are accepted as listed', () => {
      expect(validateConfig({ channels: [anthropic] }).channels[0]!.drop_fields).toBeUndefined();
      const fields = ['context_management', 'output_config', 'thinking', 'metadata', 'container', 'mcp_servers', 'service_tier'];
      expect(validateConfig({ channels: [{ ...anthropic, drop_fields: fields }] }).channels[0]!.drop_fields).toEqual(fields);
      expect(validateConfig({ channels: [{ ...openai, drop_fields: ['max_tokens', 'stream_options'] }] }).channels[0]!.drop_fields).toEqual(['max_tokens', 'stream_options']);
    });
    test('an entry that is no field name (empty, a path, upper case) is named with what a name is', () => {
      expect(problems(() => validateConfig({ channels: [{ ...anthropic, drop_fields: ['', 'thinking.display', 'Metadata', 7] }] }))).toEqual([
        'channels[0].drop_fields[0]: must not be empty',
        'channels[0].drop_fields[1]: a top-level field name: lower-case letters and _ only',
        'channels[0].drop_fields[2]: a top-level field name: lower-case letters and _ only',
        'channels[0].drop_fields[3]: Invalid type: Expected string but received 7',
      ]);
    });
    test('the fields a request cannot do without are refused, per channel type, and so is a repeat', () => {
      expect(problems(() => validateConfig({ channels: [
        { ...anthropic, drop_fields: ['metadata', 'model', 'messages', 'max_tokens', 'stream', 'metadata'] },
        { ...openai, drop_fields: ['max_tokens', 'messages'] },
      ] }))).toEqual([
        'channels[0].drop_fields[1]: "model" cannot be dropped: anthropic requests cannot do without it (model, messages, max_tokens, stream always go upstream)',
        'channels[0].drop_fields[2]: "messages" cannot be dropped: anthropic requests cannot do without it (model, messages, max_tokens, stream always go upstream)',
        'channels[0].drop_fields[3]: "max_tokens" cannot be dropped: anthropic requests cannot do without it (model, messages, max_tokens, stream always go upstream)',
        'channels[0].drop_fields[4]: "stream" cannot be dropped: anthropic requests cannot do without it (model, messages, max_tokens, stream always go upstream)',
        'channels[0].drop_fields[5]: "metadata" is listed twice (also drop_fields[0])',
        'channels[1].drop_fields[1]: "messages" cannot be dropped: openai requests cannot do without it (model, messages, stream always go upstream)',
      ]);
    });
  });
  test('a field the channel\'s type does not read is refused, not ignored (api_version on anthropic, thinking on openai)', () => {
    expect(problems(() => validateConfig({ channels: [
      { ...base.channels[0], api_version: '2024-10-21', thinking: { '*': 'budget' } },
      { name: 'o', type: 'openai', base_url: 'http://x.test/v1', models: ['m'], api_version: '2024-10-21', thinking: { '*': 'none' } },
    ] }))).toEqual([
      'channels[0].api_version: only openai channels take an api_version (Azure\'s api-version)',
      'channels[1].thinking: only anthropic channels take thinking (how reasoning_effort from /v1/chat/completions becomes Anthropic thinking)',
    ]);
  });
  test('duplicate channel names name the second one', () => {
    expect(problems(() => validateConfig({ channels: [base.channels[0], { ...base.channels[0], name: 'd' }, base.channels[0]] })))
      .toEqual(['channels[2].name: duplicate channel name "c" (also channels[0])']);
  });
  test('a __proto__ key in the file is a key like any other, not a prototype', () => {
    const p = join(dir, 'proto.json');
    writeFileSync(p, '{"__proto__": {"keys": [{"key": "sk-12345678", "name": "x"}]}, "channels": [{"name": "c", "type": "anthropic", "base_url": "https://x.test", "models": {"__proto__": "u"}}]}');
    expect(problems(() => loadConfig({ path: p, env: {} }))).toEqual(['channels[0].models: must map at least one model', '__proto__: unknown key']);
  });
  test('one problem per field: the first of its checks that fails', () => {
    const channel = (name: string, base_url: string) => ({ name, type: 'openai', base_url, models: ['m'] });
    expect(problems(() => validateConfig({ channels: [channel('a', 'api.deepseek.com/v1'), channel('b', ''), channel('c', 'http://exa mple.com'), channel('', 'https://x.test')] }))).toEqual([
      'channels[0].base_url: must start with http:// or https://',
      'channels[1].base_url: must start with http:// or https://',
      'channels[2].base_url: Invalid URL',
      'channels[3].name: must not be empty',
    ]);
  });
  test('several problems are all reported', () => {
    const ps = problems(() => validateConfig({ channels: [{ name: 'c', type: 'x', base_url: 'nope', models: ['m'] }], extra: 1 }));
    expect(ps.length).toBeGreaterThanOrEqual(3);
  });
  test('unknown provider preset is named', () => {
    const cfg = validateConfig({ channels: [{ name: 'o', type: 'openai', provider: 'nonesuch', base_url: 'http://x.test/v1', models: ['m'] }] });
    expect(problems(() => buildChannels(cfg))[0]).toStartWith('channels[0].provider: unknown provider "nonesuch"');
  });
});

describe('server.host', () => {
  test.each(['127.0.0.1', 'localhost', '0.0.0.0', '::', '::1', '[::1]', 'fe80::1%eth0', 'gateway.internal', 'switchboard_1', 'host.'])('%s is a listen address', (host) => {
    expect(validateConfig({ ...base, server: { host } }).server.host).toBe(host);
  });
  test.each(['[::1]:8080', '[zz]', ':::x', 'a b'])('%s is not', (host) => {
    expect(problems(() => validateConfig({ ...base, server: { host } })).some((p) => p.startsWith('server.host: '))).toBe(true);
  });
});

describe('server.cors_origins', () => {
  const keys = [{ key: 'sk-12345678', name: 'a' }];
  const origins = (cors_origins: unknown, k: unknown[] = keys) => validateConfig({ ...base, keys: k, server: { cors_origins } }).server.cors_origins;

  test('origins as a browser sends them, "*" alone, or none; absent stays absent (the default depends on keys: http/cors.ts)', () => {
    expect(origins(['https://app.example.com', 'http://localhost:5173', 'http://[::1]:8000', 'chrome-extension://abcdefghijklmnop'])).toHaveLength(4);
    expect(origins(['*'])).toEqual(['*']);
    expect(origins([])).toEqual([]);
    expect(validateConfig({ ...base, keys }).server.cors_origins).toBeUndefined();
  });

  test('an entry that is not an origin as a browser writes it (compared as a string, it would never match) is named, with the origin meant', () => {
    expect(problems(() => origins(['https://App.example.com/', 'http://a.example:80', 'https://a.example/path', 'a.example', 'null', 'https://bücher.example']))).toEqual([
      'server.cors_origins[0]: "https://App.example.com/" is not an origin as a browser sends it (scheme://host[:port] in lower case, no path or trailing slash, no default port): did you mean "https://app.example.com"?',
      'server.cors_origins[1]: "http://a.example:80" is not an origin as a browser sends it (scheme://host[:port] in lower case, no path or trailing slash, no default port): did you mean "http://a.example"?',
      'server.cors_origins[2]: "https://a.example/path" is not an origin as a browser sends it (scheme://host[:port] in lower case, no path or trailing slash, no default port): did you mean "https://a.example"?',
      'server.cors_origins[3]: "a.example" is not an origin as a browser sends it (scheme://host[:port] in lower case, no path or trailing slash, no default port), e.g. "https://app.example.com"',
      'server.cors_origins[4]: "null" is not an origin as a browser sends it (scheme://host[:port] in lower case, no path or trailing slash, no default port), e.g. "https://app.example.com"',
      'server.cors_origins[5]: "https://bücher.example" is not an origin as a browser sends it (scheme://host[:port] in lower case, no path or trailing slash, no default port): did you mean "https://xn--bcher-kva.example"?',
    ]);
    expect(problems(() => origins('https://app.example.com'))).toEqual(['server.cors_origins: Invalid type: Expected Array but received "https://app.example.com"']);
    expect(problems(() => origins([1]))).toEqual(['server.cors_origins[0]: Invalid type: Expected string but received 1']);
  });

  test('"*" goes alone', () => {
    expect(problems(() => origins(['*', 'https://app.example.com']))).toEqual(['server.cors_origins: "*" allows every origin: list it alone']);
  });

  test('with no keys, only this machine\'s origins: any other would let every site visited spend the channels\' keys', () => {
    expect(origins(['http://localhost:5173', 'http://127.0.0.1:3000'], [])).toEqual(['http://localhost:5173', 'http://127.0.0.1:3000']);
    const needsKeys = 'needs keys: with none configured, only pages from this machine (http://localhost:…, http://127.0.0.1:…) may be served, else any site visited could spend the channels\' keys; add "keys", or list only loopback origins';
    expect(problems(() => origins(['*'], []))).toEqual([`server.cors_origins[0]: every origin ("*") ${needsKeys}`]);
    expect(problems(() => origins(['http://localhost:5173', 'https://app.example.com', 'http://localhost.example.com'], []))).toEqual([
      `server.cors_origins[1]: "https://app.example.com" ${needsKeys}`,
      `server.cors_origins[2]: "http://localhost.example.com" ${needsKeys}`,
    ]);
  });
});
