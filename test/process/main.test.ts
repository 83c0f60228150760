/**
 * The real entrypoint as a process: flags, config errors, the open-relay refusal, the engine's start-up settings,
 * graceful shutdown.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN, runToExit, spawnGateway, writeConfig, type RunningGateway } from '../helpers/process.ts';
import { startMockUpstream, sse, sseEvents, type MockUpstream } from '../helpers/upstream.ts';
import { fixtureSseBody } from '../helpers/fixtures.ts';

let upstream: MockUpstream;
beforeAll(() => { upstream = startMockUpstream(() => new Response('{}')); });
afterAll(async () => { await upstream.stop(); });

describe('command line', () => {
  test('--help and --version', async () => {
    const help = await runToExit(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: switchboard');
    const ver = await runToExit(['--version']);
    expect(ver.code).toBe(0);
    expect(ver.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
  test('an unknown flag exits non-zero with a one-line reason', async () => {
    const r = await runToExit(['--nope']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('switchboard:');
    expect(r.stderr).not.toContain('    at ');
  });
  test('a config file given without --config is told how to give it', async () => {
    const r = await runToExit(['switchboard.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('switchboard: unexpected argument \'switchboard.yaml\': give a config file as --config switchboard.yaml\nswitchboard: see switchboard --help\n');
  });
  test('an empty --host is refused, not ignored (the config\'s or the default address would be used without a word)', async () => {
    const r = await runToExit(['--host', '', '--port', '0'], { ANTHROPIC_API_KEY: 'sk-ant-x' });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('switchboard: --host: empty (give an address such as 127.0.0.1)\n');
  });
  test('a --host that is no listen address is refused naming what is wrong, with or without keys (Bun would say "ENOTFOUND localhost:8080", and with no keys it read as a non-loopback address)', async () => {
    const r = await runToExit(['--host', 'localhost:8080', '--port', '0'], { ANTHROPIC_API_KEY: 'sk-ant-x' });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('switchboard: --host: without a port: the port is server.port (or --port): localhost:8080\n');
  });
  test('an empty --config is refused, not taken as none (zero-config from the environment would start without a word)', async () => {
    for (const args of [['--config', ''], ['-c', ' '], ['--config=']]) {
      const r = await runToExit([...args, '--port', '0'], { ANTHROPIC_API_KEY: 'sk-ant-x' });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('switchboard: --config: empty (give the path of a JSON or YAML file)\n');
    }
  });
  test('a bad config exits non-zero, one line per problem, no stack trace', async () => {
    const p = writeConfig({ channels: [{ name: 'a', type: 'anthropic', base_url: 'https://x.test', models: ['m'] }, { name: 'b', type: 'openai', base_url: 'nope', models: [], api_key: '${UNSET_VAR_X}' }], typo: 1 });
    const r = await runToExit(['--config', p]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`switchboard: ${p}: channels[1].api_key: environment variable UNSET_VAR_X is not set`);
    const r2 = await runToExit(['--config', writeConfig({ channels: [{ name: 'b', type: 'openai', base_url: 'nope', models: [] }], typo: 1 })]);
    expect(r2.stderr).toContain('channels[0].base_url: must start with http:// or https://\n');
    expect(r2.stderr).not.toContain('Invalid URL'); // one problem per field
    expect(r2.stderr).toContain('typo: unknown key');
    expect(r2.stderr).toContain('channels[0].models');
    expect(r2.stderr).not.toContain('    at ');
  });
  test('every problem of a config file names the file, and one that cannot be read says why in words', async () => {
    // a supervisor's log shows these lines without the command line that read the file ($SWITCHBOARD_CONFIG, a unit file)
    const p = writeConfig({ channels: [{ name: 'b', type: 'openai', base_url: 'nope', models: ['m'], api_key: '${UNSET_VAR_X}' }] });
    const r = await runToExit([], { SWITCHBOARD_CONFIG: p });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`switchboard: ${p}: channels[0].api_key: environment variable UNSET_VAR_X is not set\n`);
    const r2 = await runToExit(['--config', writeConfig({ channels: [{ name: 'b', type: 'openai', base_url: 'nope', models: ['m'] }] })]);
    expect(r2.stderr).toMatch(/^switchboard: \S+\.json: channels\[0\]\.base_url: must start with http:\/\/ or https:\/\/\n$/);
    const dir = mkdtempSync(join(tmpdir(), 'sb-config-'));
    const missing = await runToExit(['--config', join(dir, 'switchboard.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`switchboard: ${join(dir, 'switchboard.yaml')}: cannot read config file: no such file (ENOENT)\n`);
    const directory = await runToExit(['--config', dir]);
    expect(directory.stderr).toBe(`switchboard: ${dir}: cannot read config file: a directory, not a file (EISDIR)\n`);
  });
  test('SWITCHBOARD_CONFIG names the config file', async () => {
    const r = await runToExit([], { SWITCHBOARD_CONFIG: writeConfig({ channels: 5 }) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('channels:');
  });
  test('an empty SWITCHBOARD_CONFIG is refused like an empty --config, not taken as none (compose passing on a variable the host lacks would start zero-config without a word)', async () => {
    for (const value of ['', ' ']) {
      const r = await runToExit(['--port', '0'], { SWITCHBOARD_CONFIG: value, ANTHROPIC_API_KEY: 'sk-ant-x' });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('switchboard: SWITCHBOARD_CONFIG: empty (give the path of a JSON or YAML file, or unset it for zero-config)\n');
    }
    // --config wins over it, as over a set one
    const p = writeConfig({ channels: [{ name: 'a', type: 'anthropic', base_url: upstream.url, models: ['m'] }] });
    const g = await spawnGateway(['--config', p, '--port', '0'], { SWITCHBOARD_CONFIG: '' });
    g.proc.kill('SIGTERM');
    expect(await g.exited).toBe(0);
  });
  test('a port already in use: exits 2 naming it, never shares it with the process holding it', async () => {
    // Bun.serve with development: false sets SO_REUSEPORT unless told otherwise: a second gateway started on a
    // busy port (an old one left running) listened beside it, and the kernel split connections between the two
    const p = writeConfig({ channels: [{ name: 'a', type: 'anthropic', base_url: upstream.url, models: ['m'] }] });
    const first = await spawnGateway(['--config', p, '--port', '0']);
    try {
      const port = new URL(first.url).port;
      const second = await spawnGateway(['--config', p, '--port', port]).then((g) => { g.proc.kill('SIGKILL'); return 'listening'; }, (e: Error) => e.message);
      expect(second).toContain(`switchboard: cannot listen on 127.0.0.1:${port}`);
      expect(second).not.toContain('    at ');
    } finally {
      first.proc.kill('SIGTERM');
    }
    expect(await first.exited).toBe(0);
  });
  test('refuses a non-loopback address with no keys', async () => {
    const p = writeConfig({ channels: [{ name: 'a', type: 'anthropic', base_url: upstream.url, models: ['m'] }] });
    const r = await runToExit(['--config', p, '--host', '0.0.0.0', '--port', '0']);
    expect(r.code).toBe(2);
    // named where the address came from: the flag, or the file's field (as every other config problem is)
    expect(r.stderr).toStartWith('switchboard: --host: refusing to listen on 0.0.0.0 with no keys configured');
    const inFile = writeConfig({ server: { host: '0.0.0.0' }, channels: [{ name: 'a', type: 'anthropic', base_url: upstream.url, models: ['m'] }] });
    const r2 = await runToExit(['--config', inFile, '--port', '0']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toStartWith(`switchboard: ${inFile}: server.host: refusing to listen on 0.0.0.0 with no keys configured`);
  });
  test('refuses, with no keys, browsers from origins that are not this machine\'s (server.cors_origins)', async () => {
    const p = writeConfig({ server: { cors_origins: ['*'] }, channels: [{ name: 'a', type: 'anthropic', base_url: upstream.url, models: ['m'] }] });
    const r = await runToExit(['--config', p, '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`switchboard: ${p}: server.cors_origins[0]: every origin ("*") needs keys`);
  });
});

describe('engine start-up settings (src/engine.ts)', () => {
  /** The environment of a running process, as the kernel has it (Linux). */
  const environ = (pid: number) => Object.fromEntries(readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const linux = process.platform === 'linux';

  /** `check` on a gateway started with `env`, which is then stopped (killed if `check` failed) and must exit cleanly. */
  async function withGateway(env: Record<string, string>, check: (g: RunningGateway) => Promise<void> | void, cmd?: string[], args = ['--port', '0']) {
    const g = await spawnGateway(args, env, cmd);
    try {
      await check(g);
    } catch (err) {
      g.proc.kill('SIGKILL');
      throw err;
    }
    g.proc.kill('SIGTERM');
    expect(await g.exited).toBe(0);
  }
  const listeningOf = (g: RunningGateway) => g.lines.find((l) => l.msg === 'listening');
  const notes256 = (g: RunningGateway) => g.lines.some((l) => typeof l === 'object' && String(l.msg).startsWith('at most 256'));

  test('missing from the environment: the same process starts again with them, keeping Bun\'s flags and the arguments', async () => {
    await withGateway({}, async (g) => {
      expect(listeningOf(g).upstream_concurrency).toBe(4096);
      expect(listeningOf(g).heap_budget_mb).toBe(16);
      expect(notes256(g)).toBe(false);
      if (linux) {
        // the pid Bun.spawn returned is the one serving, now with the settings in its environment and --smol kept
        expect(environ(g.proc.pid!)).toMatchObject({ BUN_CONFIG_MAX_HTTP_REQUESTS: '4096', BUN_JSC_largeHeapSize: '16777216', SWITCHBOARD_ENGINE_RESTARTED: '1' });
        expect(readFileSync(`/proc/${g.proc.pid}/cmdline`, 'latin1').split('\0')).toContain('--smol');
      }
      expect((await fetch(`${g.url}/health`)).status).toBe(200);
    }, [process.execPath, '--smol', MAIN], ['--port', '0', '--host', '127.0.0.1']);
  });

  test('marked as started again but lacking them (dropped on the way): serves with Bun\'s defaults, no second restart', async () => {
    await withGateway({ SWITCHBOARD_ENGINE_RESTARTED: '1' }, (g) => {
      expect([listeningOf(g).upstream_concurrency, listeningOf(g).heap_budget_mb]).toEqual([256, 8]);
    });
  });

  test('set in the environment: kept as they are, Bun\'s defaults included (and the 256 limit is logged)', async () => {
    await withGateway({ BUN_CONFIG_MAX_HTTP_REQUESTS: '256', BUN_JSC_largeHeapSize: '8388608' }, (g) => {
      expect([listeningOf(g).upstream_concurrency, listeningOf(g).heap_budget_mb]).toEqual([256, 8]);
      expect(notes256(g)).toBe(true);
      if (linux) {
        expect(environ(g.proc.pid!)).toMatchObject({ BUN_CONFIG_MAX_HTTP_REQUESTS: '256', BUN_JSC_largeHeapSize: '8388608' });
        expect(environ(g.proc.pid!).SWITCHBOARD_ENGINE_RESTARTED).toBeUndefined(); // not started again
      }
    });
  });
});

describe('serving', () => {
  test('a config file with no channels is warned about as such (not told to set ANTHROPIC_API_KEY or pass the --config it was given)', async () => {
    const p = writeConfig({ channels: [] });
    const g = await spawnGateway(['--config', p, '--port', '0']);
    g.proc.kill('SIGTERM');
    expect(await g.exited).toBe(0);
    expect(g.lines.find((l) => l.level === 'warn')?.msg).toBe(`no channels configured in ${p}: every model is a 404 and /ready answers 503`);
    const zero = await spawnGateway(['--port', '0']);
    zero.proc.kill('SIGTERM');
    expect(await zero.exited).toBe(0);
    expect(zero.lines.find((l) => l.level === 'warn')?.msg).toBe('no channels configured: set ANTHROPIC_API_KEY or OPENAI_API_KEY, or pass --config');
  });

  test('zero-config from ANTHROPIC_API_KEY, ignoring ANTHROPIC_BASE_URL', async () => {
    const g = await spawnGateway(['--port', '0'], { ANTHROPIC_API_KEY: 'sk-x', ANTHROPIC_BASE_URL: 'http://127.0.0.1:1' });
    const ready = await fetch(`${g.url}/ready`);
    expect(ready.status).toBe(200);
    const listening = g.lines.find((l) => l.msg === 'listening');
    expect(listening.channels).toEqual(['anthropic']);
    g.proc.kill('SIGTERM');
    expect(await g.exited).toBe(0);
  });

  test('a body far over server.max_body_bytes gets the 413 in the API\'s envelope, from Node\'s fetch too (not a reset connection)', async () => {
    // Bun's own cap on request bodies (maxRequestBodySize) cut such uploads off itself: Bun's fetch got a bare 413
    // with no body, and Node's (the SDKs' under Node) "fetch failed" (EPIPE), which the SDKs retry, uploading again
    const p = writeConfig({ server: { max_body_bytes: 1024 * 1024 }, channels: [{ name: 'a', type: 'anthropic', base_url: upstream.url, models: ['m'] }] });
    const g = await spawnGateway(['--config', p, '--port', '0']);
    try {
      const big = JSON.stringify({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'x'.repeat(6 * 1024 * 1024) }] });
      const res = await fetch(`${g.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'request_too_large', message: 'request body exceeds the 1048576-byte limit' } });
      const node = Bun.which('node');
      // `bun run` puts a `node` of its own (Bun itself) on PATH where Node is not installed: not Node's fetch either
      const isBun = node !== null && (await new Response(Bun.spawn([node, '-e', 'process.stdout.write(String(Boolean(process.versions.bun)))'], { stdout: 'pipe' }).stdout).text()) === 'true';
      if (!node || isBun) {
        console.warn(`SKIPPED part: ${node ? '`node` on PATH is Bun' : 'no `node` on PATH'}, so the upload from Node's fetch is not tried`);
        return;
      }
      const script = `const r = await fetch(process.argv[1], { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(6 * 1024 * 1024) }).catch((e) => ({ status: String(e.cause?.code ?? e), text: async () => '' })); console.log(JSON.stringify({ status: r.status, body: await r.text() }));`;
      const child = Bun.spawn([node, '--input-type=module', '-e', script, `${g.url}/v1/messages`], { stdout: 'pipe', stderr: 'inherit' });
      const out = JSON.parse(await new Response(child.stdout).text());
      expect(out.status).toBe(413);
      expect(JSON.parse(out.body)).toMatchObject({ type: 'error', error: { type: 'request_too_large' } });
      // still serving
      expect((await fetch(`${g.url}/health`)).status).toBe(200);
    } finally {
      g.proc.kill('SIGKILL');
    }
  });

  test('the listen queue: 4096 connections by default (Bun alone holds 512), 0 leaves Bun\'s, a bad value is a config error', async () => {
    /** The kernel's backlog of the listening socket on `port` (`ss`'s Send-Q), or null without `ss`. */
    const kernelBacklog = (port: number) => {
      const ss = Bun.which('ss');
      if (!ss) return null;
      const line = Bun.spawnSync([ss, '-Hltn', `sport = :${port}`]).stdout.toString().trim();
      return Number(line.split(/\s+/)[2]);
    };
    const channels = [{ name: 'a', type: 'anthropic', base_url: upstream.url, models: ['m'] }];
    // the kernel caps every listen queue at net.core.somaxconn (4096 since Linux 5.4), Bun's 512 too
    const cap = process.platform === 'linux' ? Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8')) : Infinity;
    for (const [server, asked] of [[{}, 4096], [{ listen_backlog: 1000 }, 1000], [{ listen_backlog: 0 }, 512]] as const) {
      const want = Math.min(asked, cap);
      const g = await spawnGateway(['--config', writeConfig({ channels, server }), '--port', '0']);
      try {
        const port = Number(new URL(g.url).port);
        if (process.platform === 'linux') {
          expect(g.lines.find((l) => l.msg === 'listening').listen_backlog).toBe(want);
          const seen = kernelBacklog(port);
          if (seen !== null) expect(seen).toBe(want);
        }
        expect((await fetch(`${g.url}/ready`)).status).toBe(200);
      } finally {
        g.proc.kill('SIGTERM');
      }
      expect(await g.exited).toBe(0);
    }
    for (const bad of [-1, 1.5, 70000, '4096x']) {
      const r = await runToExit(['--config', writeConfig({ channels, server: { listen_backlog: bad } })]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('server.listen_backlog');
    }
  });

  test('SIGTERM lets an in-flight stream finish, refuses new connections, exits 0', async () => {
    const body = fixtureSseBody('anthropic/stream-text-basic.sse');
    upstream.handler = () => sse(sseEvents(body), { delayMs: 150 });
    const p = writeConfig({ channels: [{ name: 'a', type: 'anthropic', base_url: upstream.url, models: ['m'] }], server: { drain_timeout_ms: 10000 } });
    const g = await spawnGateway(['--config', p, '--port', '0']);
    const res = await fetch(`${g.url}/v1/messages`, { method: 'POST', body: JSON.stringify({ model: 'm', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] }) });
    const textP = res.text();
    await Bun.sleep(100);
    g.proc.kill('SIGTERM');
    expect(await textP).toBe(body);
    expect(await g.exited).toBe(0);
    // the stream being relayed counts as in flight (its handler has long returned)
    expect(g.lines.find((l) => l.msg === 'draining')?.inflight).toBe(1);
    expect(g.lines.some((l) => l.msg === 'request' && l.status === 200)).toBe(true);
  });

  test('a stdout whose reader has gone (EPIPE): requests are still served, SIGTERM still exits 0', async () => {
    upstream.handler = () => Response.json({ id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [{ type: 'text', text: 'hi' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } });
    const p = writeConfig({ channels: [{ name: 'a', type: 'anthropic', base_url: upstream.url, models: ['m'] }] });
    const proc = Bun.spawn([process.execPath, MAIN, '--config', p, '--port', '0'], { stdout: 'pipe', stderr: 'ignore', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' } });
    try {
      // the address from the `listening` line, then the reader goes away
      const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
      let out = '';
      while (!/"msg":"listening"/.test(out)) {
        const r = await reader.read();
        if (r.done) throw new Error(`gateway exited: ${out}`);
        out += new TextDecoder().decode(r.value);
      }
      const url = /"url":"(http:[^"]+?)\/?"/.exec(out)![1]!;
      await reader.cancel();
      for (let i = 0; i < 50; i++) {
        const res = await fetch(`${url}/v1/messages`, { method: 'POST', body: JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }) });
        expect(res.status).toBe(200);
        await res.text();
        if (i % 10 === 9) await Bun.sleep(30); // past the log's batching delay: each batch written to the closed pipe
      }
      proc.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
    } finally {
      proc.kill('SIGKILL');
    }
  });

  test('a stdout that takes nothing (a hung log collector): requests are served, shutdown does not wait on it for long, and the lines come out whole and in order once it reads', async () => {
    const fifo = join(mkdtempSync(join(tmpdir(), 'sb-fifo-')), 'stdout');
    expect(Bun.spawnSync(['mkfifo', fifo]).exitCode).toBe(0);
    // held open and not read while the load runs (non-blocking: read only what is there)
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    const chunk = Buffer.alloc(1 << 20);
    let held = 0;
    const readWhatIsThere = () => {
      try { held += readSync(fd, chunk, held, chunk.length - held, null); } catch (e) { if ((e as { code?: string }).code !== 'EAGAIN') throw e; }
    };
    upstream.handler = () => Response.json({ id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [{ type: 'text', text: 'hi' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } });
    const p = writeConfig({ channels: [{ name: 'a', type: 'anthropic', base_url: upstream.url, models: ['m'] }], server: { drain_timeout_ms: 200 } });
    const proc = Bun.spawn([process.execPath, MAIN, '--config', p, '--port', '0'], { stdout: fd, stderr: 'ignore', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' } });
    try {
      // the address from the `listening` line
      for (let i = 0; i < 400 && !/"msg":"listening"/.test(chunk.subarray(0, held).toString()); i++) {
        if (proc.exitCode !== null) throw new Error('gateway exited');
        readWhatIsThere();
        await Bun.sleep(25);
      }
      const url = /"url":"(http:[^"]+?)\/?"/.exec(chunk.subarray(0, held).toString())![1]!;
      // ~400 request lines: far past the 64 KB a pipe holds
      for (let i = 0; i < 400; i++) {
        const res = await fetch(`${url}/v1/messages`, { method: 'POST', body: JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x'.repeat(200) }], metadata: { user_id: `u${i}` } }) });
        expect(res.status).toBe(200);
        await res.text();
      }
      const t0 = Date.now();
      proc.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(10_000); // bounded: 200 ms of drain, at most 2 s for the log (it hung before)
      // what the pipe held: whole JSON lines, the start-up ones first, then requests in order
      readWhatIsThere();
      const lines = chunk.subarray(0, held).toString().split('\n');
      lines.pop(); // the last one may be cut where the pipe was full
      const parsed = lines.map((l) => JSON.parse(l));
      expect(parsed.length).toBeGreaterThan(100);
      expect(parsed.some((l) => l.msg === 'listening')).toBe(true);
      const ids: string[] = parsed.filter((l) => l.msg === 'request' && l.path === '/v1/messages').map((l) => l.request_id);
      expect(ids.length).toBeGreaterThan(100);
      expect([...ids].sort()).toEqual(ids);
    } finally {
      proc.kill('SIGKILL');
      closeSync(fd);
    }
  });

  test('a second SIGINT or SIGTERM while draining stops at once (Ctrl-C twice), with the cut requests logged', async () => {
    // the second signal was ignored: a user pressing Ctrl-C again in front of a stream had to wait the whole
    // drain_timeout_ms (30 s by default) or kill -9 the process, which lost the request lines still buffered
    upstream.handler = () => sse(['event: ping\ndata: {"type":"ping"}\n\n'], { hang: true });
    const p = writeConfig({ channels: [{ name: 'a', type: 'anthropic', base_url: upstream.url, models: ['m'] }], server: { drain_timeout_ms: 20000 } });
    for (const second of ['SIGINT', 'SIGTERM'] as const) {
      const g = await spawnGateway(['--config', p, '--port', '0']);
      const res = await fetch(`${g.url}/v1/messages`, { method: 'POST', body: JSON.stringify({ model: 'm', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] }) });
      const reader = res.body!.getReader();
      await reader.read();
      g.proc.kill('SIGINT');
      await Bun.sleep(200);
      expect(g.proc.exitCode).toBeNull(); // the first one drains
      const t0 = Date.now();
      g.proc.kill(second);
      expect(await g.exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(g.lines.find((l) => l.msg === 'stopped')).toMatchObject({ clean: false, signal: second });
      expect(g.lines.find((l) => l.msg === 'request')).toMatchObject({ status: 200, outcome: 'cancelled' });
    }
  }, 30_000);

  test('the drain timeout bounds shutdown', async () => {
    upstream.handler = () => sse(['event: ping\ndata: {"type":"ping"}\n\n'], { hang: true });
    const p = writeConfig({ channels: [{ name: 'a', type: 'anthropic', base_url: upstream.url, models: ['m'] }], server: { drain_timeout_ms: 300 } });
    const g = await spawnGateway(['--config', p, '--port', '0']);
    const res = await fetch(`${g.url}/v1/messages`, { method: 'POST', body: JSON.stringify({ model: 'm', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] }) });
    const reader = res.body!.getReader();
    await reader.read();
    const t0 = Date.now();
    g.proc.kill('SIGTERM');
    expect(await g.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
