/**
 * The gateway's own spans, where a request's time goes (signing, verification, the store
 * reads, the policy decision). Every caller holds an optional tracer: undefined while tracing
 * is off, and then a span costs one comparison. This file loads nothing of OpenTelemetry
 * (its imports are types only), so a gateway without tracing never loads the SDK.
 */
import type { Span, SpanStatus, Tracer } from '@opentelemetry/api';
import { isGatewayError } from '../errors';

export type { Span, Tracer };

/** SpanStatusCode.ERROR, written out so that no OpenTelemetry module is loaded for it. */
const STATUS_ERROR: SpanStatus['code'] = 2;

/**
 * What a failed span says: the gateway's error code (token_invalid, store_unavailable...) or
 * the error's name. Never the message of a foreign error, which could quote a credential.
 */
function markFailed(span: Span, error: unknown): void {
  const label = isGatewayError(error) ? error.code : error instanceof Error ? error.name : 'error';
  span.setAttribute('error.type', label);
  span.setStatus({ code: STATUS_ERROR, message: label });
}

/** Runs `fn` in a span named `name`, the active one for what `fn` awaits; ends it either way. */
export function inSpan<T>(tracer: Tracer | undefined, name: string, fn: (span?: Span) => Promise<T>): Promise<T> {
  if (tracer === undefined) return fn();
  return tracer.startActiveSpan(name, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      markFailed(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** inSpan for synchronous work. */
export function inSpanSync<T>(tracer: Tracer | undefined, name: string, fn: (span?: Span) => T): T {
  if (tracer === undefined) return fn();
  return tracer.startActiveSpan(name, (span) => {
    try {
      return fn(span);
    } catch (error) {
      markFailed(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}
