/**
 * Request bodies: read raw up to BODY_LIMIT (413 past it), then parsed by content type.
 * JSON goes through secure-json-parse, which refuses `__proto__` and `constructor.prototype`
 * keys anywhere (prototype pollution); forms (OAuth endpoints only) refuse repeated parameters
 * (RFC 6749 §3.2). A body of another type is 415, broken JSON is 400 invalid_json.
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import sjson from 'secure-json-parse';
import { GatewayError, invalidArgument } from '../errors';

export type BodyKind = 'json' | 'json-or-form';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function parseJson(text: string): unknown {
  try {
    return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    if (error instanceof SyntaxError && /forbidden/i.test(error.message)) {
      throw invalidArgument('The request body contains a forbidden key (__proto__ or constructor).');
    }
    throw new GatewayError('invalid_json', 'The request body is not valid JSON.');
  }
}

function parseForm(text: string): Record<string, string> {
  const form: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    if (FORBIDDEN_KEYS.has(name)) throw invalidArgument(`The request body contains a forbidden key (${name}).`);
    if (Object.hasOwn(form, name)) throw invalidArgument(`${name} is given more than once.`);
    form[name] = value;
  }
  return form;
}

function charsetIsUtf8(req: Request): boolean {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '');
  return !match || /^utf-?8$/i.test(match[1]!);
}

export function readBody(kind: BodyKind, limitBytes: number): RequestHandler[] {
  const raw = express.raw({ type: () => true, limit: limitBytes, inflate: false });
  const parse = (req: Request, _res: Response, next: NextFunction): void => {
    const buffer = req.body as unknown;
    if (!Buffer.isBuffer(buffer) || buffer.length === 0) {
      req.body = undefined;
      return next();
    }
    const isJson = Boolean(req.is(['application/json', 'application/*+json']));
    const isForm = kind === 'json-or-form' && !!req.is('application/x-www-form-urlencoded');
    if (!isJson && !isForm) {
      const accepted = kind === 'json' ? 'application/json' : 'application/json or application/x-www-form-urlencoded';
      return next(new GatewayError('unsupported_media_type', `The request body must be ${accepted}.`));
    }
    if (!charsetIsUtf8(req)) {
      return next(new GatewayError('unsupported_media_type', 'The request body must be UTF-8.'));
    }
    try {
      const text = buffer.toString('utf8');
      req.body = isJson ? parseJson(text) : parseForm(text);
      next();
    } catch (error) {
      next(error);
    }
  };
  return [raw, parse];
}
