/** Contract §6.3: the truth table of permission policies. */
import { isPermitted, isPolicy, policyProblem, type Policy } from '../../src/policy';

describe('isPermitted', () => {
  const cases: Array<[string, Policy | undefined, string, boolean]> = [
    ['no policy', undefined, 'document:read', false],
    ['empty policy', {}, 'document:read', false],
    ['reject only, no allow', { reject: ['document:delete'] }, 'document:read', false],
    ['empty allow', { allow: [] }, 'document:read', false],
    ['empty allow with empty reject', { allow: [], reject: [] }, 'document:read', false],
    ['allowed by name', { allow: ['document:read'] }, 'document:read', true],
    ['another name is not allowed', { allow: ['document:read'] }, 'document:write', false],
    ['allowed by *', { allow: ['*'] }, 'document:read', true],
    ['* among names', { allow: ['a', '*'] }, 'anything', true],
    ['allowed, reject empty', { allow: ['document:read'], reject: [] }, 'document:read', true],
    ['allowed, another name rejected', { allow: ['*'], reject: ['document:delete'] }, 'document:read', true],
    ['reject wins over a named allow', { allow: ['document:delete'], reject: ['document:delete'] }, 'document:delete', false],
    ['reject wins over *', { allow: ['*'], reject: ['document:delete'] }, 'document:delete', false],
    ['reject * wins over a named allow', { allow: ['document:read'], reject: ['*'] }, 'document:read', false],
    ['reject * wins over allow *', { allow: ['*'], reject: ['*'] }, 'document:read', false],
    ['document:* is not a pattern in allow', { allow: ['document:*'] }, 'document:read', false],
    ['document:* matches only itself', { allow: ['document:*'] }, 'document:*', true],
    ['document:* is not a pattern in reject', { allow: ['*'], reject: ['document:*'] }, 'document:delete', true],
    ['prefix is not a match', { allow: ['document'] }, 'document:read', false],
    ['longer name is not a match', { allow: ['document:read:all'] }, 'document:read', false],
    ['case matters', { allow: ['Document:Read'] }, 'document:read', false],
    ['no trimming', { allow: ['document:read '] }, 'document:read', false],
  ];
  test.each(cases)('%s', (_name, policy, permission, expected) => {
    expect(isPermitted(policy, permission)).toBe(expected);
  });

  test('isAdmin grants nothing by itself: the policy decides, whatever else the token carries', () => {
    // isPermitted looks at the policy only; a token that is admin but has no policy gets nothing.
    const claims = { isAdmin: true, policy: undefined as Policy | undefined };
    expect(isPermitted(claims.policy, 'document:read')).toBe(false);
    expect(isPermitted(claims.policy, '*')).toBe(false);
  });

  test('the permission `*` is granted only by allow `*`', () => {
    expect(isPermitted({ allow: ['*'] }, '*')).toBe(true);
    expect(isPermitted({ allow: ['document:read'] }, '*')).toBe(false);
  });
});

describe('policyProblem / isPolicy', () => {
  test.each<[string, unknown]>([
    ['empty object', {}],
    ['allow only', { allow: ['a'] }],
    ['reject only', { reject: ['a'] }],
    ['both', { allow: ['*'], reject: ['document:delete'] }],
    ['empty arrays', { allow: [], reject: [] }],
    ['names with spaces inside', { allow: ['read the doc'] }],
    ['256 entries', { allow: Array.from({ length: 256 }, (_, i) => `p${i}`) }],
    ['a 256-character name', { allow: ['x'.repeat(256)] }],
  ])('%s is a policy', (_name, value) => {
    expect(policyProblem(value)).toBeUndefined();
    expect(isPolicy(value)).toBe(true);
  });

  test.each<[string, unknown, RegExp]>([
    ['undefined', undefined, /must be an object/],
    ['null', null, /must be an object/],
    ['a string', '*', /must be an object/],
    ['a number', 1, /must be an object/],
    ['an array', [['*'], []], /must be an object/],
    ['allow a string', { allow: '*' }, /\.allow must be an array/],
    ['reject a string', { allow: ['*'], reject: 'x' }, /\.reject must be an array/],
    ['allow an object', { allow: { a: true } }, /\.allow must be an array/],
    ['allow null', { allow: null }, /\.allow must be an array/],
    ['a number in allow', { allow: [1] }, /\.allow must contain only permission names/],
    ['null in reject', { allow: ['*'], reject: [null] }, /\.reject must contain only permission names/],
    ['an array in allow', { allow: [['a']] }, /\.allow must contain only permission names/],
    ['an empty name', { allow: [''] }, /\.allow must contain only permission names/],
    ['a leading space', { allow: [' a'] }, /\.allow must contain only permission names/],
    ['a control character', { allow: ['a\nb'] }, /\.allow must contain only permission names/],
    ['a non-ASCII name', { allow: ['dokument:lösch'] }, /\.allow must contain only permission names/],
    ['a 257-character name', { allow: ['x'.repeat(257)] }, /\.allow must contain only permission names/],
    ['257 entries', { allow: Array.from({ length: 257 }, (_, i) => `p${i}`) }, /at most 256 entries/],
    ['an unknown member', { allow: ['*'], grant: ['x'] }, /unknown member "grant"/],
  ])('%s is not a policy', (_name, value, reason) => {
    expect(policyProblem(value)).toMatch(reason);
    expect(isPolicy(value)).toBe(false);
  });
});
