/** The policy decision of forward auth and authorize (contract §6.3), in a span of its own. */
import { isPermitted, type Policy } from '../policy';
import { inSpanSync, type Tracer } from '../tracing';

export function decidePermission(tracer: Tracer | undefined, policy: Policy | undefined, permission: string): boolean {
  return inSpanSync(tracer, 'policy.decide', (span) => {
    const allowed = isPermitted(policy, permission);
    span?.setAttributes({ 'token_gateway.permission': permission, 'token_gateway.permission.granted': allowed });
    return allowed;
  });
}
