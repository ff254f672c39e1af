/**
 * The trace and span ids of the active span, for every log line written while a traced
 * request is handled (pino's mixin; contract §9). Loaded only when tracing is on.
 */
import { isSpanContextValid, trace } from '@opentelemetry/api';

export function traceLogFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (span === undefined) return {};
  const spanContext = span.spanContext();
  if (!isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
