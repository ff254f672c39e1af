/**
 * Tracing end to end (contract §9), with third-party software on both sides of the gateway:
 * a client sends a W3C traceparent to the real nginx sidecar (deploy/nginx template), nginx's
 * auth_request subrequest passes it to the real gateway process (`node dist/server.js`, Redis
 * store, tracing on through OTEL_* only), and the gateway exports its spans over OTLP/HTTP to a
 * receiver this test runs on loopback, which decodes them (protobuf and JSON). The spans must
 * join the client's trace. Debian's nginx has no tracing module: the trace starts at the
 * client and nginx passes the header on.
 */
import { createHash } from 'node:crypto';
import { ProtobufTraceSerializer, JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ADMIN_TOKEN } from '../helpers/app';
import { makeKeysDir } from '../helpers/keys';
import { OTLP_SPAN_KIND, OTLP_STATUS_ERROR, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver';
import { deletePrefix, NO_REDIS_REASON, rawRedis, testRedisUrl, uniquePrefix } from '../helpers/redis';
import { describeIf } from '../helpers/skip';
import { freePort } from '../setup/redis-server';
import { nginxForTests, send, startNginx, startRecordingUpstream, type RecordingUpstream, type RunningNginx } from './harness';
import { ensureBuilt, spawnGateway, type GatewayProcess } from './process';

describe('the test receiver decodes what the OpenTelemetry SDK encodes', () => {
  test.each(['http/protobuf', 'http/json'])('%s', async (protocol) => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('decoder-check');
    const parent = tracer.startSpan('parent', { kind: 1, attributes: { 'a.string': 'x', 'a.number': 42, 'a.flag': true } });
    parent.end();
    const [span] = exporter.getFinishedSpans();
    const receiver = await startOtlpReceiver();
    try {
      const json = protocol === 'http/json';
      const body = json ? JsonTraceSerializer.serializeRequest([span!]) : ProtobufTraceSerializer.serializeRequest([span!]);
      const res = await fetch(`${receiver.url}/v1/traces`, {
        method: 'POST',
        headers: { 'Content-Type': json ? 'application/json' : 'application/x-protobuf' },
        body: Buffer.from(body!),
      });
      expect(res.status).toBe(200);
      expect(receiver.spans).toEqual([
        expect.objectContaining({
          traceId: span!.spanContext().traceId,
          spanId: span!.spanContext().spanId,
          parentSpanId: '',
          name: 'parent',
          kind: OTLP_SPAN_KIND.SERVER,
          attributes: { 'a.string': 'x', 'a.number': 42, 'a.flag': true },
          scope: 'decoder-check',
        }),
      ]);
    } finally {
      await receiver.close();
      await provider.shutdown();
    }
  });
});

const nginxBinary = nginxForTests();
const redisUrl = testRedisUrl();
const describeEndToEnd = nginxBinary ? describeIf(Boolean(redisUrl), `OTLP through nginx: ${NO_REDIS_REASON}`) : describe.skip;

describeEndToEnd.each(['http/protobuf', 'http/json'])('traceparent through the nginx sidecar into the gateway, exported as %s', (protocol) => {
  const prefix = uniquePrefix();
  let receiver: OtlpReceiver;
  let upstream: RecordingUpstream;
  let gateway: GatewayProcess;
  let nginx: RunningNginx;
  let account: { apiKey: string; authToken: string };

  const traceparent = (traceId: string, spanId: string) => `00-${traceId}-${spanId}-01`;
  const randomHex = (bytes: number) => createHash('sha256').update(`${Math.random()}${Date.now()}`).digest('hex').slice(0, bytes * 2);

  async function issue(headers: Record<string, string> = {}): Promise<string> {
    const res = await send({
      port: gateway.port,
      path: '/v1/auth/token/get',
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify({ data: { ...account, userId: 'user-1', userProperties: { organizationId: 'org-1' } } }),
    });
    expect(res.status).toBe(200);
    return JSON.parse(res.body).result.data.token as string;
  }

  beforeAll(async () => {
    ensureBuilt();
    receiver = await startOtlpReceiver();
    upstream = await startRecordingUpstream();
    gateway = await spawnGateway({
      PORT: String(await freePort()),
      KEYS_DIR: makeKeysDir(),
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      ADMIN_TOKEN,
      JWT_ISSUER: 'https://gateway.test',
      LOG_LEVEL: 'info',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      OTEL_SERVICE_NAME: 'token-gateway-e2e',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    const created = await send({
      port: gateway.port,
      path: '/v1/admin/accounts',
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ data: { name: 'Traced' } }),
    });
    expect(created.status).toBe(201);
    const { result } = JSON.parse(created.body);
    account = { apiKey: result.data.account.apiKey, authToken: result.data.authToken };
    nginx = await startNginx(nginxBinary!, {
      port: await freePort(),
      gatewayAddr: `127.0.0.1:${gateway.port}`,
      appAddr: `127.0.0.1:${upstream.port}`,
      apiKey: account.apiKey,
    });
  }, 60_000);

  afterAll(async () => {
    await nginx?.stop();
    if (gateway) {
      gateway.kill('SIGTERM');
      await gateway.exited;
    }
    await upstream?.close();
    await receiver?.close();
    if (redisUrl) {
      const redis = rawRedis();
      await deletePrefix(redis, prefix);
      redis.disconnect();
    }
  }, 30_000);

  it("a client's traceparent reaches the gateway through auth_request, and the gateway's spans join that trace", async () => {
    const token = await issue();
    const traceId = randomHex(16);
    const clientSpanId = randomHex(8);
    const res = await send({
      port: nginx.port,
      path: '/documents/1',
      headers: { Authorization: `Bearer ${token}`, traceparent: traceparent(traceId, clientSpanId) },
    });
    expect(res.status).toBe(200);
    expect(upstream.requests.at(-1)?.headers.traceparent).toBe(traceparent(traceId, clientSpanId));

    const [server] = await receiver.waitFor((s) => s.traceId === traceId && s.kind === OTLP_SPAN_KIND.SERVER);
    expect(server!.parentSpanId).toBe(clientSpanId);
    expect(JSON.stringify(server!.attributes)).toContain('/v1/auth/verify');
    expect(server!.resource['service.name']).toBe('token-gateway-e2e');

    // The express route, the verification and its store read arrive in the same trace.
    await receiver.waitFor((s) => s.traceId === traceId && s.name === 'store.get_token_context');
    const trace = receiver.spans.filter((s) => s.traceId === traceId);
    const byName = (name: string) => trace.filter((s) => s.name === name);
    expect(byName('token.verify')).toHaveLength(1);
    expect(byName('token.verify')[0]!.attributes['token_gateway.verified_cache']).toBe('miss');
    expect(byName('token.verify')[0]!.statusCode).not.toBe(OTLP_STATUS_ERROR);
    expect(trace.some((s) => s.scope.includes('instrumentation-express') && s.attributes['http.route'] === '/v1/auth/verify')).toBe(true);
    // One tree under the client's span: every other span's parent is a span of this trace.
    const ids = new Set(trace.map((s) => s.spanId));
    for (const span of trace) if (span !== server) expect(ids.has(span.parentSpanId)).toBe(true);

    // The request's log line carries the trace and one of its spans.
    const line = await gateway.waitForLog((l) => l.req?.path === '/v1/auth/verify' && l.trace_id === traceId);
    expect(ids.has(line.span_id)).toBe(true);
    expect(receiver.contentTypes.every((type) => type === (protocol === 'http/json' ? 'application/json' : 'application/x-protobuf'))).toBe(true);
  });

  it('a denial is traced too, its verification marked failed by code', async () => {
    const traceId = randomHex(16);
    const res = await send({
      port: nginx.port,
      path: '/documents/1',
      headers: { Authorization: 'Bearer not-a-jwt', traceparent: traceparent(traceId, randomHex(8)) },
    });
    expect(res.status).toBe(401);
    const [verify] = await receiver.waitFor((s) => s.traceId === traceId && s.name === 'token.verify');
    expect(verify!.statusCode).toBe(OTLP_STATUS_ERROR);
    expect(verify!.attributes['error.type']).toBe('token_invalid');
  });

  it('issuance on Redis: the Redis commands are spans of the request, named without their arguments; no span carries a secret', async () => {
    const traceId = randomHex(16);
    const token = await issue({ traceparent: traceparent(traceId, randomHex(8)) });
    await receiver.waitFor((s) => s.traceId === traceId && s.name === 'token.sign');
    const redisSpans = await receiver.waitFor((s) => s.traceId === traceId && s.scope.includes('instrumentation-ioredis'));
    for (const span of redisSpans) {
      const statement = span.attributes['db.statement'] ?? span.attributes['db.query.text'];
      if (statement !== undefined) expect(String(statement)).toMatch(/^[a-z]+$/i);
    }
    const everything = JSON.stringify(receiver.spans);
    const secrets = [account.authToken, createHash('sha256').update(account.authToken).digest('hex'), ADMIN_TOKEN, token, token.split('.')[2]!];
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });

  it('probes are not traced', () => {
    // spawnGateway polled /healthz until it answered.
    expect(receiver.spans.some((s) => JSON.stringify(s.attributes).includes('/healthz'))).toBe(false);
  });
});
