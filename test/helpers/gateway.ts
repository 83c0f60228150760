/**
 * @module test/helpers/gateway
 * An in-process Switchboard on port 0, built exactly like main.ts does (validateConfig → buildDeps →
 * createApp → Bun.serve), with log lines captured for assertions.
 */
import { validateConfig } from '../../src/config/load.ts';
import { buildDeps } from '../../src/runtime.ts';
import { createApp } from '../../src/app.ts';
import { createLogger } from '../../src/log.ts';
import type { AppDeps } from '../../src/http/context.ts';

export interface TestGateway {
  url: string;
  logs: any[];
  deps: AppDeps;
  /** Request log lines only. */
  requestLogs(): any[];
  stop(): Promise<void>;
}

/** A port free right now (for configs that must name the gateway's own address before it starts). */
export function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

export function startGateway(rawConfig: Record<string, unknown>, extra: Partial<AppDeps> = {}, port = 0): TestGateway {
  const config = validateConfig(rawConfig);
  const logs: any[] = [];
  const logger = createLogger((line) => logs.push(JSON.parse(line)), 'debug');
  const deps = buildDeps(config, logger, extra);
  const app = createApp(deps);
  const server = Bun.serve({ port, hostname: '127.0.0.1', routes: app.routes, fetch: app.fetch, error: app.serveError, idleTimeout: 10 });
  deps.noIdleTimeout = (req) => server.timeout(req, 0);
  return {
    url: `http://127.0.0.1:${server.port}`,
    logs,
    deps,
    requestLogs: () => logs.filter((l) => l.msg === 'request'),
    async stop() { await server.stop(true); },
  };
}

export { until } from './until.ts';
