import { describe, expect, test } from 'bun:test';
import { redactKey, redactKeyBytes } from '../../../src/util/redact.ts';

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
