/**
 * The OpenTelemetry SDK, started only when tracing is on (src/server.ts loads this module
 * then, and only then). Every setting comes from the validated TracingSettings (src/config.ts):
 * the SDK's own environment parsing is not relied on for anything the gateway documents.
 *
 * The instrumentations (http, express, ioredis) patch those modules as they are required, so
 * this must run before the gateway's modules are loaded: server.ts starts it first and loads
 * the rest afterwards. Each process (each worker of WORKERS=N) runs its own SDK.
 */
import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations, type InstrumentationBase } from '@opentelemetry/instrumentation';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { TracingSettings } from '../config';

/** The name of the gateway's own spans' tracer (instrumentation scope). */
export const TRACER_NAME = 'token-gateway';

/** Probes and scrapes: every few seconds, from every replica; nobody traces them. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

export interface RunningTracing {
  /** The tracer of the gateway's own spans. */
  tracer: Tracer;
  /** The instrumentations registered (http, express, ioredis), enabled. */
  instrumentations: readonly InstrumentationBase[];
  /** Exports every span ended so far. */
  flush(): Promise<void>;
  /** Exports what is left and stops: the instrumentations, the provider, the global API. */
  shutdown(): Promise<void>;
}

function samplerOf(settings: TracingSettings): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(settings.samplerRatio);
  switch (settings.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** The OTLP/HTTP exporter the settings name (protobuf or JSON). */
export function otlpExporter(settings: TracingSettings): SpanExporter {
  const options = {
    url: settings.url,
    headers: settings.headers,
    timeoutMillis: settings.timeoutMs,
    compression: settings.compression as never, // CompressionAlgorithm: 'gzip' | 'none'
  };
  return settings.protocol === 'http/json' ? new OtlpJsonExporter(options) : new OtlpProtobufExporter(options);
}

/**
 * Starts tracing for this process: the provider (sampler, resource, batch processor), the W3C
 * trace-context propagator (an incoming `traceparent` is honoured), the context manager, and
 * the http, express and ioredis instrumentations. `exporter` is the OTLP one unless a test
 * gives another (the SDK's in-memory exporter).
 */
export function startTracing(settings: TracingSettings, exporter: SpanExporter = otlpExporter(settings)): RunningTracing {
  const provider = new NodeTracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({ ...settings.resourceAttributes, [ATTR_SERVICE_NAME]: settings.serviceName }),
    ),
    sampler: samplerOf(settings),
    spanProcessors: [new BatchSpanProcessor(exporter, settings.batch)],
  });
  provider.register({
    propagator: new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  });
  const off = new Set(settings.disabledInstrumentations);
  const instrumentations: InstrumentationBase[] = [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? '').split('?')[0] ?? ''),
      // Outgoing calls are not traced: the exporter's, and webhook deliveries, which so carry no
      // trace context of the gateway's to a customer's receiver.
      disableOutgoingRequestInstrumentation: true,
    }),
  ];
  if (!off.has('express')) {
    // Routers and route handlers, not each middleware (helmet, the request id...).
    instrumentations.push(new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }));
  }
  if (!off.has('ioredis')) {
    instrumentations.push(
      new IORedisInstrumentation({
        // The command name only: arguments carry credential hashes, keys and AUTH passwords.
        dbStatementSerializer: (command) => command,
        // Background traffic (the mirror's subscription, heartbeats) starts no trace.
        requireParentSpan: true,
      }),
    );
  }
  const unregister = registerInstrumentations({ tracerProvider: provider, instrumentations });
  return {
    tracer: provider.getTracer(TRACER_NAME),
    instrumentations,
    flush: () => provider.forceFlush(),
    shutdown: async () => {
      unregister();
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
