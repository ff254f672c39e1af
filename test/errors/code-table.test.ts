/**
 * The code table against the contract (§1): every canonical status has its HTTP status,
 * every named code exists with the right status, and `retryable` is true exactly for
 * 429, 500 and 503. When ../shared/CONTRACT.md is beside the checkout, the table is also
 * read from it, so a change of the contract fails this test.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { CANONICAL_HTTP_STATUS, ERROR_CODES, GatewayError, type ErrorCode } from '../../src/errors';
import { errorHandler, OAUTH_ERROR_BY_HTTP } from '../../src/http/errors';
import { testIf } from '../helpers/skip';

/** Transcribed from contract §1. */
const CONTRACT_STATUS_TABLE: Record<string, number> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  ALREADY_EXISTS: 409,
  FAILED_PRECONDITION: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
};

const CONTRACT_CODES = [
  'invalid_argument', 'invalid_json', 'invalid_credentials', 'token_missing', 'token_expired',
  'token_not_yet_valid', 'token_invalid', 'token_revoked', 'organization_mismatch', 'email_mismatch',
  'user_mismatch', 'permission_denied', 'account_mismatch', 'not_found', 'rate_limited',
  'payload_too_large', 'unsupported_media_type', 'method_not_allowed', 'store_unavailable', 'internal',
  'invalid_dpop_proof', 'use_dpop_nonce',
];

/** The status each code must travel with, from the contract's sections. */
const EXPECTED_STATUS: Record<string, string> = {
  invalid_argument: 'INVALID_ARGUMENT',
  invalid_json: 'INVALID_ARGUMENT',
  invalid_credentials: 'UNAUTHENTICATED',
  token_missing: 'UNAUTHENTICATED',
  token_expired: 'UNAUTHENTICATED',
  token_not_yet_valid: 'UNAUTHENTICATED',
  token_invalid: 'UNAUTHENTICATED',
  token_revoked: 'UNAUTHENTICATED',
  organization_mismatch: 'PERMISSION_DENIED',
  email_mismatch: 'PERMISSION_DENIED',
  user_mismatch: 'PERMISSION_DENIED',
  permission_denied: 'PERMISSION_DENIED',
  account_mismatch: 'PERMISSION_DENIED',
  not_found: 'NOT_FOUND',
  rate_limited: 'RESOURCE_EXHAUSTED',
  payload_too_large: 'PAYLOAD_TOO_LARGE',
  unsupported_media_type: 'UNSUPPORTED_MEDIA_TYPE',
  method_not_allowed: 'METHOD_NOT_ALLOWED',
  store_unavailable: 'UNAVAILABLE',
  internal: 'INTERNAL',
  invalid_dpop_proof: 'UNAUTHENTICATED',
  use_dpop_nonce: 'UNAUTHENTICATED',
};

describe('the code table', () => {
  test('every canonical status maps to the contract HTTP status', () => {
    expect(CANONICAL_HTTP_STATUS).toEqual(CONTRACT_STATUS_TABLE);
  });

  test('every contract code exists with its canonical status', () => {
    for (const code of CONTRACT_CODES) {
      expect([code, ERROR_CODES[code as ErrorCode]]).toEqual([code, EXPECTED_STATUS[code]]);
    }
  });

  test('retryable is true exactly for 429, 500 and 503', () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const error = new GatewayError(code, 'x');
      expect([code, error.retryable]).toEqual([code, [429, 500, 503].includes(error.httpStatus)]);
    }
  });

  const contractFile = path.resolve(__dirname, '../../../shared/CONTRACT.md');
  const checkContract = testIf(
    existsSync(contractFile),
    `the check against the contract text: ${contractFile} is not beside the checkout (the tables above are its copy)`,
  );
  checkContract('matches the table and code list in ../shared/CONTRACT.md', () => {
    const text = readFileSync(contractFile, 'utf8');
    const rows = [...text.matchAll(/^\|\s*([A-Z_]+)(?:\s*\([^)]*\))?\s*\|\s*(\d{3})\b/gm)].map((m) => [m[1], Number(m[2])]);
    expect(Object.fromEntries(rows)).toEqual(CONTRACT_STATUS_TABLE);
    const listed = /`code` is a stable[\s\S]*?`retryable` is/.exec(text)?.[0] ?? '';
    const codes = [...listed.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]).filter((c) => c !== 'code' && c !== 'retryable');
    expect(new Set(codes)).toEqual(new Set(CONTRACT_CODES));
  });
});

describe('the one place that writes errors', () => {
  const app = express();
  app.get('/fail/:code', (req, _res, next) => {
    const code = req.params.code as ErrorCode;
    next(new GatewayError(code, `Failure ${code}.`, code === 'rate_limited' ? { retryAfterSeconds: 2.2 } : code === 'method_not_allowed' ? { allow: ['POST'] } : {}));
  });
  app.get('/oauth/:code', (req, res, next) => {
    res.locals.errorStyle = 'oauth';
    next(new GatewayError(req.params.code as ErrorCode, 'Failure.'));
  });
  app.get('/boom', () => {
    throw new Error('secret stack detail at-SECRET');
  });
  app.use(errorHandler());

  test.each(Object.keys(ERROR_CODES))('%s answers its HTTP status in the envelope', async (code) => {
    const res = await request(app).get(`/fail/${code}`);
    const status = ERROR_CODES[code as ErrorCode];
    expect(res.status).toBe(CONTRACT_STATUS_TABLE[status]);
    expect(res.body).toEqual({
      error: {
        message: `Failure ${code}.`,
        status,
        code,
        retryable: [429, 500, 503].includes(res.status),
      },
    });
  });

  test('429 carries Retry-After in whole seconds, 405 carries Allow', async () => {
    expect((await request(app).get('/fail/rate_limited')).headers['retry-after']).toBe('3');
    expect((await request(app).get('/fail/method_not_allowed')).headers.allow).toBe('POST');
  });

  test.each([
    ['invalid_argument', 'invalid_request'],
    ['method_not_allowed', 'invalid_request'],
    ['payload_too_large', 'invalid_request'],
    ['unsupported_media_type', 'invalid_request'],
    ['invalid_credentials', 'invalid_client'],
    ['rate_limited', 'temporarily_unavailable'],
    ['store_unavailable', 'temporarily_unavailable'],
    ['internal', 'server_error'],
  ])('OAuth endpoints answer %s as RFC 6749 error %s with the same members', async (code, oauthError) => {
    const res = await request(app).get(`/oauth/${code}`);
    expect(res.body).toEqual({
      error: oauthError,
      error_description: 'Failure.',
      status: ERROR_CODES[code as ErrorCode],
      code,
      retryable: [429, 500, 503].includes(res.status),
    });
    expect(OAUTH_ERROR_BY_HTTP[res.status]).toBe(oauthError);
  });

  test('an unexpected error is a 500 internal without its message or stack', async () => {
    const res = await request(app).get('/boom');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({
      error: { message: 'An internal error occurred.', status: 'INTERNAL', code: 'internal', retryable: true },
    });
    expect(res.text).not.toContain('SECRET');
  });
});
