/**
 * @module test/helpers/browser
 * A fetch that keeps the CORS rules a browser keeps (the Fetch standard, https://fetch.spec.whatwg.org/#http-cors-protocol),
 * to drive an SDK as a web page of `origin` would (absent: the `Origin` each request names, as an SDK's `defaultHeaders`
 * can set it, standing for the page's): the headers a page may not set are dropped and its `Origin` set; a
 * request a page may not send on its own (a method other than GET/HEAD/POST, or a header outside the safelist: a key
 * always is) is asked for first with a preflight; it fails as a browser's fetch fails (a TypeError, nothing read) unless
 * the preflight and the answer allow the origin; and the answer's headers are cut to those the page may read.
 * Credentials mode "same-origin" (fetch's default, what the SDKs use): no cookies, `*` is a wildcard.
 */

/** Set by the browser, never by the page (https://fetch.spec.whatwg.org/#forbidden-request-header; User-Agent too, as browsers keep it). */
const FORBIDDEN = new Set([
  'accept-charset', 'accept-encoding', 'access-control-request-headers', 'access-control-request-method', 'connection',
  'content-length', 'cookie', 'cookie2', 'date', 'dnt', 'expect', 'host', 'keep-alive', 'origin', 'referer', 'te',
  'trailer', 'transfer-encoding', 'upgrade', 'via', 'user-agent',
]);
const SIMPLE_METHODS = new Set(['GET', 'HEAD', 'POST']);
const SIMPLE_CONTENT_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);
/** https://fetch.spec.whatwg.org/#cors-safelisted-response-header-name */
const SAFELISTED_RESPONSE = new Set(['cache-control', 'content-language', 'content-length', 'content-type', 'expires', 'last-modified', 'pragma']);

function safelisted(name: string, value: string): boolean {
  if (name === 'accept' || name === 'accept-language' || name === 'content-language') return true;
  return name === 'content-type' && SIMPLE_CONTENT_TYPES.has(value.split(';')[0]!.trim().toLowerCase());
}

const list = (h: string | null) => (h ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);

/** The page's answer is opaque to it: a browser's fetch rejects with a TypeError and says why only in the console. */
class CorsFailure extends TypeError {
  constructor(readonly why: string) { super('Failed to fetch'); }
}

export interface BrowserFetch {
  fetch: typeof fetch;
  /** The preflights sent, and what each was answered. */
  preflights: { url: string; requestHeaders: string; status: number }[];
  /** Why the last request failed, when it did. */
  lastFailure: string | null;
}

export function browserFetch(pageOrigin?: string): BrowserFetch {
  const state: BrowserFetch = { fetch: undefined as never, preflights: [], lastFailure: null };
  const run = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const req = input instanceof Request ? new Request(input, init) : new Request(input.toString(), init);
    const origin = pageOrigin ?? req.headers.get('origin');
    if (origin === null) throw new Error('browserFetch: no origin for the page');
    const headers = new Headers();
    for (const [name, value] of req.headers) if (!FORBIDDEN.has(name) && !name.startsWith('sec-') && !name.startsWith('proxy-')) headers.set(name, value);
    const unsafe = [...headers].filter(([n, v]) => !safelisted(n, v)).map(([n]) => n).sort();
    const allowsOrigin = (res: Response) => {
      const allowed = res.headers.get('access-control-allow-origin');
      return allowed === '*' || allowed === origin;
    };
    if (!SIMPLE_METHODS.has(req.method) || unsafe.length > 0) {
      const pre = new Headers({ origin, 'access-control-request-method': req.method });
      if (unsafe.length) pre.set('access-control-request-headers', unsafe.join(','));
      const answer = await fetch(req.url, { method: 'OPTIONS', headers: pre, signal: req.signal });
      await answer.arrayBuffer();
      state.preflights.push({ url: req.url, requestHeaders: unsafe.join(','), status: answer.status });
      if (answer.status < 200 || answer.status > 299) throw failed(`preflight answered ${answer.status}`);
      if (!allowsOrigin(answer)) throw failed('preflight: origin not allowed');
      const methods = list(answer.headers.get('access-control-allow-methods'));
      if (!SIMPLE_METHODS.has(req.method) && !methods.includes(req.method.toLowerCase()) && !methods.includes('*')) throw failed(`preflight: method ${req.method} not allowed`);
      const allowedHeaders = list(answer.headers.get('access-control-allow-headers'));
      for (const n of unsafe) {
        // `*` covers every header but Authorization, which must be named
        if (!allowedHeaders.includes(n) && !(allowedHeaders.includes('*') && n !== 'authorization')) throw failed(`preflight: header ${n} not allowed`);
      }
    }
    headers.set('origin', origin);
    const body = req.body === null ? undefined : await req.arrayBuffer();
    const res = await fetch(req.url, { method: req.method, headers, body, signal: req.signal, redirect: 'manual' });
    if (!allowsOrigin(res)) {
      await res.body?.cancel();
      throw failed('answer: origin not allowed');
    }
    const exposed = list(res.headers.get('access-control-expose-headers'));
    const readable = new Headers();
    for (const [name, value] of res.headers) {
      if (SAFELISTED_RESPONSE.has(name) || exposed.includes(name) || (exposed.includes('*') && name !== 'set-cookie')) readable.append(name, value);
    }
    state.lastFailure = null;
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers: readable });
  };
  const failed = (why: string) => {
    state.lastFailure = why;
    return new CorsFailure(why);
  };
  state.fetch = run as typeof fetch;
  return state;
}
