/**
 * @module util/origin
 * Host names and web origins: which are this machine's own (http/auth.ts lets them in when no keys are configured), and
 * whether a configured origin is written as a browser sends it in `Origin` (RFC 6454 §6.1, the origin serialized:
 * https://www.rfc-editor.org/rfc/rfc6454#section-6.1), since it is compared with that header as a string.
 */

/** `localhost`, `127.x.x.x` or `[::1]`, with a port or without. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  const name = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d*$/, '');
  return name === 'localhost' || name === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/**
 * Why `host` cannot be a listen address (null: it can): a host name, an IPv4 address or an IPv6 one (bracketed or
 * not), without a scheme or a port. Bun's own refusal of such a value names the wrong thing ("ENOTFOUND
 * localhost:8080", "ENOTTY"), and with no keys configured it was refused as a non-loopback address instead.
 */
export function listenHostProblem(host: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host)) return 'a host name or address, not a URL (write 127.0.0.1, not http://127.0.0.1)';
  if (/\s/.test(host)) return 'a host name or address cannot hold spaces';
  if (/^(?:[^:[\]]+|\[[^\]]*\]):\d*$/.test(host)) return 'without a port: the port is server.port (or --port)';
  // IPv6, bracketed or not, with a zone (`fe80::1%eth0`) or not
  const ipv6 = host.startsWith('[') ? /^\[([^\]]*)\]$/.exec(host)?.[1] ?? '' : host.includes(':') ? host : undefined;
  if (ipv6 !== undefined) return /^[0-9a-f:.]*:[0-9a-f:.]*(%[\w.-]+)?$/i.test(ipv6) ? null : 'not a valid IPv6 address';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) return host.split('.').every((o) => Number(o) <= 255) ? null : 'not a valid IPv4 address';
  // labels of letters, digits, `-` and `_` (Docker's service names have underscores, and its resolver answers them)
  return /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/i.test(host) ? null : 'not a host name or an IP address';
}

/** `http(s)://` and a loopback host: a page served from this machine. */
export function isLoopbackOrigin(origin: string): boolean {
  const m = /^https?:\/\/([^/]+)$/i.exec(origin);
  return m !== null && isLoopbackHost(m[1]!);
}

/**
 * Why `origin` is not one a browser would send (null: it is one). `scheme://host[:port]`: lower case, no path or
 * trailing slash, and, for http and https, no default port and the host as the URL parser writes it (punycode).
 * Other schemes (`chrome-extension://…`, `moz-extension://…`) are taken as written.
 */
export function originProblem(origin: string): string | null {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^\s/?#@\\]+)$/.exec(origin);
  let serialized: string | null = null;
  try {
    const u = new URL(origin);
    if (u.origin !== 'null') serialized = u.origin;
  } catch { /* not a URL at all */ }
  if (m && (serialized === origin || (m[1] !== 'http' && m[1] !== 'https' && origin === origin.toLowerCase()))) return null;
  const hint = serialized && serialized !== origin ? `: did you mean "${serialized}"?` : ', e.g. "https://app.example.com"';
  return `"${origin.slice(0, 200)}" is not an origin as a browser sends it (scheme://host[:port] in lower case, no path or trailing slash, no default port)${hint}`;
}
