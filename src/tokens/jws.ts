/**
 * Compact JWS, strictly: the structural checks every token passes before any cryptography,
 * and signing with Node's crypto on the libuv pool (asynchronous, off the event loop).
 */
import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { SigningAlgorithm } from '../config';
import { nestsDeeperThan } from '../json-depth';

/** Tokens longer than this are refused before any cryptography (contract §7). */
export const MAX_TOKEN_LENGTH = 8 * 1024;

/**
 * Header members that point at keys or carry them, or demand extensions: such a token is
 * refused (contract §7). A certificate thumbprint (`x5t`, `x5t#S256`, which .NET signers add)
 * is only a hint, and hints are never followed: it is ignored like any unknown member.
 */
const FORBIDDEN_HEADER_MEMBERS = ['jku', 'x5u', 'jwk', 'x5c', 'crit'] as const;

/** `typ` values of a JWT (RFC 7519 §5.1) and of a JWT access token (RFC 9068 §2.1), any case. */
const ACCEPTED_TYPES = new Set(['JWT', 'AT+JWT', 'APPLICATION/AT+JWT']);

const BASE64URL_SEGMENT = /^[A-Za-z0-9_-]+$/;

export interface DecodedToken {
  header: Record<string, unknown> & { alg: string; kid?: unknown };
  payload: Record<string, unknown>;
}

/** Why a token is refused; the message is safe to show (it never contains the token). */
export class MalformedTokenError extends Error {
  override readonly name = 'MalformedTokenError';
}

function decodeSegment(segment: string, what: string): Record<string, unknown> {
  const text = Buffer.from(segment, 'base64url').toString('utf8');
  if (nestsDeeperThan(text)) throw new MalformedTokenError(`The token ${what} is nested too deeply.`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MalformedTokenError(`The token ${what} is not base64url JSON.`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MalformedTokenError(`The token ${what} is not a JSON object.`);
  }
  return value as Record<string, unknown>;
}

/**
 * Splits and decodes a compact JWS without trusting any of it: three unpadded base64url
 * segments, a header and payload that are JSON objects, a string `alg`, and none of the
 * header members that would make a verifier fetch or accept a key from the token itself.
 */
export function decodeToken(token: string): DecodedToken {
  if (token.length === 0) throw new MalformedTokenError('The token is empty.');
  if (token.length > MAX_TOKEN_LENGTH) throw new MalformedTokenError('The token is too long.');
  const segments = token.split('.');
  if (segments.length !== 3) throw new MalformedTokenError('The token must have three segments.');
  if (!segments.every((s) => BASE64URL_SEGMENT.test(s))) {
    throw new MalformedTokenError('The token segments must be unpadded base64url.');
  }
  const header = decodeSegment(segments[0]!, 'header');
  const payload = decodeSegment(segments[1]!, 'payload');
  if (typeof header.alg !== 'string') throw new MalformedTokenError('The token header has no algorithm.');
  for (const member of FORBIDDEN_HEADER_MEMBERS) {
    if (member in header) throw new MalformedTokenError(`The token header member "${member}" is not accepted.`);
  }
  if (header.typ !== undefined && (typeof header.typ !== 'string' || !ACCEPTED_TYPES.has(header.typ.toUpperCase()))) {
    throw new MalformedTokenError('The token type must be JWT (or at+jwt).');
  }
  return { header: header as DecodedToken['header'], payload };
}

/**
 * True when `token` carries a valid signature by `publicKey` under exactly `alg`. RS256 and
 * ES256 go through jsonwebtoken with the algorithm pinned and its claim checks switched off
 * (the verifier does those, explicitly and in the contract's order); EdDSA, which jsonwebtoken
 * does not know, through Node's crypto.
 */
export function verifySignature(token: string, alg: SigningAlgorithm, publicKey: KeyObject): boolean {
  if (alg === 'EdDSA') {
    const dot = token.lastIndexOf('.');
    return cryptoVerify(null, Buffer.from(token.slice(0, dot)), publicKey, Buffer.from(token.slice(dot + 1), 'base64url'));
  }
  try {
    jwt.verify(token, publicKey, {
      algorithms: [alg],
      complete: true,
      ignoreExpiration: true,
      ignoreNotBefore: true,
    });
    return true;
  } catch {
    return false;
  }
}

function signAsync(alg: SigningAlgorithm, data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, signature: Buffer) => (error ? reject(error) : resolve(signature));
    if (alg === 'EdDSA') cryptoSign(null, data, key, done);
    else if (alg === 'ES256') cryptoSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, done);
    else cryptoSign('sha256', data, key, done);
  });
}

const encodeJson = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Signs a JWT on the libuv pool. */
export async function signToken(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  alg: SigningAlgorithm,
  privateKey: KeyObject,
): Promise<string> {
  const signingInput = `${encodeJson(header)}.${encodeJson(payload)}`;
  const signature = await signAsync(alg, Buffer.from(signingInput), privateKey);
  return `${signingInput}.${signature.toString('base64url')}`;
}
