import { describe, expect, test } from 'bun:test';
import { readAhead, relayStream } from '../../../src/pipeline/streams.ts';
import { until } from '../../helpers/until.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const endsWithStop = (c: Uint8Array) => dec.decode(c).endsWith('stop\n\n');

/** A source that yields `parts`, waiting `gapMs` before each after the first; `hang`: never closes. */
function source(parts: string[], gapMs = 0, hang = false): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (i > 0 && gapMs) await Bun.sleep(gapMs);
      if (i < parts.length) c.enqueue(enc.encode(parts[i++]!));
      else if (!hang) c.close();
      else await new Promise(() => {});
    },
  }, { highWaterMark: 0 });
}

async function readAll(s: ReadableStream<Uint8Array>): Promise<string> {
  return dec.decode(await new Response(s).arrayBuffer());
}

describe('readAhead', () => {
  test('a source that ends with its first chunk, which closes the stream: whole', async () => {
    const r = await readAhead(source(['a\n\nstop\n\n']).getReader(), endsWithStop);
    expect(r.whole).toBe(true);
    expect(r.head.map((c) => dec.decode(c))).toEqual(['a\n\nstop\n\n']);
    expect(r.pending).toBeNull();
  });

  test('a first chunk that does not close the stream: no look further', async () => {
    const r = await readAhead(source(['a\n\n', 'stop\n\n']).getReader(), endsWithStop);
    expect(r.whole).toBe(false);
    expect(r.head.length).toBe(1);
    expect(r.pending).toBeNull();
  });

  test('a first chunk that closes the stream but more follows later: the read is left pending, nothing is lost', async () => {
    const r = await readAhead(source(['a stop\n\n', 'late\n\n'], 50).getReader(), endsWithStop);
    expect(r.whole).toBe(false);
    expect(r.pending).not.toBeNull();
    const ended: unknown[] = [];
    expect(await readAll(relayStream(r, { onEnd: (o) => ended.push(o) }))).toBe('a stop\n\nlate\n\n');
    expect(ended).toEqual([undefined]);
  });

  test('a closing first chunk, then a read that fails within the turn: readAhead rejects (the attempt can still fall back)', async () => {
    let i = 0;
    const failing = new ReadableStream<Uint8Array>({
      pull(c) { if (i++ === 0) c.enqueue(enc.encode('a stop\n\n')); else c.error(new Error('cut after stop')); },
    }, { highWaterMark: 0 });
    await expect(readAhead(failing.getReader(), endsWithStop)).rejects.toThrow('cut after stop');
  });

  test('a closing first chunk, then a read that fails later: left pending, the relay ends with the error tail, nothing unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      let i = 0;
      const failing = new ReadableStream<Uint8Array>({
        async pull(c) {
          if (i++ === 0) { c.enqueue(enc.encode('a stop\n\n')); return; }
          await Bun.sleep(30);
          c.error(new Error('cut later'));
        },
      }, { highWaterMark: 0 });
      const r = await readAhead(failing.getReader(), endsWithStop);
      expect(r.whole).toBe(false);
      expect(r.pending).not.toBeNull();
      await Bun.sleep(60); // the pending read has failed by now, before anything awaited it
      const ended: unknown[] = [];
      const out = relayStream(r, { errorTail: (err) => enc.encode(`error: ${(err as Error).message}`), onEnd: (o) => ended.push(o) });
      expect(await readAll(out)).toBe('a stop\n\nerror: cut later');
      expect((ended[0] as Error).message).toBe('cut later');
      await Bun.sleep(0);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('many sources looking ahead in the same turn share it: each gets its own answer', async () => {
    const rs = await Promise.all(Array.from({ length: 20 }, (_, k) => readAhead((k % 2 ? source(['x stop\n\n']) : source(['y stop\n\n', 'more\n\n'], 40)).getReader(), endsWithStop)));
    rs.forEach((r, k) => expect(r.whole).toBe(k % 2 === 1));
    expect(await readAll(relayStream(rs[0]!, {}))).toBe('y stop\n\nmore\n\n');
  });

  test('an empty source: whole, nothing in it', async () => {
    const r = await readAhead(source([]).getReader(), endsWithStop);
    expect(r).toMatchObject({ whole: true, head: [], pending: null });
  });

  test('a source that fails before its first chunk: readAhead rejects', async () => {
    const failing = new ReadableStream<Uint8Array>({ pull(c) { c.error(new Error('cut')); } });
    await expect(readAhead(failing.getReader(), endsWithStop)).rejects.toThrow('cut');
  });
});

describe('relayStream', () => {
  test('chunks read ahead go through map and onChunk first, in order, then the rest', async () => {
    const r = await readAhead(source(['one ', 'two ', 'three']).getReader(), endsWithStop);
    const seen: string[] = [];
    const out = relayStream(r, {
      map: (c) => enc.encode(dec.decode(c).toUpperCase()),
      onChunk: (c) => void seen.push(dec.decode(c)),
    });
    expect(await readAll(out)).toBe('ONE TWO THREE');
    expect(seen).toEqual(['ONE ', 'TWO ', 'THREE']);
  });

  test("map may give strings (a translation's text): the client gets them as UTF-8, flush and error tail too", async () => {
    const r = await readAhead(source(['é ', '中 ', 'bad']).getReader(), endsWithStop);
    const out = relayStream(r, {
      map: (c) => { const s = dec.decode(c); if (s === 'bad') throw new Error('cut'); return `<${s}😀>`; },
      errorTail: () => 'tail ✓',
    });
    expect(await readAll(out)).toBe('<é 😀><中 😀>tail ✓');
    const r2 = await readAhead(source(['a']).getReader(), endsWithStop);
    expect(await readAll(relayStream(r2, { map: (c) => dec.decode(c), flush: () => ' — end' }))).toBe('a — end');
  });

  test('once a chunk with the last event is written, the relay ends: the source cancelled, what it would send next not read', async () => {
    for (const ahead of [true, false]) {
      let cancelled: unknown = null;
      let reads = 0;
      const parts = ['one ', 'two stop\n\n', 'after'];
      const src = new ReadableStream<Uint8Array>({
        async pull(c) {
          if (reads < 2) c.enqueue(enc.encode(parts[reads++]!));
          else { reads++; await new Promise(() => {}); } // the connection held open, nothing more sent
        },
        cancel(reason) { cancelled = reason; },
      }, { highWaterMark: 0 });
      const ended: unknown[][] = [];
      const hooks = { idleMs: 10_000, endsStream: endsWithStop, onEnd: (...a: unknown[]) => void ended.push(a) };
      const out = relayStream(ahead ? await readAhead(src.getReader(), endsWithStop) : src, hooks);
      expect(await readAll(out)).toBe('one two stop\n\n');
      // cut once it has not ended within a moment (it is given one to end on its own: the next test)
      await until(() => ended.length > 0);
      expect(ended).toEqual([[undefined, true, true]]);
      await until(() => cancelled !== null);
    }
    // a source that ends on its own after its last event: not cut
    const ended: unknown[][] = [];
    const r = await readAhead(source(['a stop\n\n']).getReader(), endsWithStop);
    expect(await readAll(relayStream(r, { endsStream: endsWithStop, onEnd: (...a: unknown[]) => void ended.push(a) }))).toBe('a stop\n\n');
    expect(ended).toEqual([[undefined, true, false]]);
  });

  test('a source that ends a moment after its last event is read to its end, not cut: its connection stays reusable', async () => {
    // an upstream writes its chunked body's terminator after its last event: fetch returns a connection to its pool
    // only once the body was read to its end, so cancelling it there opened a new connection (and TLS) per stream
    for (const ahead of [true, false]) {
      let cancelled: unknown = null;
      let reads = 0;
      const src = new ReadableStream<Uint8Array>({
        async pull(c) {
          reads++;
          if (reads === 1) c.enqueue(enc.encode('one '));
          else if (reads === 2) c.enqueue(enc.encode('two stop\n\n'));
          else { await Bun.sleep(5); c.close(); }
        },
        cancel(reason) { cancelled = reason; },
      }, { highWaterMark: 0 });
      const ended: unknown[][] = [];
      const hooks = { idleMs: 10_000, endsStream: endsWithStop, onEnd: (...a: unknown[]) => void ended.push(a) };
      const out = relayStream(ahead ? await readAhead(src.getReader(), endsWithStop) : src, hooks);
      expect(await readAll(out)).toBe('one two stop\n\n');
      await until(() => ended.length > 0);
      expect(ended).toEqual([[undefined, true, false]]);
      expect(cancelled).toBeNull();
    }
  });

  test('a chunk read ahead that cannot be mapped ends the stream with the error tail', async () => {
    const r = await readAhead(source(['bad', 'never read']).getReader(), endsWithStop);
    const ended: unknown[] = [];
    const out = relayStream(r, {
      map: () => { throw new Error('malformed'); },
      errorTail: (err) => enc.encode(`error: ${(err as Error).message}`),
      onEnd: (o) => ended.push(o),
    });
    expect(await readAll(out)).toBe('error: malformed');
    expect((ended[0] as Error).message).toBe('malformed');
  });

  test('a client that stops reading for idleMs: the source is cancelled and the relay ends with a timeout', async () => {
    let cancelled: unknown = null;
    let i = 0;
    const src = new ReadableStream<Uint8Array>({
      pull(c) { c.enqueue(enc.encode(`chunk ${i++}\n`)); },
      cancel(reason) { cancelled = reason; },
    }, { highWaterMark: 0 });
    const ended: unknown[] = [];
    const out = relayStream(src, { idleMs: 60, onEnd: (o) => ended.push(o) });
    const reader = out.getReader();
    expect(dec.decode((await reader.read()).value)).toBe('chunk 0\n');
    // and then the client reads nothing more: cut off once the watchdog sees the deadline (polled, not a fixed sleep:
    // a loaded machine can run the watchdog's 50 ms tick late)
    await until(() => ended.length > 0 && cancelled !== null);
    expect((cancelled as Error | null)?.message).toBe('client read nothing for 60 ms');
    expect((ended[0] as Error).message).toBe('client read nothing for 60 ms');
    await expect(reader.read()).rejects.toThrow('client read nothing for 60 ms');
  });

  test('a client that goes away (its request signal aborts) ends the relay and cancels the source, whether or not it reads', async () => {
    let cancelled = false;
    const src = new ReadableStream<Uint8Array>({ pull() { return new Promise(() => {}); }, cancel() { cancelled = true; } });
    const ac = new AbortController();
    const ended: unknown[] = [];
    relayStream(src, { client: ac.signal, onEnd: (o) => ended.push(o) }); // nobody ever reads it
    ac.abort();
    await until(() => ended.length > 0 && cancelled); // the shared watchdog looks every 50 ms: polled, as its tick can run late
    expect(ended).toEqual(['cancelled']);
    expect(cancelled).toBe(true);
  });

  test('a client that reads slowly but keeps reading is not cut off', async () => {
    // every gap (30 ms asked) far inside idleMs, whatever a loaded machine adds to a sleep; the whole read (≥ 600 ms)
    // well past it, so only a deadline that each read moves on lets it through
    const parts = Array.from({ length: 20 }, (_, k) => `part ${k} `);
    const out = relayStream(source(parts), { idleMs: 300 });
    const reader = out.getReader();
    let got = '';
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      got += dec.decode(r.value);
      await Bun.sleep(30);
    }
    expect(got).toBe(parts.join(''));
  });

  test('a client that cancels its side cancels the source; a relay that ended leaves nothing pending', async () => {
    let cancelled: unknown = null;
    const endless = new ReadableStream<Uint8Array>({ pull(c) { c.enqueue(enc.encode('x')); }, cancel(reason) { cancelled = reason; } }, { highWaterMark: 0 });
    let outcome: unknown = null;
    const reader = relayStream(endless, { onEnd: (o) => { outcome = o; } }).getReader();
    await reader.read();
    await reader.cancel(new Error('client gone'));
    await Bun.sleep(10);
    expect((cancelled as Error | null)?.message).toBe('client gone');
    expect(outcome).toBe('cancelled');
    // read ahead first (the reader handed over with the chunks): read to its end, onEnd once
    const ahead = source(['first ', 'second']);
    const ends: unknown[] = [];
    const r = await readAhead(ahead.getReader(), endsWithStop);
    expect(await readAll(relayStream(r, { onEnd: (o) => ends.push(o) }))).toBe('first second');
    expect(ends).toEqual([undefined]);
    expect(await r.reader.read()).toEqual({ done: true, value: undefined });
  });

  test('silence longer than idleMs ends the stream with the error tail', async () => {
    const r = await readAhead(source(['first'], 0, true).getReader(), endsWithStop);
    const out = relayStream(r, { idleMs: 60, errorTail: (err) => enc.encode(` | ${(err as Error).message}`) });
    expect(await readAll(out)).toBe('first | upstream sent nothing for 60 ms');
  });
});
