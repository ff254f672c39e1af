/**
 * userId and organizationId (contract §0): 1–256 printable ASCII characters, neither starting
 * nor ending with a space, so they travel unchanged in the X-Auth-* headers of forward auth.
 */
export const MAX_IDENTIFIER_LENGTH = 256;

const PRINTABLE_ASCII = /^[\x20-\x7E]+$/;

/** Why `value` is not a valid user or organization id, or undefined when it is. */
export function identifierProblem(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > MAX_IDENTIFIER_LENGTH) return `must be at most ${MAX_IDENTIFIER_LENGTH} characters`;
  if (!PRINTABLE_ASCII.test(value)) return 'must contain only printable ASCII characters';
  if (value.startsWith(' ') || value.endsWith(' ')) return 'must not start or end with a space';
  return undefined;
}

export const isIdentifier = (value: unknown): value is string =>
  typeof value === 'string' && identifierProblem(value) === undefined;
