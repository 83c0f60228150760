import { describe, expect, test } from 'bun:test';
import { AnthropicTextCounter, ChatTextCounter, UsageSniffer } from '../../../src/accounting/usage-tap.ts';
import { usageToHub } from '../../../src/formats/openai-chat/response-to-hub.ts';
import { fixtureSseBody, listFixtures, readFixture } from '../../helpers/fixtures.ts';

const enc = new TextEncoder();
function sniff(format: 'anthropic' | 'openai-chat', sse: boolean, chunks: Uint8Array[]) {
  const s = new UsageSniffer(format, sse);
  for (const c of chunks) s.push(c);
  return { usage: { ...s.finish() }, stop: s.stopReason };
}
/** The body whole, in 3-byte pieces, one SSE event (or line) per chunk as upstreams send them, and cut in two anywhere. */
function splits(bytes: Uint8Array, step: number): Uint8Array[][] {
  const out: Uint8Array[][] = [[bytes], Array.from({ length: Math.ceil(bytes.length / 3) }, (_, i) => bytes.subarray(i * 3, i * 3 + 3))];
  for (const sep of ['\n\n', '\n']) {
    const text = new TextDecoder().decode(bytes);
    const parts = text.split(sep).map((p, i, all) => (i < all.length - 1 ? p + sep : p)).filter((p) => p !== '');
    out.push(parts.map((p) => enc.encode(p)));
  }
  for (let i = 1; i < bytes.length; i += step) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  return out;
}

describe('UsageSniffer', () => {
  test.each([
    ['anthropic/stream-text-basic.sse'],
    ['anthropic/stream-tool-use-haiku.sse'],
    ['anthropic/stream-thinking-signature-delta.sse'],
    ['anthropic/stream-message-delta-input-tokens.chunks.jsonl'],
  ])('Anthropic stream %s, split anywhere', (f) => {
    const body = fixtureSseBody(f);
    const events = body.split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)));
    const start = events.find((e) => e.type === 'message_start').message.usage;
    const delta = events.filter((e) => e.type === 'message_delta').at(-1);
    const bytes = enc.encode(body);
    for (const chunks of splits(bytes, bytes.length > 4000 ? 97 : 1)) {
      const { usage, stop } = sniff('anthropic', true, chunks);
      expect(usage.output_tokens).toBe(delta.usage.output_tokens);
      expect(usage.input_tokens).toBe(delta.usage.input_tokens ?? start.input_tokens);
      expect(usage.cache_read_input_tokens).toBe(delta.usage.cache_read_input_tokens ?? start.cache_read_input_tokens ?? 0);
      expect(stop).toBe(delta.delta.stop_reason);
    }
  });

  test('an unfinished line is kept as a copy: chunks handed in one reused Buffer (whose slice is a view) still add up', () => {
    const body = enc.encode(fixtureSseBody('anthropic/stream-text-basic.sse'));
    const whole = sniff('anthropic', true, [body]);
    for (const step of [7, 64, 301]) {
      const pool = Buffer.alloc(step);
      const s = new UsageSniffer('anthropic', true);
      for (let i = 0; i < body.length; i += step) {
        const n = Math.min(step, body.length - i);
        pool.set(body.subarray(i, i + n));
        s.push(pool.subarray(0, n));
        pool.fill(0x7b); // the next read overwrites the memory: a kept view would now read `{{{…`
      }
      expect({ ...s.finish() }).toEqual(whole.usage);
      expect(s.stopReason).toBe(whole.stop);
    }
    expect(whole.usage.output_tokens).toBeGreaterThan(0);
  });

  test('OpenAI stream with `"usage": null` in every chunk: the real usage object counts, the finish reason is read from its own chunk', () => {
    const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' };
    const chunk = (delta: object, finish: string | null, usage: object | null) => `data: ${JSON.stringify({ ...base, choices: finish === 'none' ? [] : [{ index: 0, delta, finish_reason: finish }], usage })}\n\n`;
    const body = chunk({ role: 'assistant', content: '' }, null, null) + chunk({ content: 'the "usage": {"prompt_tokens": 99} is text' }, null, null)
      + chunk({}, 'length', null) + chunk({}, 'none', { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 }) + 'data: [DONE]\n\n';
    const bytes = enc.encode(body);
    for (const chunks of splits(bytes, 1)) {
      const { usage, stop } = sniff('openai-chat', true, chunks);
      expect(usage.input_tokens).toBe(11);
      expect(usage.output_tokens).toBe(7);
      if (chunks.length === 1) expect(stop).toBe('length');
    }
  });

  test('OpenAI stream without usage: the finish reason still reaches the log', () => {
    const body = 'data: {"id":"c","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n'
      + 'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}\n\ndata: [DONE]\n\n';
    expect(sniff('openai-chat', true, [enc.encode(body)]).stop).toBe('tool_calls');
  });

  test('OpenRouter: the finish reason read in one read with its usage chunk after it, which says `"finish_reason":null`', () => {
    const body = 'data: {"id":"g","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop","native_finish_reason":"stop"}]}\n\n'
      + 'data: {"id":"g","choices":[{"index":0,"delta":{"content":""},"finish_reason":null}],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}\n\n'
      + 'data: [DONE]\n\n';
    expect(sniff('openai-chat', true, [enc.encode(body)])).toEqual({ usage: { input_tokens: 4, output_tokens: 2, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }, stop: 'stop' });
    // and the usage chunk cut after the finish reason's chunk, in the same read
    const cut = body.indexOf('"usage"') + 3;
    expect(sniff('openai-chat', true, [enc.encode(body.slice(0, cut)), enc.encode(body.slice(cut))]).stop).toBe('stop');
  });

  test('a JSON answer with `"usage": null` adds nothing (the next object is not taken for usage)', () => {
    const body = enc.encode(JSON.stringify({ id: 'x', usage: null, choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop', prompt_tokens: 5 }] }));
    const { usage, stop } = sniff('openai-chat', false, [body]);
    expect(usage.input_tokens).toBe(0);
    expect(stop).toBe('stop');
  });

  test('OpenAI stream usage chunk (cached tokens reported apart)', () => {
    const body = fixtureSseBody('openai-chat/stream-text-usage-chunk.sse');
    const last = body.split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6))).findLast((c) => c.usage);
    const bytes = enc.encode(body);
    for (const chunks of splits(bytes, 1)) {
      const { usage } = sniff('openai-chat', true, chunks);
      const cached = last.usage.prompt_tokens_details?.cached_tokens ?? 0;
      expect(usage).toEqual({ input_tokens: last.usage.prompt_tokens - cached, output_tokens: last.usage.completion_tokens, cache_read_input_tokens: cached, cache_creation_input_tokens: 0 });
    }
  });

  // every recorded OpenAI-format answer that carries usage: a passthrough logs what a translation of it would report
  const chatRecordings = [...listFixtures('openai-chat'), ...listFixtures('openai-compatible')].filter((f) => /\/(stream|response)-[^/]*\.(sse|chunks\.jsonl|json)$/.test(f));
  test.each(chatRecordings)('OpenAI-format %s: the same counts as its translation', (f) => {
    const stream = !f.endsWith('.json');
    const text = stream ? fixtureSseBody(f) : readFixture(f);
    const usage = stream
      ? text.split('\n').filter((l) => l.startsWith('data:') && l.includes('"usage"')).map((l) => JSON.parse(l.slice(5))).findLast((c) => c.usage)?.usage
      : JSON.parse(text).usage;
    const bytes = enc.encode(text);
    const want = usage ? usageToHub(usage) : { input_tokens: 0, output_tokens: 0 };
    for (const chunks of stream ? splits(bytes, bytes.length > 4000 ? 97 : 7) : [[bytes]]) {
      expect(sniff('openai-chat', stream, chunks).usage).toEqual({
        input_tokens: want.input_tokens, output_tokens: want.output_tokens,
        cache_read_input_tokens: want.cache_read_input_tokens ?? 0, cache_creation_input_tokens: want.cache_creation_input_tokens ?? 0,
      });
    }
  });

  test('reasoning a provider leaves out of completion_tokens (xAI, Gemini) is output, as a translation counts it', () => {
    const body = fixtureSseBody('openai-compatible/xai/stream-text.chunks.jsonl');
    const u = body.split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6))).findLast((c) => c.usage).usage;
    expect(u.total_tokens).toBeGreaterThan(u.prompt_tokens + u.completion_tokens); // the recording's hidden reasoning
    const { usage } = sniff('openai-chat', true, [enc.encode(body)]);
    expect(usage.output_tokens).toBe(u.total_tokens - u.prompt_tokens);
    const gemini = JSON.parse(readFixture('openai-compatible/gemini/response-tool-calls-without-id.json')).usage;
    expect(gemini.total_tokens).toBeGreaterThan(gemini.prompt_tokens + gemini.completion_tokens);
    const json = sniff('openai-chat', false, [enc.encode(readFixture('openai-compatible/gemini/response-tool-calls-without-id.json'))]);
    expect(json.usage.output_tokens).toBe(gemini.total_tokens - gemini.prompt_tokens);
  });

  test('usage objects that carry only some counts leave the others as they were', () => {
    const s = new UsageSniffer('openai-chat', true);
    s.push(enc.encode('data: {"choices":[],"usage":{"prompt_tokens":20,"prompt_tokens_details":{"cached_tokens":5}}}\n\n'));
    s.push(enc.encode('data: {"choices":[],"usage":{"completion_tokens":9}}\n\n'));
    expect({ ...s.finish() }).toEqual({ input_tokens: 15, output_tokens: 9, cache_read_input_tokens: 5, cache_creation_input_tokens: 0 });
  });

  test.each([['anthropic/response-text.json'], ['anthropic/response-thinking-tool-use.json'], ['anthropic/response-web-search-citations.json']])('Anthropic JSON %s', (f) => {
    const text = readFixture(f);
    const msg = JSON.parse(text);
    for (const chunks of splits(enc.encode(text), 53)) {
      const { usage, stop } = sniff('anthropic', false, chunks);
      expect(usage.input_tokens).toBe(msg.usage.input_tokens);
      expect(usage.output_tokens).toBe(msg.usage.output_tokens);
      expect(stop).toBe(msg.stop_reason);
    }
  });

  test('a "usage" inside message text does not confuse it', () => {
    const body = JSON.stringify({ type: 'message', content: [{ type: 'text', text: 'the "usage": {"input_tokens": 999} field' }], stop_reason: 'end_turn', usage: { input_tokens: 7, output_tokens: 3 } });
    expect(sniff('anthropic', false, [enc.encode(body)]).usage).toMatchObject({ input_tokens: 7, output_tokens: 3 });
  });

  test('count_tokens answer', () => {
    expect(sniff('anthropic', false, [enc.encode('{"input_tokens": 42}')]).usage.input_tokens).toBe(42);
  });

  test('a usage line longer than what is kept of it (64 KB: a whole answer in one chunk), in pieces: its usage still counts, before or after the text', () => {
    const text = 'x'.repeat(150_000);
    const usage = { prompt_tokens: 7, completion_tokens: 20_000, total_tokens: 20_007 };
    const head = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' };
    const choices = [{ index: 0, delta: { content: text }, finish_reason: 'stop' }];
    for (const chunk of [{ ...head, usage, choices }, { ...head, choices, usage }]) {
      const bytes = enc.encode(`data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\ndata: ${JSON.stringify(chunk)}\n\ndata: [DONE]\n\n`);
      for (const size of [1000, 8192, 70_000]) {
        const pieces = Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
        expect(sniff('openai-chat', true, pieces)).toEqual({ usage: { input_tokens: 7, output_tokens: 20_000, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }, stop: 'stop' });
      }
    }
    // the same length of a line that is not `data:` (a comment) counts nothing
    const comment = enc.encode(`: ${'y'.repeat(100_000)} "usage":{"prompt_tokens":5,"completion_tokens":5}\n\n`);
    expect(sniff('openai-chat', true, [comment.subarray(0, 70_000), comment.subarray(70_000)]).usage.input_tokens).toBe(0);
  });

  test.each([
    ['openai-compatible/groq/stream-error-event-tool-use-failed.sse', 'invalid_request_error'],
    // its error has no type, code 400: Anthropic's type for that status, as the stream translated logs it
    ['openai-compatible/openrouter/stream-error-midstream-comments.sse', 'invalid_request_error'],
  ])('%s: the error inside the 200 stream is the failure (for the log line), split anywhere', (f, type) => {
    const bytes = enc.encode(fixtureSseBody(f));
    const whole = new UsageSniffer('openai-chat', true);
    whole.push(bytes);
    expect(whole.failure?.type as string | undefined).toBe(type);
    expect(whole.failure!.message.length).toBeGreaterThan(5);
    // the event arrives whole in its own read, as upstreams send it
    for (const chunks of splits(bytes, 1).slice(2, 4)) {
      const s = new UsageSniffer('openai-chat', true);
      for (const c of chunks) s.push(c);
      expect(s.failure?.message).toBe(whole.failure!.message);
    }
    // cut into two reads anywhere, inside the error event's data line too (a proxy that cuts its writes anywhere)
    for (const chunks of splits(bytes, 1).slice(4)) {
      const s = new UsageSniffer('openai-chat', true);
      for (const c of chunks) s.push(c);
      expect(s.failure?.message).toBe(whole.failure!.message);
    }
  });

  test('Anthropic: an error event cut into two reads anywhere is the failure; an error quoted in a text so cut is not', () => {
    const body = enc.encode(fixtureSseBody('anthropic/stream-text-basic.sse').replace(/event: message_stop[\s\S]*$/, '')
      + 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n');
    for (const chunks of splits(body, 1)) {
      const s = new UsageSniffer('anthropic', true);
      for (const c of chunks) s.push(c);
      expect({ type: s.failure?.type, message: s.failure?.message }).toEqual({ type: 'overloaded_error', message: 'Overloaded' });
    }
    const quoted = enc.encode('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"{\\"type\\":\\"error\\",\\"error\\":{}}"}}\n\n');
    for (const chunks of splits(quoted, 1)) {
      const s = new UsageSniffer('anthropic', true);
      for (const c of chunks) s.push(c);
      expect(s.failure).toBeNull();
    }
  });

  test('Anthropic: an error event is a failure; the word "error" in text, a finish_reason "error" or an error-named tool is not', () => {
    const ok = enc.encode(fixtureSseBody('anthropic/stream-text-basic.sse').replace('"text":"', '"text":"\\"error\\": {} error'));
    const s = new UsageSniffer('anthropic', true);
    s.push(ok);
    s.push(enc.encode('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"error"}}\n\n'));
    expect(s.failure).toBeNull();
    s.push(enc.encode('event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'));
    expect({ type: s.failure?.type, message: s.failure?.message }).toEqual({ type: 'overloaded_error', message: 'Overloaded' });
    const chat = new UsageSniffer('openai-chat', true);
    chat.push(enc.encode('data: {"choices":[{"index":0,"delta":{"content":"error"},"finish_reason":"error"}],"error":null}\n\n'));
    expect(chat.failure).toBeNull();
  });

  test('garbage never throws', () => {
    for (const g of ['', 'data: {"usage"', '"usage"', '{"usage":{', 'data: "usage"\n\n', '\u0000\u00ff"usage":[1,2]']) {
      expect(() => sniff('anthropic', true, [enc.encode(g)])).not.toThrow();
      expect(() => sniff('openai-chat', false, [enc.encode(g)])).not.toThrow();
    }
  });
});

describe("UsageSniffer's failure: Anthropic's error type, whatever word the upstream used", () => {
  const failureOf = (format: 'anthropic' | 'openai-chat', line: string) => {
    const s = new UsageSniffer(format, true);
    s.push(enc.encode(line));
    return { type: s.failure?.type, message: s.failure?.message };
  };
  test.each([
    ['openai-chat', 'data: {"object":"error","message":"vLLM broke","type":"BadRequestError","param":null,"code":400}\n\n', 'invalid_request_error', 'BadRequestError: vLLM broke'],
    ['openai-chat', 'data: {"error":{"message":"boom","type":"server_error","code":"503"}}\n\n', 'overloaded_error', 'server_error: boom'],
    ['openai-chat', 'data: {"error":{"message":"boom","type":"server_error"}}\n\n', 'api_error', 'server_error: boom'],
    ['openai-chat', 'data: {"error":{"message":"server_error happened","type":"server_error"}}\n\n', 'api_error', 'server_error happened'],
    ['openai-chat', 'data: {"error":{"message":"Slow down","type":"rate_limit_error"}}\n\n', 'rate_limit_error', 'Slow down'],
    ['anthropic', 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n', 'overloaded_error', 'Overloaded'],
    ['anthropic', 'event: error\ndata: {"type":"error","error":{"type":"weird_error","message":"hm"}}\n\n', 'api_error', 'weird_error: hm'],
  ] as const)('%s %s → %s', (format, line, type, message) => {
    expect(failureOf(format, line)).toEqual({ type, message });
  });
});

describe('ChatTextCounter', () => {
  /** What a Chat stream generated, in characters, read the plain way: every chunk parsed whole. */
  const generated = (body: string) => body.split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)))
    .flatMap((c) => c.choices.map((ch: any) => ch.delta))
    .reduce((n: number, d: any) => n + (d.content ?? '').length + (d.refusal ?? '').length
      + (d.tool_calls ?? []).reduce((m: number, t: any) => m + (t.function?.name ?? '').length + (t.function?.arguments ?? '').length, 0), 0);

  for (const rel of listFixtures('openai-chat').filter((f) => f.endsWith('.sse'))) {
    test(`${rel}: the same count as parsing every chunk; split in pieces, at most what a cut value or key loses`, () => {
      const body = fixtureSseBody(rel);
      const bytes = new TextEncoder().encode(body);
      const expected = generated(body);
      expect(expected).toBeGreaterThan(0);
      const whole = new ChatTextCounter();
      whole.push(bytes);
      expect(whole.chars).toBe(expected);
      // a read cut inside a value counts it up to the cut; inside a key, not at all: never more than the whole
      for (const [size, least] of [[4096, 0.85], [1024, 0.85], [300, 0.85]] as const) {
        const pieces = new ChatTextCounter();
        for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
        expect(pieces.chars).toBeLessThanOrEqual(expected);
        expect({ size, chars: pieces.chars >= Math.floor(expected * least) }).toEqual({ size, chars: true });
      }
    });
  }

  test('escapes and multi-byte characters count as the characters they stand for', () => {
    const c = new ChatTextCounter();
    c.push(new TextEncoder().encode(`data: ${JSON.stringify({ choices: [{ delta: { content: 'a\n"b"\u0001é漢' } }] })}\n\n`));
    expect(c.chars).toBe('a\n"b"\u0001é漢'.length);
  });

  test('what is not a Chat chunk is not counted, and does not stop the counting', () => {
    const c = new ChatTextCounter();
    c.push(new TextEncoder().encode(': keep-alive\n\ndata: not json\n\ndata: {"choices":null}\n\ndata: {"choices":[null,{"delta":{"content":["x"]}}]}\n\ndata: {"choices":[{"delta":{"content":"four","reasoning_content":"ab"}}]}\n\ndata: [DONE]\n\n'));
    expect(c.chars).toBe(6);
  });
});

describe('AnthropicTextCounter', () => {
  /** What an Anthropic stream generated, in characters, read the plain way: every delta event parsed. */
  const generated = (body: string) => body.split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)))
    .filter((e) => e.type === 'content_block_delta')
    .reduce((n: number, e: any) => n + (e.delta.text ?? e.delta.thinking ?? e.delta.partial_json ?? '').length, 0);

  for (const rel of listFixtures('anthropic').filter((f) => f.endsWith('.sse'))) {
    test(`${rel}: the same count as parsing every delta; split in pieces, never more`, () => {
      const body = fixtureSseBody(rel);
      const bytes = new TextEncoder().encode(body);
      const expected = generated(body);
      const whole = new AnthropicTextCounter();
      whole.push(bytes);
      // server tool results carry `"text"` values of their own (search results, citations): counted as generated
      // text would be overcounted, so these fixtures only bound the count from below
      const serverTools = /server_tool_use|web_search|mcp_tool_result/.test(body);
      if (serverTools) expect(whole.chars).toBeGreaterThanOrEqual(expected);
      else expect(whole.chars).toBe(expected);
      // reads are held and counted together: a value cut between two reads counts whole
      for (const size of [1024, 300, 7]) {
        const pieces = new AnthropicTextCounter();
        for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
        if (bytes.length <= 64 * 1024) expect(pieces.chars).toBe(whole.chars);
        else expect(pieces.chars).toBeGreaterThanOrEqual(Math.floor(whole.chars * 0.8)); // counted every 64 KB
      }
    });
  }

  test('a long stream is counted as it goes (64 KB at a time), each read let go, and asked twice says the same', () => {
    const event = (t: string) => `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: t } })}\n\n`;
    const c = new AnthropicTextCounter();
    const text = 'twelve chars';
    for (let i = 0; i < 2000; i++) c.push(new TextEncoder().encode(event(text))); // ~220 KB
    expect(c.chars).toBe(2000 * text.length);
    expect(c.chars).toBe(2000 * text.length);
  });
});
