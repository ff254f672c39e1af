/**
 * Tracing (contract §9). This surface loads no OpenTelemetry module: the SDK lives in
 * ./sdk and ./log-fields, which the process entry (src/server.ts) imports only when
 * OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set, and before the modules the SDK instruments.
 */
export { inSpan, inSpanSync, type Span, type Tracer } from './spans';
