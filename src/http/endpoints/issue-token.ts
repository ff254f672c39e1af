/** POST /v1/auth/token/get (contract §2). */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { issueToken, JKT_PATTERN } from '../../tokens';
import type { HttpContext } from '../context';
import { noStore, sendResult } from '../respond';
import { credential, email, envelope, identifier, parseInput, policy, unixSeconds } from '../validate';

const MIN_EXPIRES_IN = 60;
const MAX_EXPIRES_IN = 172_800;

const expiresIn = z.unknown().check((ctx) => {
  const v = ctx.value;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < MIN_EXPIRES_IN || v > MAX_EXPIRES_IN) {
    ctx.issues.push({
      code: 'custom',
      message: `must be a whole number of seconds from ${MIN_EXPIRES_IN} to ${MAX_EXPIRES_IN}`,
      input: v,
    });
  }
}).meta({ type: 'integer', minimum: MIN_EXPIRES_IN, maximum: MAX_EXPIRES_IN }) as unknown as z.ZodType<number>;

export const issueTokenRequest = envelope({
  apiKey: credential,
  authToken: credential,
  userId: identifier,
  userProperties: z.object({
    organizationId: identifier,
    email: email.optional(),
    isAdmin: z.boolean().optional(),
  }),
  policy: policy.optional(),
  expiresIn: expiresIn.optional(),
  dpopJkt: z.string().regex(JKT_PATTERN, 'must be an RFC 7638 SHA-256 thumbprint (43 base64url characters)').optional(),
});

export const issuedTokenData = z.object({
  token: z.string(),
  tokenId: z.string(),
  /** `DPoP` when the request named a dpopJkt (contract §10). */
  tokenType: z.enum(['Bearer', 'DPoP']),
  expiresIn: z.number().int().positive(),
  expiresAt: unixSeconds,
  serverTime: unixSeconds,
});

export function issueTokenEndpoint(ctx: HttpContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const { data } = parseInput(issueTokenRequest, req.body);
    const issued = await issueToken(ctx.issuance, {
      apiKey: data.apiKey,
      authToken: data.authToken,
      userId: data.userId,
      organizationId: data.userProperties.organizationId,
      ...(data.userProperties.email === undefined ? {} : { email: data.userProperties.email }),
      isAdmin: data.userProperties.isAdmin ?? false,
      ...(data.policy === undefined ? {} : { policy: data.policy }),
      ...(data.expiresIn === undefined ? {} : { expiresIn: data.expiresIn }),
      ...(data.dpopJkt === undefined ? {} : { dpopJkt: data.dpopJkt }),
    });
    res.locals.apiKey = data.apiKey;
    noStore(res);
    sendResult(res, 'Token generated successfully.', issued satisfies z.output<typeof issuedTokenData>);
  };
}
