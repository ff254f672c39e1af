/** POST /v1/auth/authorize (contract §6.3): does the token grant this permission? */
import { z } from 'zod';
import { GatewayError, invalidArgument } from '../../errors';
import { isPermissionName } from '../../policy';
import type { HttpContext } from '../context';
import type { GatewayRequest, GatewayResponse } from '../exchange';
import { ownRequestTarget } from '../dpop';
import { decidePermission } from '../policy-decision';
import { noStore, sendResult } from '../respond';
import { credential, envelope, parseInput } from '../validate';

export const authorizeRequest = envelope({ apiKey: credential, token: z.string(), permission: z.string() });

export const authorizedData = z.object({ allowed: z.literal(true) });

export function authorizeEndpoint(ctx: HttpContext) {
  return async (req: GatewayRequest, res: GatewayResponse): Promise<void> => {
    const { data } = parseInput(authorizeRequest, req.body);
    if (!isPermissionName(data.permission)) {
      throw invalidArgument('data.permission must be a permission name (1–256 printable ASCII characters).');
    }
    const { claims } = await ctx.verifier.verify(data.token, {
      expectedApiKey: data.apiKey,
      dpop: { target: () => ownRequestTarget(req, ctx.config.issuer, '/v1/auth/authorize') },
    });
    if (!decidePermission(ctx.tracer, claims.policy, data.permission)) {
      throw new GatewayError('permission_denied', 'The token does not grant this permission.');
    }
    noStore(res);
    sendResult(res, 'Permission granted.', { allowed: true } satisfies z.output<typeof authorizedData>);
  };
}
