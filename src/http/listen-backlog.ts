/**
 * @module http/listen-backlog
 * A longer queue of connections waiting to be accepted than Bun.serve asks for. Bun 1.4.5 listens with a backlog
 * of 512 and takes no option for it, so when more than 512 clients connect between two turns of the event loop
 * (a thousand clients reconnecting at once after a restart, a burst of new streams) the kernel drops the rest: a
 * dropped SYN is sent again after 1 s, a dropped handshake's last packet after ~200 ms, and those clients wait that
 * long for their first byte (bench/: `open-streams-1000`, `nstat` ListenOverflows and TCPSynRetrans).
 *
 * On Linux, calling listen() again on a listening socket sets its backlog (the kernel caps it at
 * `net.core.somaxconn`, 4096 by default). The socket is found among this process's own descriptors
 * (/proc/self/fd): a socket that is listening (`SO_ACCEPTCONN`) on that port (`getsockname`), asked through bun:ffi
 * as listen() is called. Not through /proc/self/net/tcp{,6}, which list every socket of the network namespace: on a
 * host that has served many connections they run to megabytes (14,000 sockets in TIME_WAIT: a 2.2 MB tcp6 table,
 * 20-70 ms to read), and that was start-up time. Anywhere else, or if any step fails, nothing changes and the
 * reason is returned: the server works as before, with Bun's 512.
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
    const libc = libcSockets();
    const fds = listeningFds(port, libc);
    if (fds.length === 0) return kept(`no socket of this process listens on port ${port}`);
    for (const fd of fds) if (libc.listen(fd, backlog) !== 0) return kept(`listen(${fd}, ${backlog}) failed`);
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

/** The socket calls used here, from the C library. */
interface LibcSockets {
  listen(fd: number, backlog: number): number;
  /** 1: the socket listens; 0: it does not; null: not a socket (or the call failed). */
  listening(fd: number): 0 | 1 | null;
  /** The local port of an IPv4 or IPv6 socket, else null. */
  localPort(fd: number): number | null;
}

/** This process's descriptors that are sockets listening on `port` (IPv4 and IPv6). */
function listeningFds(port: number, libc: LibcSockets): number[] {
  const fds: number[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    let target: string;
    try { target = readlinkSync(`/proc/self/fd/${name}`); } catch { continue; } // closed meanwhile
    if (!target.startsWith('socket:[')) continue;
    const fd = Number(name);
    // a connection accepted on that port has it as its local port too: only the listening socket is set again
    if (libc.listening(fd) === 1 && libc.localPort(fd) === port) fds.push(fd);
  }
  return fds;
}

// Linux's numbers (the generic ones: x86-64 and arm64 alike)
const SOL_SOCKET = 1;
const SO_ACCEPTCONN = 30;
const AF_INET = 2;
const AF_INET6 = 10;

function libcSockets(): LibcSockets {
  // loaded only here, on Linux: bun:ffi is not needed anywhere else
  const { dlopen, FFIType } = require('bun:ffi') as typeof import('bun:ffi');
  const { i32, ptr } = FFIType;
  const symbols = {
    listen: { args: [i32, i32], returns: i32 },
    getsockopt: { args: [i32, i32, i32, ptr, ptr], returns: i32 },
    getsockname: { args: [i32, ptr, ptr], returns: i32 },
  } as const;
  let failure: unknown;
  // glibc's name, then the one musl's loader answers to (Alpine)
  for (const name of ['libc.so.6', 'libc.so']) {
    let lib: ReturnType<typeof dlopen<typeof symbols>>;
    try {
      lib = dlopen(name, symbols);
    } catch (err) {
      failure = err;
      continue;
    }
    const c = lib.symbols;
    const value = new Int32Array(1);
    const address = new Uint8Array(128); // a sockaddr_storage
    const length = new Uint32Array(1);
    return {
      listen: (fd, backlog) => c.listen(fd, backlog) as number,
      listening(fd) {
        length[0] = 4;
        if (c.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, value, length) !== 0) return null;
        return value[0] === 0 ? 0 : 1;
      },
      localPort(fd) {
        length[0] = address.length;
        if (c.getsockname(fd, address, length) !== 0) return null;
        const family = address[0]! | (address[1]! << 8); // sa_family_t, in the machine's order (little-endian)
        if (family !== AF_INET && family !== AF_INET6) return null;
        return (address[2]! << 8) | address[3]!; // sin_port / sin6_port, in network order
      },
    };
  }
  throw failure;
}
