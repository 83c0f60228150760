/**
 * @module test/helpers/fixtures
 * Access to the shared recorded provider traffic in ../shared/fixtures/upstream (see its README).
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const FIXTURES_DIR = resolve(import.meta.dir, '../../../shared/fixtures/upstream');

export function fixturePath(rel: string): string {
  return join(FIXTURES_DIR, rel);
}

export function readFixture(rel: string): string {
  return readFileSync(fixturePath(rel), 'utf8');
}

/** All fixture files under a folder (recursively), relative to upstream/. */
export function listFixtures(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(fixturePath(rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out.push(r);
    }
  };
  if (existsSync(fixturePath(dir))) walk(dir);
  return out.sort();
}

/**
 * The SSE body of a recording: `.sse` as is; `.chunks.jsonl` wrapped as `data: <line>\n\n`
 * (with `event: <type>` for Anthropic streams, and `data: [DONE]` for OpenAI-style ones), per the fixtures README.
 */
export function fixtureSseBody(rel: string): string {
  const raw = readFixture(rel);
  if (rel.endsWith('.sse')) return raw;
  if (!rel.endsWith('.chunks.jsonl')) throw new Error(`not a stream fixture: ${rel}`);
  const anthropic = rel.startsWith('anthropic/');
  let body = '';
  for (const line of raw.split('\n')) {
    if (!line.trim()) continue;
    if (anthropic) body += `event: ${JSON.parse(line).type}\n`;
    body += `data: ${line}\n\n`;
  }
  if (!anthropic) body += 'data: [DONE]\n\n';
  return body;
}
