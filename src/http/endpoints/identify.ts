/** POST /v1/auth/identify (contract §3.1): the browser proves the token is its user's. */
import { z } from 'zod';
import { GatewayError } from '../../errors';
import type { HttpContext } from '../context';
import type { GatewayRequest, GatewayResponse } from '../exchange';
import { ownRequestTarget } from '../dpop';
import { noStore, sendResult } from '../respond';
import { credential, email, envelope, identifier, parseInput, unixSeconds } from '../validate';

export const identifyRequest = envelope({
  apiKey: credential,
  token: z.string(),
  user: z.object({
    userId: identifier,
    organizationId: identifier.optional(),
    email: email.optional(),
  }),
});

export const identifiedUserData = z.object({
  userId: z.string(),
  organizationId: z.string().optional(),
  email: z.string().optional(),
  isAdmin: z.boolean(),
  expiresAt: unixSeconds,
});

export function identifyEndpoint(ctx: HttpContext) {
  return async (req: GatewayRequest, res: GatewayResponse): Promise<void> => {
    const { data } = parseInput(identifyRequest, req.body);
    const { claims } = await ctx.verifier.verify(data.token, {
      expectedApiKey: data.apiKey,
      // A bound token's proof is checked after revocation and before user_mismatch (§10).
      dpop: { target: () => ownRequestTarget(req, ctx.config.issuer, '/v1/auth/identify') },
    });
    if (data.user.userId !== claims.sub) {
      throw new GatewayError('user_mismatch', 'The token belongs to another user.');
    }
    if (data.user.organizationId !== claims.organizationId) {
      throw new GatewayError('organization_mismatch', 'The token belongs to another organization.');
    }
    if (claims.email !== undefined && data.user.email?.toLowerCase() !== claims.email) {
      throw new GatewayError('email_mismatch', 'The email does not match the token.');
    }
    noStore(res);
    sendResult(res, 'User identified.', {
      userId: claims.userId,
      ...(claims.organizationId === undefined ? {} : { organizationId: claims.organizationId }),
      ...(claims.email === undefined ? {} : { email: claims.email }),
      isAdmin: claims.isAdmin,
      expiresAt: claims.exp,
    } satisfies z.output<typeof identifiedUserData>);
  };
}
