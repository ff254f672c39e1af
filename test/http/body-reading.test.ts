/**
 * Reading request bodies (contract §8) on a real socket: a Content-Encoding other than identity
 * is 415 and nothing is inflated; a body over BODY_LIMIT is 413 whether its length is declared
 * or it arrives chunked; a declared length that is not met is 400; no body at all is a missing
 * field. After each refusal the same keep-alive connection answers the next request, so the
 * rest of the refused body was read off and dropped.
 */
import http from 'node:http';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { basicAuth, buildTestGateway, type TestAccount, type TestGateway } from '../helpers/app';

interface RawAnswer {
  status: number;
  body: string;
}

/** One connection; `send` writes raw bytes and resolves with the next full answer. */
function connection(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  let buffer = Buffer.alloc(0);
  let waiting: ((answer: RawAnswer) => void) | undefined;
  const tryParse = () => {
    const end = buffer.indexOf('\r\n\r\n');
    if (end < 0 || !waiting) return;
    const head = buffer.subarray(0, end).toString('latin1');
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    if (buffer.length < end + 4 + length) return;
    const body = buffer.subarray(end + 4, end + 4 + length).toString('utf8');
    buffer = buffer.subarray(end + 4 + length);
    const resolve = waiting;
    waiting = undefined;
    resolve({ status: Number(head.slice(9, 12)), body });
  };
  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    tryParse();
  });
  return {
    send(bytes: Buffer | string): Promise<RawAnswer> {
      return new Promise((resolve) => {
        waiting = resolve;
        socket.write(bytes);
        tryParse();
      });
    },
    write(bytes: Buffer | string) {
      socket.write(bytes);
    },
    next(): Promise<RawAnswer> {
      return new Promise((resolve) => {
        waiting = resolve;
        tryParse();
      });
    },
    close: () => socket.destroy(),
    closed: () => socket.destroyed || socket.readyState === 'closed',
  };
}

describe('reading request bodies', () => {
  let gw: TestGateway;
  let account: TestAccount;
  let token: string;
  let server: http.Server;
  let port: number;
  beforeAll(async () => {
    gw = await buildTestGateway({ env: { BODY_LIMIT: '2kb' } });
    account = await gw.createAccount();
    ({ token } = await gw.issue(account));
    server = http.createServer(gw.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await gw.close();
  });

  const introspect = (headers: Record<string, string>, body: Buffer | string = ''): string =>
    `POST /v1/auth/token/introspect HTTP/1.1\r\nHost: x\r\nAuthorization: ${basicAuth(account)}\r\n` +
    Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('') +
    `\r\n${body}`;
  const good = () => {
    const body = `token=${encodeURIComponent(token)}`;
    return introspect({ 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(body.length) }, body);
  };

  it('answers a plain form body, twice on one connection', async () => {
    const c = connection(port);
    expect(await c.send(good())).toMatchObject({ status: 200, body: expect.stringContaining('"active":true') });
    expect(await c.send(good())).toMatchObject({ status: 200 });
    c.close();
  });

  it('refuses a gzip body with 415 without inflating it, and the connection goes on', async () => {
    const c = connection(port);
    const gz = gzipSync(`token=${encodeURIComponent(token)}`);
    const head = introspect({ 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Encoding': 'gzip', 'Content-Length': String(gz.length) });
    const answer = await c.send(Buffer.concat([Buffer.from(head), gz]));
    expect(answer.status).toBe(415);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'unsupported_media_type' });
    expect((await c.send(good())).status).toBe(200);
    c.close();
  });

  it('refuses a declared length over the limit with 413, and the connection goes on', async () => {
    const c = connection(port);
    const big = 'x'.repeat(3000);
    const answer = await c.send(introspect({ 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(big.length) }, big));
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'payload_too_large' });
    expect((await c.send(good())).status).toBe(200);
    c.close();
  });

  it('refuses a chunked body that grows over the limit with 413', async () => {
    const c = connection(port);
    const chunk = 'x'.repeat(1000);
    const chunks = [chunk, chunk, chunk].map((x) => `${x.length.toString(16)}\r\n${x}\r\n`).join('') + '0\r\n\r\n';
    const answer = await c.send(introspect({ 'Content-Type': 'application/x-www-form-urlencoded', 'Transfer-Encoding': 'chunked' }, chunks));
    expect(answer.status).toBe(413);
    c.close();
  });

  it('reads a chunked body within the limit', async () => {
    const c = connection(port);
    const body = `token=${encodeURIComponent(token)}`;
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    expect((await c.send(introspect({ 'Content-Type': 'application/x-www-form-urlencoded', 'Transfer-Encoding': 'chunked' }, chunked))).status).toBe(200);
    c.close();
  });

  it('treats a request with no body as one without the token (400), and goes on', async () => {
    const c = connection(port);
    const answer = await c.send(introspect({ 'Content-Type': 'application/x-www-form-urlencoded' }));
    expect(answer.status).toBe(400);
    expect((await c.send(good())).status).toBe(200);
    c.close();
  });

  it('survives a client that stops before its declared length (nothing answered, nothing broken)', async () => {
    const c = connection(port);
    c.write(introspect({ 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': '500' }, 'token=abc'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    c.close();
    const again = connection(port);
    expect((await again.send(good())).status).toBe(200);
    again.close();
  });
});
