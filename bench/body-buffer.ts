#!/usr/bin/env bun
/**
 * @module bench/body-buffer
 * What a fetch body read from JavaScript holds while its stream is open, in the Bun this runs on: opens N streams
 * (a local server sends each one event, then a second after 2 s), reads the first event of each with a reader, and
 * prints, per open stream, the engine's extra memory (ArrayBuffer storage it counts toward collections), the
 * `Uint8Array`s alive and the process's RSS growth. Bun 1.4.5 holds a 256 KB `Uint8Array` per stream
 * (`NativeReadableStreamSource` in its ReadableStreamInternals.ts takes `autoAllocateChunkSize` bytes, 256 KB when
 * fetch names none, on its first pull with nothing arrived, and keeps it for the stream's life; the chunks it
 * hands over are arrays of their own): ~257 KB of extra memory and 30-120 KB of RSS per stream (50-500 streams). A
 * Bun that no longer does prints ~0, and README's "Memory per open stream" (Running in production) can be revisited.
 *
 *   bun bench/body-buffer.ts [N: streams held open, 1-2000, default 100]
 */
import { heapStats } from 'bun:jsc';

const asked = Number(process.argv[2] ?? 100);
if (!Number.isInteger(asked) || asked < 1 || asked > 2000) {
  process.stderr.write('usage: bun bench/body-buffer.ts [N: streams to hold open, 1-2000, default 100]\n');
  process.exit(2);
}
const n = asked;
const event = 'event: ping\ndata: {"type":"ping"}\n\n';
const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  fetch: () => new Response(new ReadableStream({
    type: 'direct',
    async pull(c) {
      await Bun.sleep(20); // after the headers: the reader's first pull finds nothing yet, as with any real stream
      c.write(event);
      c.flush();
      await Bun.sleep(2000);
      c.write(event);
      c.close();
    },
  }), { headers: { 'content-type': 'text/event-stream' } }),
});
try {
  Bun.gc(true);
  const h0 = heapStats();
  const rss0 = process.memoryUsage().rss;
  const readers = await Promise.all(Array.from({ length: n }, async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/`);
    const reader = res.body!.getReader();
    await reader.read();
    return reader;
  }));
  Bun.gc(true);
  const h1 = heapStats();
  const rss1 = process.memoryUsage().rss;
  const per = (a: number, b: number) => `${Math.round((b - a) / n / 1024)} KB`;
  process.stdout.write(`Bun ${Bun.version}, ${n} streams open, each read once from JavaScript; per stream:\n`);
  process.stdout.write(`  engine extra memory  ${per(h0.extraMemorySize, h1.extraMemorySize)}\n`);
  process.stdout.write(`  Uint8Arrays alive    ${((h1.objectTypeCounts.Uint8Array ?? 0) - (h0.objectTypeCounts.Uint8Array ?? 0)) / n}\n`);
  process.stdout.write(`  RSS                  ${per(rss0, rss1)}\n`);
  await Promise.all(readers.map((r) => r.cancel()));
} finally {
  server.stop(true);
}
