/**
 * @module http/context
 * Per-request state (the Exchange, a plain object handed down the request path) and the dependencies
 * createApp() receives.
 */
import type { Config } from '../config/schema.ts';
import type { FormatId } from '../formats/types.ts';
import type { Logger, RequestLogEntry } from '../log.ts';
import type { RoutingTable } from '../routing/table.ts';
import type { CircuitBreaker } from '../routing/circuit.ts';
import type { Channel } from '../channels/types.ts';

export interface Principal { name: string; models: Set<string> | null }

export interface RequestLog {
  entry: RequestLogEntry;
  start: number;
  /** Set when a streamed body will finish the log line itself (at stream end). */
  deferred: boolean;
  finish(status?: number): void;
}

/** One request on its way through the gateway. */
export interface Exchange {
  req: Request;
  requestId: string;
  /** The client's dialect: errors are rendered in it. */
  format: FormatId;
  log: RequestLog;
  /** The gateway key's owner; null when no keys are configured or the route is open. */
  principal: Principal | null;
  /** The loop-guard marker to send upstream: the hops so far plus this instance. */
  hop: string;
  /**
   * What the request lost, for the `x-switchboard-dropped` header `settle` puts on whatever it answers: set only where
   * the answer's own headers cannot say it (a relayed request sent again with its history repaired:
   * pipeline/foreign-thinking.ts, pipeline/blank-text.ts); a translation names what it drops itself.
   */
  dropped: string | undefined;
}

export interface AppDeps {
  config: Config;
  channels: Channel[];
  table: RoutingTable;
  breaker: CircuitBreaker;
  logger: Logger;
  /** Random per process; the loop guard's marker. */
  instanceId: string;
  version: string;
  /** Lifts Bun's idle timeout for a long-running request (main.ts passes server.timeout(req, 0)). */
  noIdleTimeout?: (req: Request) => void;
  /** Flipped by main.ts on SIGTERM: /ready answers 503 while draining. */
  state: { draining: boolean; inflight: number };
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}
