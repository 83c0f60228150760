/**
 * @module http/auth
 * Gateway keys arrive as `x-api-key` or `Authorization: Bearer` (Claude Code with ANTHROPIC_AUTH_TOKEN, and the
 * Anthropic TS SDK, send Bearer). The presented key is compared with every configured key, every character, without
 * stopping at a match or a difference, so the time taken says nothing about how much of a key matched (only whether
 * some key has the same length, which is no secret). With no keys configured, every request passes.
 */
import { GatewayError } from '../errors.ts';
import type { KeyConfig } from '../config/schema.ts';
import type { Principal } from './context.ts';

export type Authenticate = (headers: Headers) => Principal | null;

export function createAuthenticator(keys: KeyConfig[]): Authenticate {
  const table = keys.map((k) => ({ key: k.key, principal: { name: k.name, models: k.models ? new Set(k.models) : null } satisfies Principal }));
  return function authenticate(headers) {
    if (table.length === 0) return null;
    const presented = headers.get('x-api-key') ?? bearer(headers.get('authorization'));
    if (!presented) throw new GatewayError(401, 'authentication_error', 'missing API key: send it as x-api-key or Authorization: Bearer');
    let found: Principal | null = null;
    for (const k of table) if (sameLengthEqual(k.key, presented)) found = k.principal; // no early exit
    if (!found) throw new GatewayError(401, 'authentication_error', 'invalid API key');
    return found;
  };
}

/** Equal strings, in time that depends only on the length (a length mismatch answers at once). */
function sameLengthEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function bearer(h: string | null): string | undefined {
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m?.[1]?.trim();
}
