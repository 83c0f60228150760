/**
 * @module http/middleware/loop-guard
 * Every upstream call carries `x-switchboard-hop: <instance ids so far>`. A request that already names this
 * instance has come back to it (a channel's base_url pointing at the gateway itself, directly or via another
 * hop): it is refused instead of recursing until something falls over. Chains of distinct gateways still work.
 */
import type { MiddlewareHandler } from 'hono';
import { GatewayError } from '../../errors.ts';
import type { Env } from '../context.ts';

const MAX_HOPS = 8;

export function loopGuard(instanceId: string): MiddlewareHandler<Env> {
  return async function loopGuardMiddleware(c, next) {
    const incoming = c.req.header('x-switchboard-hop');
    if (incoming) {
      const hops = incoming.split(',').map((s) => s.trim()).filter(Boolean);
      if (hops.includes(instanceId) || hops.length >= MAX_HOPS) {
        throw new GatewayError(508, 'invalid_request_error',
          'request loop detected: this request has already passed through this Switchboard instance; a channel base_url points back at the gateway');
      }
      c.set('hop', `${hops.join(',')},${instanceId}`);
    } else {
      c.set('hop', instanceId);
    }
    return next();
  };
}
