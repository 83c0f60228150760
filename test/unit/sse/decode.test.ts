import { describe, expect, test } from 'bun:test';
import { SseParser, endsWithEvent, sseDecoder } from '../../../src/sse/decode.ts';
import { FORMATS } from '../../../src/formats/index.ts';
import { encodeSseEvent } from '../../../src/sse/encode.ts';
import { fixtureSseBody, listFixtures } from '../../helpers/fixtures.ts';
import type { SseEvent } from '../../../src/sse/types.ts';

const enc = new TextEncoder();
function parseChunks(chunks: Uint8Array[]): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  for (const c of chunks) p.push(c, out);
  p.end(out);
  return out;
}

describe('SseParser', () => {
  test.each([
    ['LF', 'event: a\ndata: 1\n\n', [{ event: 'a', data: '1' }]],
    ['CRLF', 'event: a\r\ndata: 1\r\n\r\n', [{ event: 'a', data: '1' }]],
    ['CR', 'event: a\rdata: 1\r\r', [{ event: 'a', data: '1' }]],
    ['multi-line data', 'data: a\ndata: b\n\n', [{ data: 'a\nb' }]],
    ['comment lines skipped', ': OPENROUTER PROCESSING\n\ndata: x\n\n', [{ data: 'x' }]],
    ['no space after colon', 'data:x\n\n', [{ data: 'x' }]],
    ['only first space stripped', 'data:  x\n\n', [{ data: ' x' }]],
    ['id and unknown fields', 'id: 7\nretry: 5\nfoo: bar\ndata: y\n\n', [{ data: 'y', id: '7' }]],
    ['final event without blank line', 'data: tail', [{ data: 'tail' }]],
    ['empty data field', 'data\n\n', [{ data: '' }]],
  ] as const)('%s', (_name, input, expected) => {
    expect(parseChunks([enc.encode(input)])).toEqual(expected as unknown as SseEvent[]);
  });

  test('multi-byte UTF-8 split inside a character', () => {
    const bytes = enc.encode('data: {"t":"héllo ✓ 😀"}\n\n');
    for (let i = 1; i < bytes.length; i++) {
      expect(parseChunks([bytes.slice(0, i), bytes.slice(i)])).toEqual([{ data: '{"t":"héllo ✓ 😀"}' }]);
    }
  });

  test('CR LF split across chunks is one line break', () => {
    expect(parseChunks([enc.encode('data: a\r'), enc.encode('\n\r'), enc.encode('\ndata: b\r\n\r\n')])).toEqual([{ data: 'a' }, { data: 'b' }]);
  });

  const fixtures = listFixtures('').filter((f) => f.endsWith('.sse') || f.endsWith('.chunks.jsonl'));
  test('fixtures exist', () => expect(fixtures.length).toBeGreaterThan(20));
  for (const f of fixtures) {
    test(`every-byte split gives the same events: ${f}`, () => {
      const bytes = enc.encode(fixtureSseBody(f));
      const whole = parseChunks([bytes]);
      expect(whole.length).toBeGreaterThan(0);
      // every split point for small fixtures; big ones get ~1500 evenly spread points (an odd stride, so the
      // points land at every offset within lines), and the one-byte-per-chunk pass below splits at every byte
      const step = bytes.length > 4000 ? (Math.ceil(bytes.length / 1500) | 1) : 1;
      for (let i = 1; i < bytes.length; i += step) {
        expect(parseChunks([bytes.subarray(0, i), bytes.subarray(i)])).toEqual(whole);
      }
      // and one byte per chunk
      expect(parseChunks(Array.from(bytes, (b) => new Uint8Array([b])))).toEqual(whole);
    });
  }
});

/** The spec's algorithm, one character at a time, as a reference for the parser's fast paths. */
function referenceParse(text: string, atEnd = true): SseEvent[] {
  const out: SseEvent[] = [];
  let data: string[] = [];
  let event: string | undefined;
  let id: string | undefined;
  const dispatch = () => {
    if (data.length === 0 && event === undefined) return;
    const ev: SseEvent = { data: data.join('\n') };
    if (event !== undefined) ev.event = event;
    if (id !== undefined) ev.id = id;
    out.push(ev);
    data = []; event = undefined; id = undefined;
  };
  const line = (l: string) => {
    if (l === '') return dispatch();
    if (l[0] === ':') return;
    const c = l.indexOf(':');
    const field = c < 0 ? l : l.slice(0, c);
    let value = c < 0 ? '' : l.slice(c + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id') id = value;
  };
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\r') { line(cur); cur = ''; if (text[i + 1] === '\n') i++; } else if (ch === '\n') { line(cur); cur = ''; } else cur += ch;
  }
  if (!atEnd) return out; // mid-stream: only what complete lines dispatched
  if (cur) line(cur);
  dispatch();
  return out;
}

describe('SseParser bounds what it holds', () => {
  test('an event that never ends throws once it holds more than the limit, on either path', () => {
    const fast = new SseParser(100);
    fast.push(enc.encode(`data: ${'a'.repeat(60)}`));
    expect(() => fast.push(enc.encode('a'.repeat(60)))).toThrow('longer than 100 characters');
    const slow = new SseParser(100); // CR line breaks: line by line, data lines pile up without a blank line
    expect(() => { for (let i = 0; i < 20; i++) slow.push(enc.encode('data: 0123456789\r')); }).toThrow('longer than 100 characters');
  });
  test('complete events of any size pass, and what follows them starts from zero', () => {
    const p = new SseParser(100);
    const big = 'b'.repeat(500);
    expect(p.push(enc.encode(`data: ${big}\n\ndata: ${'c'.repeat(80)}`))).toEqual([{ data: big }]);
    expect(p.push(enc.encode('\n\n'))).toEqual([{ data: 'c'.repeat(80) }]);
  });
});

describe('SseParser against the reference algorithm', () => {
  const PIECES = ['data: ', 'data:', 'event: ', 'event:', 'id: ', ': note', 'retry: 5', 'foo', 'message_stop', '{"a":"b c"}',
    '[DONE]', 'x', ' ', '\n', '\n', '\n\n', '\n\n', '\r', '\r\n', 'é', '😀'];
  let seed = 12345;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  test('2,000 random streams, each split at random byte offsets', () => {
    for (let k = 0; k < 2000; k++) {
      let text = '';
      for (let i = rand(40); i > 0; i--) text += PIECES[rand(PIECES.length)];
      const bytes = enc.encode(text);
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < bytes.length;) { const n = 1 + rand(12); chunks.push(bytes.subarray(at, at + n)); at += n; }
      const expected = referenceParse(text);
      expect(parseChunks([bytes])).toEqual(expected);
      expect(parseChunks(chunks)).toEqual(expected);
      // and each event as soon as its blank line is in, not later
      const p = new SseParser();
      const got: SseEvent[] = [];
      const dec = new TextDecoder();
      let prefix = '';
      for (const c of chunks) {
        p.push(c, got);
        prefix += dec.decode(c, { stream: true });
        expect(got).toEqual(referenceParse(prefix, false));
      }
    }
  });
});

describe('SseParser.feed: one-line data events offered as text first', () => {
  const PIECES = ['data: ', 'data:', 'event: ', 'id: ', ': note', 'x', 'yy', '{"a":"b"}', '\n', '\n\n', '\n\n', '\r\n', 'é', '😀',
    'data: {"t":"é"}\n\n', 'data: x\n\n', 'data: [DONE]\n\n', 'data: {"t":"😀"}\n\n', 'event: e\ndata: {"t":1}\n\n', 'event: \ndata: x\n\n'];
  let seed = 4242;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  test('2,000 random streams: what is taken as text and what comes as events are, in order, the reference events', () => {
    let taken = 0;
    for (let k = 0; k < 2000; k++) {
      let text = '';
      for (let i = rand(40); i > 0; i--) text += PIECES[rand(PIECES.length)];
      const bytes = enc.encode(text);
      const p = new SseParser();
      const got: Array<SseEvent & { taken: boolean; named?: boolean }> = [];
      const sink = {
        event(ev: SseEvent) { got.push({ ...ev, taken: false }); },
        // takes every other offer: the rest must still come, as events, in their place
        data(s: string, start: number, end: number, named: boolean) {
          if (((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 16) % 2 === 0) return false;
          taken++;
          got.push({ data: s.slice(start, end), taken: true, named });
          return true;
        },
      };
      for (let at = 0; at < bytes.length;) { const n = 1 + rand(12); p.feed(bytes.subarray(at, at + n), sink); at += n; }
      p.finish(sink);
      const expected = referenceParse(text);
      // a taken event's name is not handed over: compared without it, and told whether it had one
      expect(got.map(({ taken: _, named: __, ...ev }) => ev as SseEvent)).toEqual(expected.map((ev, i) => (got[i]?.taken ? { data: ev.data } : ev)));
      // only events with one data line, after an event line or not, and no other field were offered
      got.forEach((ev, i) => { if (ev.taken) expect(Object.keys(expected[i]!).sort()).toEqual(ev.named ? ['data', 'event'] : ['data']); });
    }
    expect(taken).toBeGreaterThan(1000);
  });
});

describe('sseDecoder / encoder round trip', () => {
  test('encode → decode is identity', async () => {
    const events: SseEvent[] = [{ event: 'message_start', data: '{"a":1}' }, { data: 'multi\nline' }, { data: '[DONE]' }];
    const text = events.map(encodeSseEvent).join('');
    const out: SseEvent[] = [];
    await new Response(text).body!.pipeThrough(sseDecoder()).pipeTo(new WritableStream({ write: (e) => void out.push(e) }));
    expect(out).toEqual(events);
  });
});

describe('endsWithEvent', () => {
  const enc = new TextEncoder();
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  const marker = enc.encode('event: message_stop');
  const stop = 'event: message_stop\ndata: {"type":"message_stop"}\n\n';
  test('the marker in the last 256 bytes of a chunk that ends an event', () => {
    expect(endsWithEvent(enc.encode(stop), marker)).toBe(true);
    expect(endsWithEvent(enc.encode('x'.repeat(5000) + '\n\n' + stop), marker)).toBe(true);
    expect(endsWithEvent(enc.encode(stop.replace(/\n\n$/, '\r\n\r\n')), marker)).toBe(true);
  });
  test('not when the chunk stops mid-event, or the marker is further back', () => {
    expect(endsWithEvent(enc.encode(stop.slice(0, -1)), marker)).toBe(false);
    expect(endsWithEvent(enc.encode(stop + 'data: ' + 'x'.repeat(300) + '\n\n'), marker)).toBe(false);
    expect(endsWithEvent(enc.encode('event: ping\ndata: {}\n\n'), marker)).toBe(false);
  });
  test('only a marker that is an event of its own: at the start of the chunk or after a blank line, alone on its line', () => {
    const done = enc.encode('data: [DONE]');
    expect(endsWithEvent(enc.encode('data: [DONE]\n\n'), done)).toBe(true);
    expect(endsWithEvent(enc.encode('data: {"choices":[]}\r\n\r\ndata: [DONE]\r\n\r\n'), done)).toBe(true);
    expect(endsWithEvent(enc.encode('data: {"choices":[]}\r\rdata: [DONE]\r\r'), done)).toBe(true);
    expect(endsWithEvent(enc.encode('event: content_block_stop\ndata: {}\n\n' + stop), marker)).toBe(true);
    // a text that quotes it: inside a JSON string its line breaks are escaped, so it is never at a line's start
    const quote = JSON.stringify({ delta: { content: 'say\n\ndata: [DONE]\n\n' }, finish_reason: 'stop' });
    expect(endsWithEvent(enc.encode(`data: ${quote}\n\n`), done)).toBe(false);
    const quoted = JSON.stringify({ type: 'content_block_delta', delta: { text: '\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n' } });
    expect(endsWithEvent(enc.encode(`event: content_block_delta\ndata: ${quoted}\n\n`), marker)).toBe(false);
    expect(endsWithEvent(enc.encode('data: {"a":"x data: [DONE]"}\n\n'), done)).toBe(false);
    // a line of its own that is not an event of its own, or a longer word
    expect(endsWithEvent(enc.encode('data: {}\ndata: [DONE]\n\n'), done)).toBe(false);
    expect(endsWithEvent(enc.encode('data: [DONE]x\n\n'), done)).toBe(false);
    expect(endsWithEvent(enc.encode('event: message_stopped\ndata: {}\n\n'), marker)).toBe(false);
    // the quote close to the end, and the real marker further back: the real one counts
    expect(endsWithEvent(enc.encode(`data: [DONE]\n\n: ${quote}\n\n`), done)).toBe(true);
  });
  test('a last event split between two chunks, wherever the cut: found with the chunk before it; a quote split alike is not', () => {
    const done = enc.encode('data: [DONE]');
    const quote = `data: ${JSON.stringify({ delta: { content: 'say\n\ndata: [DONE]\n\nevent: message_stop\n\n' } })}\n\n`;
    for (const [body, m] of [[`${quote}event: message_delta\ndata: {}\n\n${stop}`, marker], [`${quote}data: {"usage":{}}\n\ndata: [DONE]\n\n`, done]] as const) {
      const at = body.lastIndexOf(dec(m));
      for (let cut = at - 2; cut < body.length - 1; cut++) {
        const [a, b] = [enc.encode(body.slice(0, cut)), enc.encode(body.slice(cut))];
        expect([cut, endsWithEvent(b, m, a)]).toEqual([cut, true]);
      }
      // the quote alone, cut anywhere: never an end
      const q = quote;
      for (let cut = 1; cut < q.length - 1; cut++) expect([cut, endsWithEvent(enc.encode(q.slice(cut)), m, enc.encode(q.slice(0, cut)))]).toEqual([cut, false]);
    }
    // a chunk before that ended at a blank line: the chunk decides alone
    expect(endsWithEvent(enc.encode('stop\ndata: {}\n\n'), marker, enc.encode('x\n\nevent: message_\n\n'))).toBe(false);
  });
  test('a view into a larger buffer is searched within its own bytes only', () => {
    const whole = enc.encode(stop + 'event: ping\ndata: {}\n\n');
    expect(endsWithEvent(whole.subarray(stop.length), marker)).toBe(false); // the marker lies before the view
    const padded = enc.encode('event: ping\ndata: {}\n\n' + stop + 'zzz');
    expect(endsWithEvent(padded.subarray(0, padded.length - 3), marker)).toBe(true);
    expect(endsWithEvent(padded.subarray(22, padded.length - 3), marker)).toBe(true);
  });
});

describe('endsWithError (formats/types.ts): a chunk whose last event is an error event', () => {
  const ant = (s: string) => FORMATS.anthropic.endsWithError(enc.encode(s));
  const chat = (s: string) => FORMATS['openai-chat'].endsWithError(enc.encode(s));
  const ANT_ERROR = 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
  const delta = (text: string) => `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })}\n\n`;

  test('Anthropic: the error event last, alone or after others, \\n or \\r\\n, after a comment', () => {
    expect(ant(ANT_ERROR)).toBe(true);
    expect(ant(delta('Hel') + ANT_ERROR)).toBe(true);
    expect(ant(delta('x'.repeat(5000)) + ANT_ERROR)).toBe(true);
    expect(ant(ANT_ERROR.replaceAll('\n', '\r\n'))).toBe(true);
    expect(ant(`: keep-alive\n${ANT_ERROR}`)).toBe(true);
  });

  test('Anthropic: not an end: the error not last, not whole, or quoted in a text', () => {
    expect(ant(ANT_ERROR + delta('Hel'))).toBe(false);
    expect(ant(ANT_ERROR.slice(0, -1))).toBe(false);
    expect(ant(delta('\n\nevent: error\ndata: {}\n\n'))).toBe(false);
    expect(ant('event: errors\ndata: {}\n\n')).toBe(false);
  });

  test('Chat: an error object last (OpenRouter, vLLM, Groq\'s event: error); not a text that says "error", nor a finish', () => {
    const chunk = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
    expect(chat(chunk({ id: 'g', choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error' }], error: { code: 502, message: 'Provider returned error' } }))).toBe(true);
    expect(chat(chunk({ choices: [{ delta: { content: 'Hi' } }] }) + chunk({ object: 'error', message: 'bad', code: 400 }))).toBe(true);
    expect(chat('event: error\ndata: {"error":{"message":"x"}}\n\n')).toBe(true);
    expect(chat(chunk({ choices: [{ delta: { content: '{"error": 1}' } }] }))).toBe(false);
    expect(chat(chunk({ choices: [{ delta: { content: 'x' } }], error: null }))).toBe(false);
    expect(chat(chunk({ error: { message: 'x' } }) + chunk({ choices: [{ delta: { content: 'after' } }] }))).toBe(false);
    expect(chat('data: [DONE]\n\n')).toBe(false);
  });

  // a server or proxy that cuts its writes anywhere: the error event begun in the read before (`before`)
  const CHAT_ERROR = `data: ${JSON.stringify({ id: 'g', choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error' }], error: { code: 502, message: 'Provider returned error' } })}\n\n`;
  const cut = (s: string, at: number) => [enc.encode(s.slice(0, at)), enc.encode(s.slice(at))] as const;
  const antSplit = (s: string, at: number) => { const [b, c] = cut(s, at); return FORMATS.anthropic.endsWithError(c, b); };
  const chatSplit = (s: string, at: number) => { const [b, c] = cut(s, at); return FORMATS['openai-chat'].endsWithError(c, b); };

  test('Anthropic: an error event split inside `event: error`, between its lines, inside its JSON, before its blank line', () => {
    const body = delta('Hel') + ANT_ERROR;
    const start = body.indexOf('event: error');
    for (const at of [start + 3, start + 8, start + 'event: error\n'.length, body.indexOf('Overloaded'), body.length - 2, body.length - 1]) {
      expect([at, antSplit(body, at)]).toEqual([at, true]);
      expect([at, antSplit(body.replaceAll('\n', '\r\n'), at + (body.slice(0, at).split('\n').length - 1))]).toEqual([at, true]);
    }
    // every cut within it, and a cut of the blank line before it
    for (let at = start - 1; at < body.length; at++) expect([at, antSplit(body, at)]).toEqual([at, true]);
    // without the read before, what this read holds is no error event
    expect(FORMATS.anthropic.endsWithError(cut(body, start + 8)[1])).toBe(false);
  });

  test('Anthropic, split: not an end when quoted in a text, not whole, or another event follows', () => {
    const quoting = delta('\n\nevent: error\ndata: {}\n\n');
    for (let at = 1; at < quoting.length; at++) expect([at, antSplit(quoting, at)]).toEqual([at, false]);
    const body = delta('Hel') + ANT_ERROR;
    expect(antSplit(body.slice(0, -1), body.indexOf('Overloaded'))).toBe(false);
    expect(antSplit(body + delta('after'), body.length + 5)).toBe(false);
    // an error event ended long ago, the read before ended at a blank line: this read's event is its own
    expect(FORMATS.anthropic.endsWithError(enc.encode('data: {}\n\n'), enc.encode(ANT_ERROR))).toBe(false);
  });

  test('Chat: an error chunk split inside `data: `, at `"error"`, inside its JSON, before its blank line; a quote of one is no end', () => {
    const body = `data: ${JSON.stringify({ choices: [{ delta: { content: 'Hi' } }] })}\n\n` + CHAT_ERROR;
    const start = body.lastIndexOf('data: ');
    for (let at = start - 1; at < body.length; at++) expect([at, chatSplit(body, at)]).toEqual([at, true]);
    const quoting = `data: ${JSON.stringify({ choices: [{ delta: { content: '{"error": {"message": "x"}}' } }] })}\n\n`;
    for (let at = 1; at < quoting.length; at++) expect([at, chatSplit(quoting, at)]).toEqual([at, false]);
    expect(chatSplit(body + 'data: [DONE]\n\n', body.length + 3)).toBe(false);
  });

  test('an event longer than an error event is not looked for across reads', () => {
    const long = `event: error\ndata: {"type":"error","error":{"type":"api_error","message":"${'x'.repeat(10_000)}"}}\n\n`;
    expect(FORMATS.anthropic.endsWithError(enc.encode(long))).toBe(true);
    expect(antSplit(long, 5000)).toBe(false);
  });
});
