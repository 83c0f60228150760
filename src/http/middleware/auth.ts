/**
 * @module http/middleware/auth
 * Gateway keys arrive as `x-api-key` or `Authorization: Bearer` (Claude Code with ANTHROPIC_AUTH_TOKEN, and the
 * Anthropic TS SDK, send Bearer). The presented key is compared with every configured key with timingSafeEqual,
 * without stopping at a match, so the time taken says nothing about how much of a key matched (only whether some
 * key has the same length, which is no secret). With no keys configured, every request passes.
 */
import type { MiddlewareHandler } from 'hono';
import { timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../../errors.ts';
import type { KeyConfig } from '../../config/schema.ts';
import type { Env, Principal } from '../context.ts';

export function gatewayAuth(keys: KeyConfig[]): MiddlewareHandler<Env> {
  const table = keys.map((k) => ({ bytes: Buffer.from(k.key), principal: { name: k.name, models: k.models ? new Set(k.models) : null } satisfies Principal }));
  return async function gatewayAuthMiddleware(c, next) {
    if (table.length === 0) return next();
    const presented = c.req.header('x-api-key') ?? bearer(c.req.header('authorization'));
    if (!presented) throw new GatewayError(401, 'authentication_error', 'missing API key: send it as x-api-key or Authorization: Bearer');
    const p = Buffer.from(presented);
    let found: Principal | null = null;
    for (const k of table) if (k.bytes.length === p.length && timingSafeEqual(k.bytes, p)) found = k.principal; // no early exit
    if (!found) throw new GatewayError(401, 'authentication_error', 'invalid API key');
    c.set('principal', found);
    c.get('log').entry.key = found.name;
    return next();
  };
}

function bearer(h: string | undefined): string | undefined {
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m?.[1]?.trim();
}
