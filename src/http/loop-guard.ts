/**
 * @module http/loop-guard
 * Every upstream call carries `x-switchboard-hop: <instance ids so far>`. A request that already names this
 * instance has come back to it (a channel's base_url pointing at the gateway itself, directly or via another
 * hop): it is refused instead of recursing until something falls over. Chains of distinct gateways still work.
 */
import { GatewayError } from '../errors.ts';

const MAX_HOPS = 8;

/** The marker to send upstream for a request that arrived with `incoming` (its x-switchboard-hop), or a 508. */
export function hopMarker(instanceId: string, incoming: string | null): string {
  if (!incoming) return instanceId;
  const hops = incoming.split(',').map((s) => s.trim()).filter(Boolean);
  if (hops.includes(instanceId) || hops.length >= MAX_HOPS) {
    throw new GatewayError(508, 'invalid_request_error',
      'request loop detected: this request has already passed through this Switchboard instance; a channel base_url points back at the gateway');
  }
  return `${hops.join(',')},${instanceId}`;
}
