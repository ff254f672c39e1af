/**
 * A real webhook receiver for tests: an HTTP server on loopback that checks every request with
 * the `standardwebhooks` reference verifier and records it. `answer` decides each reply from the
 * request's number (1-based): a status, or 'hang' to never answer.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  id: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The payload, when the signature verified; undefined when it did not. */
  verified: { type: string; timestamp: string; data: Record<string, unknown> } | undefined;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  received: ReceivedWebhook[];
  /** The verified payloads, one per webhook-id (duplicates folded, as a receiver would). */
  unique(): Map<string, NonNullable<ReceivedWebhook['verified']>>;
  /** The secret to verify with, once the endpoint is registered. */
  secret: string | undefined;
  answer: (n: number, request: http.IncomingMessage) => number | 'hang' | { redirect: string };
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(path = '/hooks'): Promise<WebhookReceiver> {
  const sockets = new Set<import('node:net').Socket>();
  const receiver: WebhookReceiver = {
    url: '',
    port: 0,
    received: [],
    secret: undefined,
    answer: () => 204,
    unique() {
      const map = new Map<string, NonNullable<ReceivedWebhook['verified']>>();
      for (const r of receiver.received) if (r.verified && !map.has(r.id)) map.set(r.id, r.verified);
      return map;
    },
    async waitFor(count, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (receiver.received.length < count) {
        if (Date.now() > until) throw new Error(`the receiver got ${receiver.received.length} of ${count} requests`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      let verified: ReceivedWebhook['verified'];
      try {
        verified = receiver.secret === undefined ? undefined : (new Webhook(receiver.secret).verify(body, req.headers as Record<string, string>) as ReceivedWebhook['verified']);
      } catch {
        verified = undefined;
      }
      receiver.received.push({ id: String(req.headers['webhook-id']), headers: req.headers, body, verified });
      const answer = receiver.answer(receiver.received.length, req);
      if (answer === 'hang') return;
      if (typeof answer === 'object') {
        res.writeHead(302, { Location: answer.redirect }).end();
        return;
      }
      res.writeHead(answer).end();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}${path}`;
  return receiver;
}
