#!/usr/bin/env bun
/**
 * @module main
 * The only module with side effects (besides engine-start.ts, its first import, which may start the process again
 * with the engine's start-up settings): arguments and environment → config → Bun.serve → graceful shutdown.
 */
// first: it may start the process again with the engine's start-up settings, before anything else loads
import './engine-start.ts';
import { parseArgs } from 'node:util';
import { createApp } from './app.ts';
import { BUN_BACKLOG, widenListenBacklog } from './http/listen-backlog.ts';
import { ConfigError, loadConfig } from './config/load.ts';
import { buildDeps } from './runtime.ts';
import { bufferedLineSink, createLogger } from './log.ts';
import { VERSION } from './version.ts';
import { listenHostProblem } from './util/origin.ts';

const HELP = `switchboard ${VERSION} — an LLM gateway speaking Anthropic's Messages API

Usage: switchboard [--config FILE] [--host HOST] [--port PORT]

Options:
  -c, --config FILE   config file (JSON or YAML); default: $SWITCHBOARD_CONFIG, else zero-config
                      from ANTHROPIC_API_KEY / OPENAI_API_KEY (and PORT for the port)
      --host HOST     listen address (overrides server.host)
  -p, --port PORT     listen port (overrides server.port; 0 picks a free port)
  -h, --help          show this help
  -v, --version       print the version

Docs: README.md ("Configuration").`;

/** Log bytes handed to stdout and not yet taken, at most (log.ts: bufferedLineSink): ~20,000 request lines. */
const LOG_MAX_PENDING = 8 * 1024 * 1024;

// Output goes through console and Bun.stdout, not process.stdout / process.stderr: the first use of either loads
// Node's stream modules, ~15 ms of a ~70 ms start-up (`--cpu-prof-interval=50` of the bundle: `get WriteStream`
// 42% of the samples before the server listens).

/**
 * How much of a request body past `server.max_body_bytes` Bun reads (and drops) before it cuts the connection. Reading
 * it costs the gateway ~0.1 s of CPU per GB and no memory (measured with a client that sent 2 GB on after its 413).
 */
const DRAINED_PAST_LIMIT = 1024 * 1024 * 1024;

/** A config problem as printed: the file before the field, unless the problem names the file already. */
function configProblems(e: ConfigError, path: string | undefined): string[] {
  return path && !e.located ? e.problems.map((p) => `${path}: ${p}`) : e.problems;
}

function fail(lines: string[]): never {
  for (const l of lines) console.error(`switchboard: ${l}`);
  process.exit(2);
}

/** Calls `done` once a writer's flush has been taken: at once, or when its promise settles (either way). */
const whenTaken = (r: number | Promise<number>, done: () => void) => {
  if (typeof r === 'number') done();
  else r.then(done, done);
};

/** Log bytes to stdout through Bun's writer; a stdout that is gone (EPIPE) loses the bytes, never the process. */
function stdoutWriter(): { write(bytes: Uint8Array, done: () => void): void; drained(): Promise<void> } {
  const out = Bun.stdout.writer();
  const flushed = (done: () => void) => {
    try { whenTaken(out.flush(), done); } catch { done(); }
  };
  return {
    write(bytes, done) {
      try { out.write(bytes); } catch { done(); return; }
      flushed(done);
    },
    drained: () => new Promise<void>((resolve) => flushed(resolve)),
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function main() {
  let args;
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: process.argv.slice(2),
      options: {
        config: { type: 'string', short: 'c' },
        host: { type: 'string' },
        port: { type: 'string', short: 'p' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
      strict: true,
      allowPositionals: true,
    });
    positionals = parsed.positionals;
    args = parsed.values;
  } catch (e) {
    fail([(e as Error).message, 'see switchboard --help']);
  }
  // `switchboard switchboard.yaml`: the file is named, with the flag that takes it
  const extra = positionals[0];
  if (extra !== undefined) {
    fail([`unexpected argument '${extra}'${/\.(?:ya?ml|json)$/i.test(extra) ? `: give a config file as --config ${extra}` : ''}`, 'see switchboard --help']);
  }
  if (args.help) { console.log(HELP); return; }
  if (args.version) { console.log(VERSION); return; }

  // `--config "$CFG"` with CFG unset: refused, as an empty --host is, rather than starting zero-config without a word
  if (args.config !== undefined && !args.config.trim()) fail(['--config: empty (give the path of a JSON or YAML file)']);
  // the same for SWITCHBOARD_CONFIG set empty (compose passing on a variable the host lacks): unset means zero-config
  const fromEnv = args.config === undefined ? process.env.SWITCHBOARD_CONFIG : undefined;
  if (fromEnv !== undefined && !fromEnv.trim()) fail(['SWITCHBOARD_CONFIG: empty (give the path of a JSON or YAML file, or unset it for zero-config)']);
  let config;
  const path = args.config ?? fromEnv;
  try {
    config = loadConfig({ path, env: process.env });
  } catch (e) {
    if (e instanceof ConfigError) fail(configProblems(e, path));
    throw e;
  }
  if (args.host !== undefined) {
    if (!args.host.trim()) fail(['--host: empty (give an address such as 127.0.0.1)']);
    const problem = listenHostProblem(args.host);
    if (problem) fail([`--host: ${problem}: ${args.host}`]);
    config.server.host = args.host;
  }
  if (args.port !== undefined) {
    if (!/^\d+$/.test(args.port) || Number(args.port) > 65535) fail([`--port: not a port number: ${args.port}`]);
    config.server.port = Number(args.port);
  }
  if (config.keys.length === 0 && !isLoopback(config.server.host)) {
    // named where the address came from, as a config problem is: the flag, or the file's field
    const from = args.host !== undefined ? '--host' : path ? `${path}: server.host` : 'server.host';
    fail([`${from}: refusing to listen on ${config.server.host} with no keys configured (anyone could use your upstream keys); add "keys" or listen on 127.0.0.1`]);
  }

  // buffered stdout: log lines never block the request path, nor pile up in memory while stdout takes nothing
  // (Bun's writer keeps the batches in order and says when each is taken)
  const stdout = stdoutWriter();
  const sink = bufferedLineSink(stdout.write, setTimeout, 20, 64 * 1024, LOG_MAX_PENDING);
  const flush = sink.flush;
  const logger = createLogger(sink.push, config.server.log_level);

  let deps;
  try {
    deps = buildDeps(config, logger);
  } catch (e) {
    if (e instanceof ConfigError) fail(configProblems(e, path));
    throw e;
  }
  const app = createApp(deps);
  let server: ReturnType<typeof Bun.serve>;
  deps.noIdleTimeout = (req) => server.timeout(req, 0);
  try {
    server = Bun.serve({
      hostname: config.server.host,
      port: config.server.port,
      routes: app.routes,
      fetch: app.fetch,
      error: app.serveError,
      // the handler refuses a body over max_body_bytes itself, in the API's envelope (pipeline/read-body.ts), and Bun
      // then reads what the client still sends and drops it, so that the client reads the 413: where Bun's own cap cut
      // the upload off, Bun's fetch got a bare 413 and Node's (the SDKs' under Node) a reset connection, which they
      // retried. Its cap only stops a client that sends on and on past that
      maxRequestBodySize: config.server.max_body_bytes + DRAINED_PAST_LIMIT,
      idleTimeout: 30,
      development: false,
      // explicit: with development: false Bun sets SO_REUSEPORT by default, and a second Switchboard started on a
      // busy port (an old one still running) would listen beside it instead of failing, the kernel splitting
      // connections between the two configs
      reusePort: false,
    });
  } catch (e) {
    fail([`cannot listen on ${config.server.host}:${config.server.port}: ${(e as Error).message}`]);
  }
  // Bun listens with a backlog of 512 and takes no option for it (http/listen-backlog.ts)
  const listenQueue = widenListenBacklog(server.port!, config.server.listen_backlog);
  if (listenQueue.skipped) logger.event(process.platform === 'linux' ? 'warn' : 'debug', `server.listen_backlog: left at Bun's ${BUN_BACKLOG} (${listenQueue.skipped})`);
  if (config.channels.length === 0) {
    logger.event('warn', path ? `no channels configured in ${path}: every model is a 404 and /ready answers 503` : 'no channels configured: set ANTHROPIC_API_KEY or OPENAI_API_KEY, or pass --config');
  }
  // Bun's fetch keeps at most this many upstream requests in flight per process (256 unless set at start-up)
  const upstreamConcurrency = Number(process.env.BUN_CONFIG_MAX_HTTP_REQUESTS) || 256;
  if (upstreamConcurrency <= 256) logger.event('info', 'at most 256 upstream requests at once: BUN_CONFIG_MAX_HTTP_REQUESTS in the environment sets more (README: "Running in production")');

  let stopping = false;
  /** Ends the drain at once: a second SIGINT or SIGTERM (Ctrl-C twice) does not wait out drain_timeout_ms. */
  let stopNow: ((signal: string) => void) | undefined;
  const shutdown = async (signal: string) => {
    if (stopping) { stopNow?.(signal); return; }
    stopping = true;
    deps.state.draining = true;
    logger.event('info', 'draining', { signal, inflight: server.pendingRequests, drain_timeout_ms: config.server.drain_timeout_ms });
    flush();
    const drained = server.stop(false).then(() => true);
    const timedOut = Bun.sleep(config.server.drain_timeout_ms).then(() => false);
    let forcedBy: string | undefined;
    const forced = new Promise<false>((resolve) => { stopNow = (s) => { forcedBy = s; resolve(false); }; });
    const clean = await Promise.race([drained, timedOut, forced]);
    if (!clean) await server.stop(true);
    logger.event('info', 'stopped', forcedBy ? { clean, signal: forcedBy } : { clean });
    flush();
    // the last lines out before exiting, unless stdout takes nothing (a hung log collector): then not for long
    await Promise.race([stdout.drained(), Bun.sleep(2000)]);
    process.exit(0);
  };
  // before the `listening` line: a supervisor that stops the process as soon as it reads it must find them in place
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // soak runs only (bench/soak.ts): heap and registry counts on stderr, a full collection each time (loaded only then)
  const statsMs = Number(process.env.SWITCHBOARD_DEBUG_STATS_MS ?? 0);
  if (statsMs > 0) void import('./debug-stats.ts').then((m) => m.startDebugStats(statsMs, (line) => process.stderr.write(line), () => deps.state.inflight));
  // last: whatever waits for this line (a supervisor, the tests) has every start-up line by then
  logger.event('info', 'listening', {
    url: server.url.href, version: VERSION, channels: config.channels.map((c) => c.name), keys: config.keys.length,
    upstream_concurrency: upstreamConcurrency, listen_backlog: listenQueue.backlog, heap_budget_mb: Number(process.env.BUN_JSC_largeHeapSize ?? 8 * 1024 * 1024) / (1024 * 1024),
  });
  flush();
}

main();
