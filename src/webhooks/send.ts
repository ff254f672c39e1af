/**
 * One delivery attempt over the network, with the SSRF rules of contract §10 applied to the
 * connection itself: the host is resolved here, once; every address it resolves to must be
 * global; the connection goes to the address that was checked (no second lookup a DNS answer
 * could change in between); redirects are never followed (a 3xx is the attempt's status).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { hostOf, isGlobalAddress } from './address';

export type SendError = 'timeout' | 'connect_failed' | 'blocked_address';

/** The receiver's HTTP status, or why there is none. */
export type SendOutcome = { status: number } | { error: SendError };

/** Resolves a name to its addresses (node's resolver by default; tests pass their own). */
export type Resolver = (host: string) => Promise<string[]>;

export const systemResolver: Resolver = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

export interface SendOptions {
  /** Lifts the https and address rules (WEBHOOK_ALLOW_INSECURE, development and tests only). */
  allowInsecure: boolean;
  /** The whole attempt, lookup included, ms. */
  timeoutMs: number;
  resolve?: Resolver;
}

export interface OutgoingWebhook {
  url: string;
  headers: Record<string, string>;
  body: string;
}

class Timeout extends Error {}

function withDeadline<T>(work: Promise<T>, deadline: Promise<never>): Promise<T> {
  return Promise.race([work, deadline]);
}

export async function sendWebhook(message: OutgoingWebhook, options: SendOptions): Promise<SendOutcome> {
  let url: URL;
  try {
    url = new URL(message.url);
  } catch {
    return { error: 'connect_failed' };
  }
  const secure = url.protocol === 'https:';
  if (!secure && !(options.allowInsecure && url.protocol === 'http:')) return { error: 'blocked_address' };

  // Ends whatever is still open when the attempt is over (a timeout included).
  const connection = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout()), options.timeoutMs);
  });
  deadline.catch(() => undefined);
  try {
    const host = hostOf(url);
    let addresses: string[];
    if (isIP(host) !== 0) {
      addresses = [host];
    } else {
      try {
        addresses = await withDeadline((options.resolve ?? systemResolver)(host), deadline);
      } catch (error) {
        if (error instanceof Timeout) throw error;
        return { error: 'connect_failed' };
      }
    }
    if (addresses.length === 0) return { error: 'connect_failed' };
    // One bad address refuses the name: a rebinding answer mixes a public and a private one.
    if (!options.allowInsecure && !addresses.every(isGlobalAddress)) return { error: 'blocked_address' };
    return await withDeadline(post(url, addresses[0]!, message, secure, connection.signal), deadline);
  } catch (error) {
    if (error instanceof Timeout) return { error: 'timeout' };
    return { error: 'connect_failed' };
  } finally {
    clearTimeout(timer);
    connection.abort();
  }
}

/** POSTs to `address` (already checked), naming the URL's host for HTTP and TLS. */
function post(url: URL, address: string, message: OutgoingWebhook, secure: boolean, signal: AbortSignal): Promise<SendOutcome> {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(message.body, 'utf8');
    const request = (secure ? https : http).request({
      host: address,
      port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      agent: false,
      signal,
      ...(secure && isIP(hostOf(url)) === 0 ? { servername: hostOf(url) } : {}),
      headers: {
        ...message.headers,
        host: url.host,
        'content-type': 'application/json',
        'content-length': String(body.length),
        'user-agent': 'token-gateway-webhooks',
      },
    });
    request.once('response', (response) => {
      // Only the status matters; the body is not read.
      resolve({ status: response.statusCode ?? 0 });
      response.destroy();
      request.destroy();
    });
    request.on('error', reject);
    request.end(body);
  });
}
