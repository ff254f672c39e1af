/**
 * Request bodies: read raw up to BODY_LIMIT (413 past it), then parsed by content type.
 * A JSON body with a `__proto__`, `constructor` or `prototype` key anywhere is refused (400,
 * naming where): JSON.parse itself pollutes nothing, but such a key is a probe for code that
 * merges bodies into objects, and no field of the contract is called so. Forms (OAuth
 * endpoints only) refuse the same names and repeated parameters (RFC 6749 §3.2). A body of
 * another type is 415, broken JSON is 400 invalid_json, and JSON nested deeper than
 * MAX_JSON_DEPTH is 400 invalid_argument before it is parsed (contract §8).
 */
import type { IncomingMessage } from 'node:http';
import onFinished from 'on-finished';
import getRawBody from 'raw-body';
import typeis from 'type-is';
import { GatewayError, invalidArgument } from '../errors';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../json-depth';
import type { Middleware } from './exchange';

export type BodyKind = 'json' | 'json-or-form';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function parseJson(text: string): unknown {
  // Before parsing: every walk of the value below (and in the routes) stays within the bound.
  if (nestsDeeperThan(text)) {
    throw invalidArgument(`The request body is nested deeper than ${MAX_JSON_DEPTH} levels.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new GatewayError('invalid_json', 'The request body is not valid JSON.');
  }
  const forbidden = forbiddenKeyPath(value, '');
  if (forbidden !== undefined) throw invalidArgument(`${forbidden} is a forbidden key.`);
  return value;
}

/** The path of the first forbidden key in a parsed JSON value, if any. */
function forbiddenKeyPath(value: unknown, path: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i += 1) {
      const found = forbiddenKeyPath(value[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const here = path === '' ? key : `${path}.${key}`;
    if (FORBIDDEN_KEYS.has(key)) return here;
    const found = forbiddenKeyPath((value as Record<string, unknown>)[key], here);
    if (found !== undefined) return found;
  }
  return undefined;
}

function parseForm(text: string): Record<string, string> {
  const form: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    if (FORBIDDEN_KEYS.has(name)) throw invalidArgument(`${name} is a forbidden key.`);
    if (Object.hasOwn(form, name)) throw invalidArgument(`${name} is given more than once.`);
    form[name] = value;
  }
  return form;
}

function charsetIsUtf8(req: IncomingMessage): boolean {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '');
  return !match || /^utf-?8$/i.test(match[1]!);
}

/**
 * The raw body, up to `limitBytes`: raw-body reads it (the length checks and the 413), as
 * body-parser's raw reader did; body-parser itself added a media type match, a finished-stream
 * check and a wrapper on every request, which cost a check a few per cent (docs/BENCHMARKS.md).
 * Its rules are kept: no Content-Length and no Transfer-Encoding is no body; a Content-Encoding
 * other than identity is refused (415, nothing is inflated); after a failure the rest of the
 * body is read off and dropped, so that the connection stays usable.
 */
function rawBody(limitBytes: number): Middleware {
  return (req, _res, next): void => {
    const { headers } = req;
    // type-is's hasBody, as body-parser asks it.
    if (headers['transfer-encoding'] === undefined && Number.isNaN(Number(headers['content-length'] ?? NaN))) {
      req.body = undefined;
      return next();
    }
    const fail = (error: unknown): void => {
      req.unpipe();
      if (onFinished.isFinished(req)) {
        next(error);
        return;
      }
      onFinished(req, () => next(error));
      req.resume();
    };
    const encoding = (headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity') {
      return fail(new GatewayError('unsupported_media_type', 'The request body encoding is not supported.'));
    }
    getRawBody(req, { length: headers['content-length'] ?? null, limit: limitBytes }, (error, buffer) => {
      if (error) return fail(error);
      req.body = buffer;
      next();
    });
  };
}

const JSON_TYPES = ['application/json', 'application/*+json'];
const FORM_TYPE = 'application/x-www-form-urlencoded';

export function readBody(kind: BodyKind, limitBytes: number): Middleware[] {
  // One media type match per request (each req.is parses the Content-Type again).
  const accepted = kind === 'json' ? JSON_TYPES : [...JSON_TYPES, FORM_TYPE];
  const parse: Middleware = (req, _res, next): void => {
    const buffer = req.body as unknown;
    if (!Buffer.isBuffer(buffer) || buffer.length === 0) {
      req.body = undefined;
      return next();
    }
    const matched = typeis(req, accepted);
    if (!matched) {
      const named = kind === 'json' ? 'application/json' : 'application/json or application/x-www-form-urlencoded';
      return next(new GatewayError('unsupported_media_type', `The request body must be ${named}.`));
    }
    if (!charsetIsUtf8(req)) {
      return next(new GatewayError('unsupported_media_type', 'The request body must be UTF-8.'));
    }
    try {
      const text = buffer.toString('utf8');
      req.body = matched === FORM_TYPE ? parseForm(text) : parseJson(text);
      next();
    } catch (error) {
      next(error);
    }
  };
  return [rawBody(limitBytes), parse];
}
