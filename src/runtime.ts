/**
 * @module runtime
 * Builds what createApp() needs from a validated config: channels (via the registry), the routing table,
 * the circuit breaker. Pure apart from object construction; channel construction problems become ConfigErrors.
 */
import type { Config } from './config/schema.ts';
import { ConfigError } from './config/load.ts';
import { CHANNELS } from './channels/registry.ts';
import type { Channel } from './channels/types.ts';
import { RoutingTable } from './routing/table.ts';
import { CircuitBreaker } from './routing/circuit.ts';
import type { AppDeps } from './http/context.ts';
import type { Logger } from './log.ts';
import { VERSION } from './version.ts';

export function buildChannels(config: Config): Channel[] {
  const problems: string[] = [];
  const channels: Channel[] = [];
  config.channels.forEach((cfg, i) => {
    try {
      channels.push(CHANNELS[cfg.type](cfg, `channels[${i}]`));
    } catch (e) {
      problems.push((e as Error).message);
    }
  });
  if (problems.length) throw new ConfigError(problems);
  return channels;
}

export function buildDeps(config: Config, logger: Logger, extra: Partial<AppDeps> = {}): AppDeps {
  const channels = buildChannels(config);
  return {
    config,
    channels,
    table: new RoutingTable(channels),
    breaker: new CircuitBreaker(config.routing.circuit_failures, config.routing.circuit_cooldown_ms),
    logger,
    instanceId: Math.random().toString(36).slice(2, 10).padEnd(8, '0'),
    version: VERSION,
    state: { draining: false, inflight: 0 },
    ...extra,
  };
}
