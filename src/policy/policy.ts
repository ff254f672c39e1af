/**
 * Permission policies (contract §6.3): `{"allow": [...], "reject": [...]}` of permission
 * names, `*` meaning every permission. Granted when an allow entry matches and no reject
 * entry does; reject always wins; no policy, or no allow list, grants nothing, and isAdmin
 * grants nothing by itself. Names match exactly: no patterns beyond `*`.
 */
export interface Policy {
  allow?: string[];
  reject?: string[];
}

export const WILDCARD = '*';
export const MAX_POLICY_ENTRIES = 256;
export const MAX_PERMISSION_LENGTH = 256;

const PERMISSION_NAME = /^[\x21-\x7E](?:[\x20-\x7E]*[\x21-\x7E])?$/;

export function isPermissionName(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_PERMISSION_LENGTH && PERMISSION_NAME.test(value);
}

/**
 * Why `value` is not a policy, or undefined when it is one: an object with only `allow`
 * and `reject`, each (when present) an array of at most 256 permission names.
 */
export function policyProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be an object';
  for (const member of Object.keys(value)) {
    if (member !== 'allow' && member !== 'reject') return `has an unknown member "${member.slice(0, 32)}"`;
  }
  for (const member of ['allow', 'reject'] as const) {
    const list = (value as Record<string, unknown>)[member];
    if (list === undefined) continue;
    if (!Array.isArray(list)) return `.${member} must be an array of permission names`;
    if (list.length > MAX_POLICY_ENTRIES) return `.${member} must have at most ${MAX_POLICY_ENTRIES} entries`;
    if (!list.every(isPermissionName)) {
      return `.${member} must contain only permission names (1–${MAX_PERMISSION_LENGTH} printable ASCII characters)`;
    }
  }
  return undefined;
}

export const isPolicy = (value: unknown): value is Policy => policyProblem(value) === undefined;

const matches = (entries: readonly string[] | undefined, permission: string): boolean =>
  entries !== undefined && entries.some((entry) => entry === WILDCARD || entry === permission);

export function isPermitted(policy: Policy | undefined, permission: string): boolean {
  if (!policy) return false;
  return matches(policy.allow, permission) && !matches(policy.reject, permission);
}
