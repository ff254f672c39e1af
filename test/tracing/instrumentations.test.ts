/** OTEL_NODE_DISABLED_INSTRUMENTATIONS leaves express and ioredis out; http always stays. */
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { loadConfig } from '../../src/config';
import { startTracing } from '../../src/tracing/sdk';

async function instrumentationsFor(disabled: string | undefined): Promise<string[]> {
  const settings = loadConfig({
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
    ...(disabled === undefined ? {} : { OTEL_NODE_DISABLED_INSTRUMENTATIONS: disabled }),
  }).tracing!;
  const tracing = startTracing(settings, new InMemorySpanExporter());
  try {
    return tracing.instrumentations.map((i) => i.instrumentationName.replace('@opentelemetry/instrumentation-', '')).sort();
  } finally {
    await tracing.shutdown();
  }
}

test('all three by default; express and ioredis can be left out', async () => {
  expect(await instrumentationsFor(undefined)).toEqual(['express', 'http', 'ioredis']);
  expect(await instrumentationsFor('express')).toEqual(['http', 'ioredis']);
  expect(await instrumentationsFor('ioredis,express')).toEqual(['http']);
});
