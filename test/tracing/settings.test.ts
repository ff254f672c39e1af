/**
 * The OTEL_* variables (contract §9), read once in src/config.ts: tracing is off unless an
 * OTLP endpoint is set, and a bad value stops the start like any other setting.
 */
import { ConfigError, loadConfig } from '../../src/config';

function problemsOf(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('tracing settings (OTEL_*)', () => {
  test('off by default, and off with only the other OTEL_* variables set', () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_SERVICE_NAME: 'gw', OTEL_TRACES_SAMPLER: 'always_on' }).tracing).toBeUndefined();
  });

  test('OTEL_EXPORTER_OTLP_ENDPOINT turns it on with the specification defaults', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toEqual({
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      headers: {},
      timeoutMs: 10_000,
      compression: 'none',
      serviceName: 'token-gateway',
      resourceAttributes: {},
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
      batch: { scheduleDelayMs: 5_000, exportTimeoutMs: 30_000, maxQueueSize: 2_048, maxExportBatchSize: 512 },
      disabledInstrumentations: [],
    });
  });

  test('the traces endpoint is used as it is, and wins over the general one', () => {
    const tracing = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://general:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/custom/path',
    }).tracing;
    expect(tracing?.url).toBe('https://traces.example.com/custom/path');
  });

  test('every variable the gateway reads', () => {
    const tracing = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-general=1',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'api-key=s%3Dcret, x-tenant = acme',
      OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=staging,service.name=ignored',
      OTEL_SERVICE_NAME: 'edge-gateway',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_BSP_EXPORT_TIMEOUT: '1000',
      OTEL_BSP_MAX_QUEUE_SIZE: '4096',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '256',
      OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'express, ioredis,express',
    }).tracing;
    expect(tracing).toEqual({
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/json',
      headers: { 'api-key': 's=cret', 'x-tenant': 'acme' },
      timeoutMs: 2_500,
      compression: 'gzip',
      serviceName: 'edge-gateway',
      resourceAttributes: { 'deployment.environment': 'staging' },
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
      batch: { scheduleDelayMs: 100, exportTimeoutMs: 1_000, maxQueueSize: 4_096, maxExportBatchSize: 256 },
      disabledInstrumentations: ['express', 'ioredis'],
    });
  });

  test('service.name in OTEL_RESOURCE_ATTRIBUTES names the service when OTEL_SERVICE_NAME is unset', () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attributes' };
    expect(loadConfig(env).tracing?.serviceName).toBe('from-attributes');
  });

  test('OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn it off even with an endpoint', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
    expect(loadConfig({ ...endpoint, OTEL_SDK_DISABLED: 'true' }).tracing).toBeUndefined();
    expect(loadConfig({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }).tracing).toBeUndefined();
    expect(loadConfig({ ...endpoint, OTEL_SDK_DISABLED: 'false' }).tracing).toBeDefined();
  });

  test.each([
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL'],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://c:4317' }, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http(s) URL'],
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json (gRPC is not supported)'],
    [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'json' }, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be http/protobuf or http/json'],
    [{ OTEL_EXPORTER_OTLP_COMPRESSION: 'br' }, 'OTEL_EXPORTER_OTLP_COMPRESSION must be gzip or none'],
    [{ OTEL_EXPORTER_OTLP_TIMEOUT: '10s' }, 'OTEL_EXPORTER_OTLP_TIMEOUT must be a whole number'],
    [{ OTEL_TRACES_SAMPLER: 'jaeger_remote' }, 'OTEL_TRACES_SAMPLER must be one of'],
    [{ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }, 'OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1'],
    [{ OTEL_TRACES_EXPORTER: 'zipkin' }, 'OTEL_TRACES_EXPORTER must be otlp or none'],
    [{ OTEL_SDK_DISABLED: 'yes' }, 'OTEL_SDK_DISABLED must be true or false'],
    [{ OTEL_BSP_MAX_QUEUE_SIZE: '10', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '20' }, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE must not be larger'],
    [{ OTEL_RESOURCE_ATTRIBUTES: 'novalue' }, 'OTEL_RESOURCE_ATTRIBUTES must be a comma list of key=value'],
    [{ OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'http' }, 'OTEL_NODE_DISABLED_INSTRUMENTATIONS may name express and ioredis'],
  ])('refuses %j, with or without an endpoint', (env, message) => {
    for (const endpoint of [{}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }]) {
      const problems = problemsOf({ ...endpoint, ...env });
      expect(problems.some((p) => p.startsWith(message))).toBe(true);
    }
  });

  test('a malformed header value is refused without being echoed (it may be a credential)', () => {
    const problems = problemsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%zzsecret' });
    expect(problems).toEqual(['OTEL_EXPORTER_OTLP_HEADERS must be a comma list of key=value (values percent-encoded).']);
    expect(problems.join(' ')).not.toContain('secret');
  });

  test('problems of the tracing variables are listed with the others, at once', () => {
    const problems = problemsOf({ PORT: 'x', OTEL_TRACES_SAMPLER: 'sometimes' });
    expect(problems.some((p) => p.startsWith('PORT'))).toBe(true);
    expect(problems.some((p) => p.startsWith('OTEL_TRACES_SAMPLER'))).toBe(true);
  });
});
