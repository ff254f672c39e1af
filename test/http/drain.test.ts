/**
 * Contract §8, SIGTERM, in process: "every answer from then on carries Connection: close",
 * including the answer to a request that was already in flight when the drain began.
 */
import http from 'node:http';
import net from 'node:net';
import { ConnectionTracker, drain } from '../../src/http/shutdown';
import { buildTestGateway, type TestGateway } from '../helpers/app';

let gw: TestGateway;
beforeEach(async () => {
  gw = await buildTestGateway();
});
afterEach(() => gw.close());

/** Sends raw bytes on one connection and collects what comes back. */
function rawClient(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const answer = async () => {
    for (let i = 0; i < 200 && !/\r\n\r\n[\s\S]*\}$/.test(received); i++) await new Promise((r) => setTimeout(r, 10));
    return received;
  };
  return { socket, connected, closed, answer };
}

test('a request in flight when the drain begins is answered with Connection: close, then its connection ends', async () => {
  const server = http.createServer(gw.app);
  const tracker = new ConnectionTracker(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  try {
    const body = JSON.stringify({ data: { apiKey: 'ak_unknown', authToken: 'at_unknown', userId: 'u', userProperties: { organizationId: 'o' } } });
    const client = rawClient(port);
    await client.connected;
    // Headers and half the body: the request is in flight, its answer not yet written.
    client.socket.write(
      `POST /v1/auth/token/get HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    );
    await new Promise((r) => setTimeout(r, 50));
    const drained = drain(server, tracker, gw.context.lifecycle, 5000);
    client.socket.write(body.slice(10));
    const answer = await client.answer();
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer.toLowerCase()).toContain('\r\nconnection: close\r\n');
    await client.closed;
    expect(await drained).toBe(true);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
