/**
 * @module test/helpers/process
 * Real Switchboard processes (`bun src/main.ts`, or the compiled binary) for start-up, config and shutdown tests.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';

export const MAIN = resolve(import.meta.dir, '../../src/main.ts');

export function writeConfig(obj: unknown, ext = 'json'): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-proc-'));
  const p = join(dir, `config.${ext}`);
  writeFileSync(p, typeof obj === 'string' ? obj : JSON.stringify(obj));
  return p;
}

export interface RunningGateway {
  proc: ReturnType<typeof Bun.spawn>;
  url: string;
  lines: any[];
  exited: Promise<number>;
}

/** Start a gateway process and wait for its "listening" line. */
export async function spawnGateway(args: string[], env: Record<string, string> = {}, cmd: string[] = [process.execPath, MAIN]): Promise<RunningGateway> {
  const proc = Bun.spawn([...cmd, ...args], { stdout: 'pipe', stderr: 'pipe', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env } });
  const lines: any[] = [];
  let url = '';
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let buf = '';
  const ready = (async () => {
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      buf += dec.decode(r.value, { stream: true });
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const o = JSON.parse(line);
          lines.push(o);
          if (o.msg === 'listening') url = o.url.replace(/\/$/, '');
        } catch { lines.push(line); }
      }
    }
  })();
  const deadline = Date.now() + 10_000;
  while (!url) {
    if (Date.now() > deadline || proc.exitCode !== null) {
      const err = await new Response(proc.stderr as ReadableStream).text();
      proc.kill();
      throw new Error(`gateway did not start: ${err}`);
    }
    await Bun.sleep(10);
  }
  void ready;
  return { proc, url, lines, exited: proc.exited };
}

export async function runToExit(args: string[], env: Record<string, string> = {}, cmd: string[] = [process.execPath, MAIN]) {
  const proc = Bun.spawn([...cmd, ...args], { stdout: 'pipe', stderr: 'pipe', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env } });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}
