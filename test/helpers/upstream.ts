/**
 * @module test/helpers/upstream
 * A mock provider: Bun.serve on port 0 that records every request it receives (headers, exact body bytes,
 * whether the client aborted) and answers with whatever the test's handler returns.
 */
export interface RecordedRequest {
  method: string;
  path: string;
  search: string;
  headers: Headers;
  body: Uint8Array;
  text: string;
  json: any;
  /** Resolves when the gateway closes/aborts this request (client disconnect propagation). */
  aborted: Promise<void>;
  signal: AbortSignal;
}

export type Handler = (req: RecordedRequest, n: number) => Response | Promise<Response>;

export interface MockUpstream {
  url: string;
  requests: RecordedRequest[];
  handler: Handler;
  stop(): Promise<void>;
}

export function startMockUpstream(handler: Handler): MockUpstream {
  const requests: RecordedRequest[] = [];
  const mock: MockUpstream = {
    url: '',
    requests,
    handler,
    async stop() { await server.stop(true); },
  };
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    idleTimeout: 0,
    async fetch(req) {
      const u = new URL(req.url);
      const body = new Uint8Array(await req.arrayBuffer());
      const text = new TextDecoder().decode(body);
      let json: unknown;
      try { json = JSON.parse(text); } catch { json = undefined; }
      const aborted = new Promise<void>((resolve) => {
        if (req.signal.aborted) resolve();
        req.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      const rec: RecordedRequest = { method: req.method, path: u.pathname, search: u.search, headers: req.headers, body, text, json, aborted, signal: req.signal };
      requests.push(rec);
      return mock.handler(rec, requests.length);
    },
  });
  mock.url = `http://127.0.0.1:${server.port}`;
  return mock;
}

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

/** An SSE response whose chunks are written with an optional delay between them. */
export function sse(chunks: string[], opts: { delayMs?: number; firstDelayMs?: number; signal?: AbortSignal; hang?: boolean } = {}): Response {
  const enc = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      if (opts.firstDelayMs) await Bun.sleep(opts.firstDelayMs);
      for (const c of chunks) {
        if (opts.signal?.aborted) return;
        controller.enqueue(enc.encode(c));
        if (opts.delayMs) await Bun.sleep(opts.delayMs);
      }
      if (opts.hang) return; // never close: the gateway's idle timeout must end it
      controller.close();
    },
  });
  return new Response(stream, { headers: { 'content-type': 'text/event-stream' } });
}

/** Split an SSE body into one string per event (keeping separators) so it can be replayed chunk by chunk. */
export function sseEvents(body: string): string[] {
  return body.split(/(?<=\n\n)/).filter((s) => s.length > 0);
}

/**
 * An upstream Bun.serve cannot imitate (headers with no body byte, a body that stops short): raw TCP that writes
 * `head` once per connection (a request may arrive in several packets), then hangs, or closes after `closeAfterMs`.
 */
export function rawUpstream(head: string, opts: { closeAfterMs?: number } = {}) {
  const state = { requests: 0, closed: 0 };
  const answered = new WeakSet<object>();
  const server = Bun.listen({
    hostname: '127.0.0.1', port: 0,
    socket: {
      data(socket) {
        if (answered.has(socket)) return;
        answered.add(socket);
        state.requests++;
        socket.write(head);
        if (opts.closeAfterMs !== undefined) setTimeout(() => socket.end(), opts.closeAfterMs);
      },
      open() {}, close() { state.closed++; }, error() {},
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, state, stop: () => server.stop(true) };
}
