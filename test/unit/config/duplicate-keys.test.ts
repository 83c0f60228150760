import { describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { jsonDuplicateKeys, yamlDuplicateKeys } from '../../../src/config/duplicate-keys.ts';
import { ConfigError, loadConfig } from '../../../src/config/load.ts';

const yamlDups = (text: string) => yamlDuplicateKeys(text, Bun.YAML.parse(text));
const dir = mkdtempSync(join(tmpdir(), 'sb-dups-'));
const write = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };

describe('a key written twice in a config file is refused, naming its path and lines', () => {
  test('YAML: a second channels: list (which would replace the first)', () => {
    const p = write('twice.yaml', [
      'channels:',
      '  - { name: a, type: anthropic, base_url: "http://127.0.0.1:1", models: [m] }',
      'server:',
      '  port: 0',
      'channels:',
      '  - { name: b, type: anthropic, base_url: "http://127.0.0.1:2", models: [n] }',
      '',
    ].join('\n'));
    let problems: string[] = [];
    try { loadConfig({ path: p, env: {} }); } catch (e) { if (e instanceof ConfigError) problems = e.problems; else throw e; }
    expect(problems).toEqual(['channels: written twice (lines 1 and 5); the second would silently replace the first']);
  });

  test('JSON, at any depth', () => {
    const p = write('twice.json', '{\n "channels": [\n  {"name": "a", "type": "anthropic", "base_url": "http://x.test",\n   "models": {"m": "u1", "\\u006d": "u2"}, "name": "b"}\n ]\n}\n');
    let problems: string[] = [];
    try { loadConfig({ path: p, env: {} }); } catch (e) { if (e instanceof ConfigError) problems = e.problems; else throw e; }
    expect(problems).toEqual([
      'channels[0].models.m: written twice (lines 4 and 4); the second would silently replace the first',
      'channels[0].name: written twice (lines 3 and 4); the second would silently replace the first',
    ]);
  });

  test('YAML: in block and flow mappings, inside sequences, quoted or not', () => {
    expect(yamlDups('a: 1\nb:\n  c: 1\n  "c": 2\n')).toEqual([{ path: 'b.c', line: 4, firstLine: 3 }]);
    expect(yamlDups('channels:\n- name: a\n  models: { x: y, \'x\': z }\n')).toEqual([{ path: 'channels[0].models.x', line: 3, firstLine: 3 }]);
    expect(yamlDups('channels:\n  - name: a\n    type: x\n  - name: b\n    # note\n    name: c\n')).toEqual([{ path: 'channels[1].name', line: 6, firstLine: 4 }]);
    expect(yamlDups('k: {\n  a: 1,\n  a: 2 }\n')).toEqual([{ path: 'k.a', line: 3, firstLine: 2 }]);
  });

  test('YAML with no duplicates: nothing reported (block scalars, anchors, comments, quotes, URLs, empty values)', () => {
    const docs = [
      '',
      '# only a comment\n',
      '---\nchannels: []\n...\n',
      'a: |\n  name: x\n  name: y\nb: >-\n  folded\n  text\nname: z\n',
      'headers: &h { x-a: "1" }\nport: &p 8080\nother: *p\nurl: http://127.0.0.1:8080/v1 # trailing comment\nempty:\nq: \'it\'\'s\'\n',
      'list:\n- a\n- b: 1\n  c: 2\n-\n  - nested\nx: "a # not a comment"\n',
      'models: [a, "b", {c: d}]\nlong: this is\n  one plain scalar\n  over lines\n',
    ];
    for (const d of docs) {
      expect(yamlDups(d)).toEqual([]);
      // and each was read to its end, not given up on: a duplicate appended to it is found
      if (!d.includes('...')) expect(yamlDups(`${d}zz: 1\nzz: 2\n`)).toEqual([{ path: 'zz', line: d.split('\n').length + 1, firstLine: d.split('\n').length }]);
    }
  });

  test("YAML it cannot read for sure is loaded unchecked, as before (merge keys, '? ' keys, an alias for a mapping)", () => {
    expect(yamlDups('base: &b { a: 1 }\nc:\n  <<: *b\n  a: 2\n')).toEqual([]); // not a duplicate: merged keys give way
    expect(yamlDups('? a\n: 1\nb: 2\nb: 3\n')).toEqual([]);
    expect(yamlDups('h: &h { a: 1 }\nother: *h\nb: 2\nb: 3\n')).toEqual([]); // an alias standing for a mapping
  });

  test("README's YAML examples have no duplicates", () => {
    const readme = readFileSync(resolve(import.meta.dir, '../../../README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(0);
    for (const b of blocks) expect(yamlDups(b)).toEqual([]);
  });

  test('JSON with no duplicates, and the same key in different objects', () => {
    expect(jsonDuplicateKeys('{"a": {"x": 1}, "b": {"x": [1, {"x": "\\"x\\""}]}, "c": []}')).toEqual([]);
    expect(jsonDuplicateKeys('[1, "two", null, {}]')).toEqual([]);
  });
});
