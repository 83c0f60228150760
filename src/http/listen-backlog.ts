/**
 * @module http/listen-backlog
 * A longer queue of connections waiting to be accepted than Bun.serve asks for. Bun 1.4.5 listens with a backlog
 * of 512 and takes no option for it, so when more than 512 clients connect between two turns of the event loop
 * (a thousand clients reconnecting at once after a restart, a burst of new streams) the kernel drops the rest: a
 * dropped SYN is sent again after 1 s, a dropped handshake's last packet after ~200 ms, and those clients wait that
 * long for their first byte (bench/: `open-streams-1000`, `nstat` ListenOverflows and TCPSynRetrans).
 *
 * On Linux, calling listen() again on a listening socket sets its backlog (the kernel caps it at
 * `net.core.somaxconn`, 4096 by default). The socket is found by its address in /proc/self/net/tcp{,6} and its
 * inode among /proc/self/fd; listen() is called through bun:ffi. Anywhere else, or if any step fails, nothing
 * changes and the reason is returned: the server works as before, with Bun's 512.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The backlog Bun.serve listens with (Bun 1.4.5: fixed, no option). */
export const BUN_BACKLOG = 512;

/** The queue now in force (what was asked, capped by somaxconn as the kernel caps it); `skipped`: why Bun's was kept. */
export interface BacklogResult { backlog: number; skipped?: string }

/** Sets the listen queue of this process's socket on `port` to `backlog`; 0 keeps Bun's. */
export function widenListenBacklog(port: number, backlog: number): BacklogResult {
  const kept = (skipped?: string): BacklogResult => ({ backlog: inForce(BUN_BACKLOG), ...(skipped === undefined ? {} : { skipped }) });
  if (backlog === 0) return kept();
  if (process.platform !== 'linux') return kept(`not on Linux (${process.platform})`);
  try {
    const inodes = listeningInodes(port);
    if (inodes.size === 0) return kept(`no listening socket on port ${port} in /proc/self/net`);
    const fds = socketFds(inodes);
    if (fds.length === 0) return kept(`the listening socket on port ${port} is not among /proc/self/fd`);
    const listen = libcListen();
    for (const fd of fds) if (listen(fd, backlog) !== 0) return kept(`listen(${fd}, ${backlog}) failed`);
    return { backlog: inForce(backlog) };
  } catch (err) {
    return kept((err as Error)?.message ?? String(err));
  }
}

/** A backlog as the kernel applies it: capped at somaxconn, where that can be read (Linux). */
function inForce(backlog: number): number {
  return Math.min(backlog, somaxconn() ?? backlog);
}

/** The kernel's cap on any listen queue (`net.core.somaxconn`: 4096 since Linux 5.4, 128 before), if readable. */
function somaxconn(): number | null {
  try {
    const n = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/**
 * Inodes of the TCP sockets listening on `port` in this network namespace (IPv4 and IPv6): any process's, which
 * socketFds narrows down to this one's.
 */
function listeningInodes(port: number): Set<string> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text: string;
    try { text = readFileSync(table, 'utf8'); } catch { continue; } // no IPv6 in this kernel
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A' /* LISTEN */) continue;
      if (f[1]!.slice(f[1]!.lastIndexOf(':') + 1) === hexPort) inodes.add(f[9]!);
    }
  }
  return inodes;
}

/** This process's file descriptors that are those sockets. */
function socketFds(inodes: Set<string>): number[] {
  const fds: number[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    let target: string;
    try { target = readlinkSync(`/proc/self/fd/${name}`); } catch { continue; } // closed meanwhile
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m && inodes.has(m[1]!)) fds.push(Number(name));
  }
  return fds;
}

function libcListen(): (fd: number, backlog: number) => number {
  // loaded only here, on Linux: bun:ffi is not needed anywhere else
  const { dlopen, FFIType } = require('bun:ffi') as typeof import('bun:ffi');
  const symbols = { listen: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } } as const;
  let failure: unknown;
  // glibc's name, then the one musl's loader answers to (Alpine)
  for (const name of ['libc.so.6', 'libc.so']) {
    try {
      const lib = dlopen(name, symbols);
      return (fd, backlog) => lib.symbols.listen(fd, backlog) as number;
    } catch (err) {
      failure = err;
    }
  }
  throw failure;
}
