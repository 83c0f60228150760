/** http/listen-backlog.ts: a listening socket's backlog set again through listen(), or left alone with a reason. */
import { expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { widenListenBacklog } from '../../src/http/listen-backlog.ts';

const linux = process.platform === 'linux';
/** The kernel's cap on every listen queue (Linux), Bun's 512 included. */
const cap = linux ? Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8')) : Infinity;
const bun = Math.min(512, cap);
const ss = Bun.which('ss');
const kernelBacklog = (port: number) => Number(Bun.spawnSync([ss!, '-Hltn', `sport = :${port}`]).stdout.toString().trim().split(/\s+/)[2]);

test.skipIf(!linux)('sets the backlog of this process\'s own listening socket, which keeps serving', async () => {
  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('ok') });
  try {
    if (ss) expect(kernelBacklog(server.port!)).toBe(512); // Bun's own
    const want = Math.min(2048, cap);
    expect(widenListenBacklog(server.port!, 2048)).toEqual({ backlog: want });
    if (ss) expect(kernelBacklog(server.port!)).toBe(want);
    expect(await (await fetch(server.url)).text()).toBe('ok');
  } finally {
    server.stop(true);
  }
});

test.skipIf(!linux)('connections on the same port, accepted by this process or made by it, are left alone: only the listening socket is set', async () => {
  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('ok') });
  try {
    // a keep-alive connection open both ways inside this process: its accepted end has the server's port as its own
    // (listen() on it would fail), its client end has it as its peer's
    expect(await (await fetch(server.url)).text()).toBe('ok');
    const want = Math.min(1024, cap);
    expect(widenListenBacklog(server.port!, 1024)).toEqual({ backlog: want });
    if (ss) expect(kernelBacklog(server.port!)).toBe(want);
    expect(await (await fetch(server.url)).text()).toBe('ok');
  } finally {
    server.stop(true);
  }
});

test.skipIf(!linux)('another process\'s socket, or a port nobody listens on: skipped, with the reason', async () => {
  // a socket of the same port in another process is not this one's to set
  const other = Bun.spawn([process.execPath, '-e', 'const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") }); console.log(s.port)'], { stdout: 'pipe' });
  try {
    const reader = other.stdout.getReader();
    const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
    expect(port).toBeGreaterThan(0);
    expect(widenListenBacklog(port, 4096)).toEqual({ backlog: bun, skipped: `no socket of this process listens on port ${port}` });
    if (ss) expect(kernelBacklog(port)).toBe(512);
  } finally {
    other.kill();
  }
  expect(widenListenBacklog(1, 4096)).toEqual({ backlog: bun, skipped: 'no socket of this process listens on port 1' });
  // 0: Bun's, nothing tried
  expect(widenListenBacklog(1, 0)).toEqual({ backlog: bun });
});

test.skipIf(linux)('elsewhere: left alone', () => {
  expect(widenListenBacklog(8080, 4096)).toEqual({ backlog: 512, skipped: `not on Linux (${process.platform})` });
});
