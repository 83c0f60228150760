#!/usr/bin/env bun
/**
 * @module bench/floor
 * The floor: the least a Bun gateway can do — Bun.serve → fetch → pipe the body back, no parsing, no auth,
 * no logging. Whatever Switchboard measures is compared with this, run on the same box in the same run.
 *
 *   bun bench/floor.ts --port 0 --upstream http://127.0.0.1:9000   prints "floor listening on http://127.0.0.1:PORT"
 */
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' }, upstream: { type: 'string' } },
  strict: true,
});
const upstream = (values.upstream ?? process.env.UPSTREAM ?? 'http://127.0.0.1:9000').replace(/\/$/, '');

const server = Bun.serve({
  hostname: values.host,
  port: Number(values.port),
  idleTimeout: 120,
  development: false,
  async fetch(req) {
    const url = new URL(req.url);
    // the body read whole, as any gateway that looks at it must (and faster in Bun than a streamed upload)
    const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await req.arrayBuffer();
    const res = await fetch(upstream + url.pathname + url.search, { method: req.method, headers: req.headers, body, signal: req.signal });
    return new Response(res.body, { status: res.status, headers: res.headers });
  },
});
process.stdout.write(`floor listening on ${server.url.href.replace(/\/$/, '')}\n`);
process.on('SIGTERM', () => { server.stop(true); process.exit(0); });
