/**
 * Tracing in-process, with the SDK's in-memory exporter behind the gateway's own startTracing
 * (the same provider, sampler, propagator, processor and instrumentations as production; only
 * the exporter differs): an incoming traceparent is honoured, the gateway's own spans sit where
 * the time goes, and every log line of a traced request carries its trace and span ids.
 */
import http from 'node:http';
import type { InstrumentationModuleDefinition } from '@opentelemetry/instrumentation';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import request from 'supertest';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/http/logging';
import { startTracing, TRACER_NAME, type RunningTracing } from '../../src/tracing/sdk';
import { traceLogFields } from '../../src/tracing/log-fields';
import { buildTestGateway, forwardAuthPath, type TestAccount, type TestGateway } from '../helpers/app';
import { memoryDestination } from '../helpers/log';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN_ID = '00f067aa0ba902b7';
const traceparent = (traceId = TRACE_ID, spanId = CALLER_SPAN_ID) => `00-${traceId}-${spanId}-01`;
const SPAN_KIND_SERVER = 1;
const STATUS_ERROR = 2;

describe('tracing in-process (in-memory exporter)', () => {
  const exporter = new InMemorySpanExporter();
  const logs = memoryDestination();
  let tracing: RunningTracing;
  let gw: TestGateway;
  let acme: TestAccount;
  let httpPatch: InstrumentationModuleDefinition | undefined;

  beforeAll(async () => {
    const settings = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9/unused' }).tracing!;
    tracing = startTracing(settings, exporter);
    // Jest loads modules through a registry of its own, which the instrumentations' require
    // hook never sees (the real process is covered by test/deploy/otlp-tracing.test.ts). node:http
    // is the one module both share: the registered http instrumentation patches it here.
    const instrumentation = tracing.instrumentations.find((i) => i.instrumentationName.endsWith('instrumentation-http'));
    httpPatch = instrumentation?.getModuleDefinitions().find((definition) => definition.name === 'http');
    httpPatch?.patch?.(http);
    gw = await buildTestGateway({
      tracer: tracing.tracer,
      logger: createLogger('info', logs, { mixin: traceLogFields }),
    });
    acme = await gw.createAccount('Acme');
  });

  afterAll(async () => {
    httpPatch?.unpatch?.(http);
    await tracing?.shutdown();
    await gw?.close();
  });

  beforeEach(() => {
    exporter.reset();
    logs.lines.length = 0;
  });

  /** The finished spans of one trace, by name. */
  async function spansOf(traceId: string): Promise<ReadableSpan[]> {
    await tracing.flush();
    return exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
  }
  const named = (spans: ReadableSpan[], name: string): ReadableSpan => {
    const found = spans.filter((span) => span.name === name);
    expect({ name, count: found.length }).toEqual({ name, count: 1 });
    return found[0]!;
  };
  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

  it("joins the caller's trace: the server span's parent is the caller's span", async () => {
    const { token } = await gw.issue(acme);
    const res = await request(gw.app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`).set('traceparent', traceparent());
    expect(res.status).toBe(200);
    const spans = await spansOf(TRACE_ID);
    const server = spans.find((span) => span.kind === SPAN_KIND_SERVER);
    expect(server).toBeDefined();
    expect(parentOf(server!)).toBe(CALLER_SPAN_ID);
    // Every span of the request is in that trace, under the server span.
    const ids = new Set(spans.map((span) => span.spanContext().spanId));
    for (const span of spans) if (span !== server) expect(ids.has(parentOf(span)!)).toBe(true);
  });

  it('forward auth: verification (a miss, then a hit of the verified-token cache), the store read, the policy decision', async () => {
    const { token } = await gw.issue(acme, { policy: { allow: ['reports:read'] } });
    const first = '11111111111111111111111111111111';
    const second = '22222222222222222222222222222222';
    for (const traceId of [first, second]) {
      const res = await request(gw.app)
        .get(forwardAuthPath(token, { permission: 'reports:read' }))
        .set('Authorization', `Bearer ${token}`)
        .set('traceparent', traceparent(traceId));
      expect(res.status).toBe(200);
    }
    for (const [traceId, cache] of [
      [first, 'miss'],
      [second, 'hit'],
    ] as const) {
      const spans = await spansOf(traceId);
      const verify = named(spans, 'token.verify');
      expect(verify.instrumentationScope.name).toBe(TRACER_NAME);
      expect(verify.attributes).toMatchObject({ 'token_gateway.verified_cache': cache, 'token_gateway.token.kind': 'gateway' });
      const read = named(spans, 'store.get_token_context');
      expect(parentOf(read)).toBe(verify.spanContext().spanId);
      expect(read.attributes['token_gateway.store']).toBe('memory');
      const decision = named(spans, 'policy.decide');
      expect(decision.attributes).toMatchObject({ 'token_gateway.permission': 'reports:read', 'token_gateway.permission.granted': true });
      expect(verify.status.code).not.toBe(STATUS_ERROR);
    }
  });

  it('a refused permission and a refused token are said on their spans, by code', async () => {
    const { token } = await gw.issue(acme, { policy: { allow: ['reports:read'] } });
    const denied = '33333333333333333333333333333333';
    await request(gw.app)
      .get(forwardAuthPath(token, { permission: 'admin:access' }))
      .set('Authorization', `Bearer ${token}`)
      .set('traceparent', traceparent(denied))
      .expect(403);
    expect(named(await spansOf(denied), 'policy.decide').attributes['token_gateway.permission.granted']).toBe(false);

    const [header, payload, signature] = token.split('.');
    const tampered = `${header}.${payload}.${signature!.slice(0, -4)}AAAA`;
    const invalid = '44444444444444444444444444444444';
    await request(gw.app)
      .get(forwardAuthPath(tampered))
      .set('Authorization', `Bearer ${tampered}`)
      .set('traceparent', traceparent(invalid))
      .expect(401);
    const verify = named(await spansOf(invalid), 'token.verify');
    expect(verify.status.code).toBe(STATUS_ERROR);
    expect(verify.attributes['error.type']).toBe('token_invalid');
  });

  it('issuance: the store read, the signature and the record, each a span of the request', async () => {
    const traceId = '55555555555555555555555555555555';
    const res = await request(gw.app)
      .post('/v1/auth/token/get')
      .set('traceparent', traceparent(traceId))
      .send({ data: { apiKey: acme.apiKey, authToken: acme.authToken, userId: 'user-9', userProperties: { organizationId: 'org-1' } } });
    expect(res.status).toBe(200);
    const spans = await spansOf(traceId);
    const sign = named(spans, 'token.sign');
    expect(sign.attributes).toMatchObject({ 'token_gateway.alg': 'RS256', 'token_gateway.kid': gw.keyRing.signingKey().kid });
    named(spans, 'store.get_issuance_context');
    named(spans, 'store.record_issued_token');
    // No span says anything of the credentials or the token.
    const said = JSON.stringify(spans.map((span) => [span.name, span.attributes, span.status, span.events]));
    expect(said).not.toContain(acme.authToken);
    expect(said).not.toContain(res.body.result.data.token);
    expect(said).not.toContain(res.body.result.data.token.split('.')[2]);
  });

  it('every log line of a traced request carries trace_id and span_id of that trace', async () => {
    const { token } = await gw.issue(acme);
    logs.lines.length = 0;
    const traceId = '66666666666666666666666666666666';
    await request(gw.app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`).set('traceparent', traceparent(traceId)).expect(200);
    const lines = logs.lines.map((line) => JSON.parse(line));
    expect(lines.length).toBeGreaterThan(0);
    const spanIds = new Set((await spansOf(traceId)).map((span) => span.spanContext().spanId));
    for (const line of lines) {
      expect(line.trace_id).toBe(traceId);
      expect(spanIds.has(line.span_id)).toBe(true);
    }
  });

  it('an untraced request (sampled or not, a trace is started for it) logs the ids of its own trace', async () => {
    const { token } = await gw.issue(acme);
    logs.lines.length = 0;
    await request(gw.app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`).expect(200);
    const [line] = logs.lines.map((l) => JSON.parse(l));
    expect(line.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(line.trace_id).not.toBe(TRACE_ID);
    expect((await spansOf(line.trace_id)).some((span) => span.spanContext().spanId === line.span_id)).toBe(true);
  });
});
