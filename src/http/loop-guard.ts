/**
 * @module http/loop-guard
 * Every upstream call carries `x-switchboard-hop: <instance ids so far>`. A request that already names this
 * instance has come back to it (a channel's base_url pointing at the gateway itself, directly or via another
 * hop): it is refused instead of recursing until something falls over. Chains of distinct gateways still work.
 */
import { GatewayError } from '../errors.ts';

const MAX_HOPS = 8;
/** An instance id as runtime.ts makes them (8 base-36 characters), with room for other versions' ids. */
const HOP = /^[0-9a-z]{1,32}$/i;

/**
 * The marker to send upstream for a request that arrived with `incoming` (its x-switchboard-hop), or a 508. A marker
 * no Switchboard writes is a 400: it is sent on upstream with every call, so a client could otherwise make each one
 * carry a header as long as its own limit allows.
 */
export function hopMarker(instanceId: string, incoming: string | null): string {
  if (!incoming) return instanceId;
  const hops = incoming.length <= MAX_HOPS * 34 ? incoming.split(',').map((s) => s.trim()).filter(Boolean) : [''];
  if (!hops.every((h) => HOP.test(h))) {
    throw new GatewayError(400, 'invalid_request_error', 'x-switchboard-hop: not a Switchboard loop marker (up to 8 instance ids, comma-separated)');
  }
  if (hops.includes(instanceId) || hops.length >= MAX_HOPS) {
    throw new GatewayError(508, 'invalid_request_error',
      'request loop detected: this request has already passed through this Switchboard instance; a channel base_url points back at the gateway');
  }
  return `${hops.join(',')},${instanceId}`;
}
