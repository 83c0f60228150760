import { describe, expect, test } from 'bun:test';
import { redactKey, redactKeyBytes } from '../../../src/util/redact.ts';
import { channelSecrets } from '../../../src/channels/shared/upstream-headers.ts';
import type { ChannelConfig } from '../../../src/config/schema.ts';

describe('redactKeyBytes', () => {
  const key = 'sk-live-12345678';
  const bytes = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

  test('every occurrence of the key masked, every other byte as it was (a latin-1 byte, a BOM)', () => {
    const body = bytes([0xef, 0xbb, 0xbf], `{"error":"bad key ${key} `, [0xfc], `, again ${key}"}`);
    expect(Buffer.from(redactKeyBytes(body, key))).toEqual(bytes([0xef, 0xbb, 0xbf], '{"error":"bad key [redacted] ', [0xfc], ', again [redacted]"}'));
  });

  test('the same bytes when the key is absent, unset or too short to mask', () => {
    const body = bytes('{"error":"ollama is down ', [0xfc], '"}');
    expect(redactKeyBytes(body, key)).toBe(body);
    expect(redactKeyBytes(body, undefined)).toBe(body);
    expect(redactKeyBytes(body, 'ollama')).toBe(body);
    expect(redactKey('ollama is down', 'ollama')).toBe('ollama is down');
  });
});

describe('channelSecrets', () => {
  const config = (headers: Record<string, string | null>, api_key?: string) => ({ api_key, headers }) as unknown as ChannelConfig;
  test('the api_key and each credential header, a scheme\'s token alone too; other headers and null ones are not secrets', () => {
    expect(channelSecrets(config({ Authorization: 'Bearer tok-12345678', 'x-api-key': 'k-87654321', 'X-Title': 'My App', 'anthropic-beta': null }, 'sk-main-1234')))
      .toEqual(['sk-main-1234', 'Bearer tok-12345678', 'tok-12345678', 'k-87654321']);
    expect(channelSecrets(config({}))).toEqual([]);
    // a name that merely mentions auth is not a credential's: its value would be masked wherever it occurs
    // authorization in any header name holds one (Azure's x-ms-authorization-auxiliary, a proxy's x-authorization)
    expect(channelSecrets(config({ 'x-authorization': 'tok-abcdefgh', 'x-ms-authorization-auxiliary': 'Bearer aux-12345678', 'x-authentication': 'auth-9876543' })))
      .toEqual(['tok-abcdefgh', 'Bearer aux-12345678', 'aux-12345678', 'auth-9876543']);
    expect(channelSecrets(config({ 'x-auth-mode': 'required', 'x-jwt': 'eyJhbGciOi.x', 'x-session-id': 'sess-1234567' }))).toEqual(['eyJhbGciOi.x', 'sess-1234567']);
  });
  test('every secret is masked, in text and in bytes', () => {
    const keys = ['Bearer tok-12345678', 'tok-12345678', 'k-87654321'];
    expect(redactKey('a tok-12345678 b k-87654321', keys)).toBe('a [redacted] b [redacted]');
    expect(Buffer.from(redactKeyBytes(Buffer.from('x k-87654321 tok-12345678'), keys)).toString()).toBe('x [redacted] [redacted]');
  });
});
