/**
 * Contract §6.2 and §6.3: customer-signed tokens wherever gateway tokens are accepted
 * (identify, introspection, forward auth, authorize, revocation), the defences around them
 * (key of the issuing account only, RS256 only, bounded lifetime, well-formed policy), and
 * POST /v1/auth/authorize for both kinds of token. On both stores. The attack table of
 * test/tokens/attacks.test.ts runs here too, with the customer's key (test/helpers/attack-table.ts).
 */
import { generateKeyPairSync } from 'node:crypto';
import { importPKCS8, SignJWT, type JWTPayload } from 'jose';
import request from 'supertest';
import { basicAuth, buildTestGateway, ISSUER, type TestAccount, type TestGateway, forwardAuthPath } from '../helpers/app';
import { describeAttackTable } from '../helpers/attack-table';
import { STORE_KINDS } from '../helpers/stores';

const rsaPair = (bits = 2048) =>
  generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });

// Generated once for the file; only read afterwards.
const customerKey = rsaPair();
const strangerKey = rsaPair();
const otherCustomerKey = rsaPair();

const NOW = Math.floor(Date.now() / 1000);
const DAY = 86_400;

/** Signs `payload` exactly as given (no claim added) with a PKCS#8 RSA key under `alg`. */
async function signWith(privateKeyPem: string, payload: Record<string, unknown>, alg = 'RS256', header: Record<string, unknown> = {}) {
  const key = await importPKCS8(privateKeyPem, alg);
  return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(key);
}

describe.each(STORE_KINDS)('customer-signed tokens on the %s store', (kind) => {
  let gw: TestGateway;
  let acme: TestAccount;
  let other: TestAccount;
  let jtiCounter = 0;

  async function setKey(account: TestAccount, publicKey: string): Promise<void> {
    const res = await request(gw.app)
      .put('/v1/account/signing-key')
      .set('Authorization', basicAuth(account))
      .send({ data: { publicKey } });
    expect(res.status).toBe(200);
  }

  beforeEach(async () => {
    gw = await buildTestGateway({ store: kind });
    gw.clock.set(NOW * 1000);
    acme = await gw.createAccount('Acme');
    other = await gw.createAccount('Other');
    await setKey(acme, customerKey.publicKey);
  });
  afterEach(() => gw.close());

  const now = () => Math.floor(gw.clock.now() / 1000);

  /** The claims of a customer token of acme; a member set to undefined is left out. */
  function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    const t = now();
    const all: Record<string, unknown> = {
      iss: acme.apiKey,
      sub: 'user-1',
      iat: t,
      exp: t + 3600,
      organizationId: 'org-1',
      email: 'Ada@Example.com',
      isAdmin: false,
      jti: `customer-jti-${++jtiCounter}`,
      ...overrides,
    };
    return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined));
  }
  const customerToken = (overrides: Record<string, unknown> = {}, privateKey = customerKey.privateKey) =>
    signWith(privateKey, claims(overrides));

  // The four ways in, each answering "is this token good" in its own shape.
  const identify = (token: string, user: Record<string, unknown> = { userId: 'user-1', organizationId: 'org-1', email: 'ada@example.com' }, apiKey = acme.apiKey) =>
    request(gw.app).post('/v1/auth/identify').send({ data: { apiKey, token, user } });
  const introspect = (token: string, caller: TestAccount = acme) =>
    request(gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(caller)).type('form').send({ token });
  const verify = (token: string, permission?: string) =>
    request(gw.app)
      .get(`/v1/auth/verify?${new URLSearchParams({ apiKey: acme.apiKey, ...(permission === undefined ? {} : { permission }) })}`)
      .set('Authorization', `Bearer ${token}`);
  const authorize = (token: string, permission: string, apiKey = acme.apiKey) =>
    request(gw.app).post('/v1/auth/authorize').send({ data: { apiKey, token, permission } });
  const revoke = (token: string, caller: TestAccount = acme) =>
    request(gw.app).post('/v1/auth/token/revoke').set('Authorization', basicAuth(caller)).type('form').send({ token });
  const revokeUser = (userId: string) =>
    request(gw.app).post('/v1/auth/users/revoke').set('Authorization', basicAuth(acme)).send({ data: { userId } });
  const revokeOrganization = (organizationId: string) =>
    request(gw.app).post('/v1/auth/organizations/revoke').set('Authorization', basicAuth(acme)).send({ data: { organizationId } });

  /** Every way in refuses `token` with `code` (401, introspection inactive). */
  async function expectRefusedEverywhere(token: string, code: string): Promise<void> {
    const id = await identify(token);
    expect({ status: id.status, code: id.body.error?.code }).toEqual({ status: 401, code });
    const fa = await verify(token);
    expect({ status: fa.status, code: fa.body.error?.code }).toEqual({ status: 401, code });
    expect(fa.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token", error_description="/);
    expect(fa.headers['x-auth-user-id']).toBeUndefined();
    const az = await authorize(token, 'document:read');
    expect({ status: az.status, code: az.body.error?.code }).toEqual({ status: 401, code });
    const intro = await introspect(token);
    expect(intro.status).toBe(200);
    expect(intro.body).toEqual({ active: false });
  }

  describe('accepted wherever a gateway token is', () => {
    test('identify', async () => {
      const exp = now() + 3600;
      const res = await identify(await customerToken({ exp, isAdmin: true }));
      expect(res.status).toBe(200);
      expect(res.body.result).toEqual({
        status: 'success',
        message: 'User identified.',
        data: { userId: 'user-1', organizationId: 'org-1', email: 'ada@example.com', isAdmin: true, expiresAt: exp },
      });
    });

    test('identify still checks the user: user_mismatch, organization_mismatch, email_mismatch, account_mismatch', async () => {
      const token = await customerToken();
      const cases: Array<[Record<string, unknown>, string, number, string?]> = [
        [{ userId: 'user-2', organizationId: 'org-1' }, 'user_mismatch', 403],
        [{ userId: 'user-1', organizationId: 'org-2' }, 'organization_mismatch', 403],
        [{ userId: 'user-1', organizationId: 'org-1', email: 'eve@example.com' }, 'email_mismatch', 403],
        [{ userId: 'user-1', organizationId: 'org-1' }, 'account_mismatch', 403, other.apiKey],
      ];
      for (const [user, code, status, apiKey] of cases) {
        const res = await identify(token, user, apiKey);
        expect({ status: res.status, code: res.body.error?.code }).toEqual({ status, code });
      }
    });

    test('introspection: active with its claims for the account; inactive for another account', async () => {
      const t = now();
      const policy = { allow: ['document:read'], reject: [] };
      const token = await customerToken({ iat: t, nbf: t, exp: t + 600, jti: 'abc', policy });
      const res = await introspect(token);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        active: true,
        token_type: 'Bearer',
        client_id: acme.apiKey,
        sub: 'user-1',
        iss: acme.apiKey,
        iat: t,
        nbf: t,
        exp: t + 600,
        jti: 'abc',
        userId: 'user-1',
        organizationId: 'org-1',
        email: 'ada@example.com',
        isAdmin: false,
        policy,
      });
      expect((await introspect(token, other)).body).toEqual({ active: false });
    });

    test('forward auth: 200 with every identity header; empty where the token has no value', async () => {
      const full = await verify(await customerToken({ jti: 'fa-1', isAdmin: true }));
      expect(full.status).toBe(200);
      expect(full.text).toBe('');
      expect(full.headers).toMatchObject({
        'x-auth-user-id': 'user-1',
        'x-auth-organization-id': 'org-1',
        'x-auth-email': 'ada@example.com',
        'x-auth-is-admin': 'true',
        'x-auth-token-id': 'fa-1',
        'x-auth-account': acme.apiKey,
      });
      const bare = await verify(
        await customerToken({ jti: undefined, organizationId: undefined, email: undefined, isAdmin: undefined }),
      );
      expect(bare.status).toBe(200);
      expect(bare.headers).toMatchObject({
        'x-auth-user-id': 'user-1',
        'x-auth-organization-id': '',
        'x-auth-email': '',
        'x-auth-is-admin': 'false',
        'x-auth-token-id': '',
        'x-auth-account': acme.apiKey,
      });
    });

    test('forward auth with ?permission= follows the policy', async () => {
      const token = await customerToken({ policy: { allow: ['*'], reject: ['document:delete'] } });
      expect((await verify(token, 'document:read')).status).toBe(200);
      const denied = await verify(token, 'document:delete');
      expect(denied.status).toBe(403);
      expect(denied.body.error.code).toBe('permission_denied');
      expect(denied.headers['www-authenticate']).toBe('Bearer error="insufficient_scope"');
    });

    test('an optional nbf in the future: token_not_yet_valid; past exp: token_expired', async () => {
      const t = now();
      const early = await customerToken({ nbf: t + 60 });
      const id = await identify(early);
      expect({ status: id.status, code: id.body.error.code }).toEqual({ status: 401, code: 'token_not_yet_valid' });
      const late = await customerToken({ iat: t - 7200, exp: t - 3600 });
      const id2 = await identify(late);
      expect({ status: id2.status, code: id2.body.error.code }).toEqual({ status: 401, code: 'token_expired' });
    });
  });

  describe('revocation', () => {
    test('per token, with a jti: every way in refuses it at once; other tokens are unaffected', async () => {
      const token = await customerToken({ jti: 'to-revoke' });
      const bystander = await customerToken({ jti: 'bystander' });
      expect((await identify(token)).status).toBe(200);
      const res = await revoke(token);
      expect(res.status).toBe(200);
      await expectRefusedEverywhere(token, 'token_revoked');
      expect((await identify(bystander)).status).toBe(200);
    });

    test('per token is keyed on account and jti: a later token with the same jti is revoked too', async () => {
      const token = await customerToken({ jti: 'reused' });
      expect((await revoke(token)).status).toBe(200);
      gw.clock.advanceSeconds(10);
      const again = await customerToken({ jti: 'reused' });
      const res = await identify(again);
      expect({ status: res.status, code: res.body.error.code }).toEqual({ status: 401, code: 'token_revoked' });
    });

    test('another account cannot revoke it (200, nothing happens)', async () => {
      const token = await customerToken({ jti: 'foreign' });
      expect((await revoke(token, other)).status).toBe(200);
      expect((await identify(token)).status).toBe(200);
    });

    test('without a jti: /v1/auth/token/revoke answers 200 but changes nothing; users/revoke revokes it', async () => {
      const token = await customerToken({ jti: undefined });
      expect((await revoke(token)).status).toBe(200);
      expect((await identify(token)).status).toBe(200);
      expect((await verify(token)).status).toBe(200);

      const res = await revokeUser('user-1');
      expect(res.status).toBe(200);
      expect(res.body.result.data).toEqual({ userId: 'user-1', revokedBefore: now() });
      await expectRefusedEverywhere(token, 'token_revoked');

      // A token of a later second is not affected.
      gw.clock.advanceSeconds(1);
      expect((await identify(await customerToken({ jti: undefined }))).status).toBe(200);
    });

    test('per user: with a jti too, and only that user', async () => {
      const token = await customerToken();
      const otherUser = await customerToken({ sub: 'user-2' });
      expect((await revokeUser('user-1')).status).toBe(200);
      await expectRefusedEverywhere(token, 'token_revoked');
      const res = await identify(otherUser, { userId: 'user-2', organizationId: 'org-1', email: 'ada@example.com' });
      expect(res.status).toBe(200);
    });

    test('per organization, with or without a jti; other organizations unaffected', async () => {
      const withJti = await customerToken();
      const withoutJti = await customerToken({ jti: undefined, sub: 'user-2' });
      const elsewhere = await customerToken({ organizationId: 'org-2' });
      const res = await revokeOrganization('org-1');
      expect(res.status).toBe(200);
      expect(res.body.result.data).toEqual({ organizationId: 'org-1', revokedBefore: now() });
      await expectRefusedEverywhere(withJti, 'token_revoked');
      await expectRefusedEverywhere(withoutJti, 'token_revoked');
      expect((await identify(elsewhere, { userId: 'user-1', organizationId: 'org-2', email: 'ada@example.com' })).status).toBe(200);
      gw.clock.advanceSeconds(1);
      expect((await identify(await customerToken())).status).toBe(200);
    });
  });

  describe('verified only with the key of the account named by iss', () => {
    test('signed by another key → token_invalid', async () => {
      await expectRefusedEverywhere(await customerToken({}, strangerKey.privateKey), 'token_invalid');
    });

    test('an unknown iss → token_invalid', async () => {
      await expectRefusedEverywhere(await customerToken({ iss: 'ak_unknownaccount0000000000' }), 'token_invalid');
      await expectRefusedEverywhere(await customerToken({ iss: 'not an api key!' }), 'token_invalid');
    });

    test('iss of an account without a key → token_invalid, even signed by the right key of another account', async () => {
      await expectRefusedEverywhere(await customerToken({ iss: other.apiKey }), 'token_invalid');
    });

    test("iss of another account with a key, signed by acme's key → token_invalid", async () => {
      await setKey(other, otherCustomerKey.publicKey);
      const res = await introspect(await customerToken({ iss: other.apiKey }), other);
      expect(res.body).toEqual({ active: false });
      // The same claims signed by other's own key are fine for other.
      const good = await introspect(await customerToken({ iss: other.apiKey }, otherCustomerKey.privateKey), other);
      expect(good.body).toMatchObject({ active: true, client_id: other.apiKey });
    });

    test('iss set to the gateway issuer: checked as a gateway token, so the customer key cannot sign one', async () => {
      await expectRefusedEverywhere(await customerToken({ iss: ISSUER, aud: acme.apiKey }), 'token_invalid');
    });

    test('no iss → token_invalid', async () => {
      await expectRefusedEverywhere(await customerToken({ iss: undefined }), 'token_invalid');
    });

    test('after DELETE of the key → token_invalid at once', async () => {
      const token = await customerToken();
      expect((await identify(token)).status).toBe(200);
      expect((await request(gw.app).delete('/v1/account/signing-key').set('Authorization', basicAuth(acme))).status).toBe(200);
      await expectRefusedEverywhere(token, 'token_invalid');
    });
  });

  describe('claims', () => {
    test('a lifetime of exactly CUSTOMER_TOKEN_MAX_TTL (48 h by default) is accepted; one second more is token_invalid', async () => {
      const t = now();
      expect((await identify(await customerToken({ iat: t, exp: t + 2 * DAY }))).status).toBe(200);
      await expectRefusedEverywhere(await customerToken({ iat: t, exp: t + 2 * DAY + 1 }), 'token_invalid');
      await expectRefusedEverywhere(await customerToken({ iat: t, exp: t + 30 * DAY }), 'token_invalid');
    });

    test.each<[string, Record<string, unknown>]>([
      ['no exp', { exp: undefined }],
      ['no iat', { iat: undefined }],
      ['exp a string', { exp: 'tomorrow' }],
      ['iat a string', { iat: String(NOW) }],
      ['exp before iat', { iat: NOW, exp: NOW - 1 }],
      ['no sub', { sub: undefined }],
      ['sub a number', { sub: 42 }],
      ['isAdmin a string', { isAdmin: 'true' }],
      ['jti a number', { jti: 7 }],
      ['organizationId with a newline', { organizationId: 'org\n1' }],
      ['email a number', { email: 5 }],
      ['aud a number', { aud: 5 }],
      // Claims that forward auth copies into X-Auth-* headers: never a 500, never an injected header.
      ['email with a newline', { email: 'a\nb@example.com' }],
      ['email beyond ASCII', { email: '中@example.com' }],
      ['jti with CR LF', { jti: 'a\r\nX-Injected: 1' }],
      ['jti beyond ASCII', { jti: 'jti-中' }],
      ['jti empty', { jti: '' }],
    ])('%s → token_invalid', async (_name, overrides) => {
      await expectRefusedEverywhere(await customerToken(overrides), 'token_invalid');
    });

    test.each<[string, unknown]>([
      ['a string', '*'],
      ['an array', [['*'], []]],
      ['null', null],
      ['allow a string', { allow: '*' }],
      ['reject an object', { allow: ['*'], reject: { 'document:delete': true } }],
      ['a number in allow', { allow: [1] }],
      ['null in reject', { allow: ['*'], reject: [null] }],
      ['an unknown member', { allow: ['*'], deny: ['x'] }],
    ])('a policy that is %s → token_invalid', async (_name, policy) => {
      await expectRefusedEverywhere(await customerToken({ policy }), 'token_invalid');
    });
  });

  // The attack table with the customer's key (HS256/HS384 with its PEM as the secret, alg none,
  // RS384 to PS512 with the right key, stripped or tampered signatures, jku/x5u/jwk/x5c/crit,
  // structure, size, time, revocation): describeAttackTable('customer') below.
});

// The attack table of test/tokens/attacks.test.ts, signed with a customer's uploaded key
// (iss = the account's apiKey, no kid), on every store kind.
describeAttackTable('customer');

describe.each(STORE_KINDS)('CUSTOMER_TOKEN_MAX_TTL=600 on the %s store', (kind) => {
  let gw: TestGateway;
  let acme: TestAccount;
  beforeEach(async () => {
    gw = await buildTestGateway({ store: kind, env: { CUSTOMER_TOKEN_MAX_TTL: '600' } });
    gw.clock.set(NOW * 1000);
    acme = await gw.createAccount('Acme');
    await request(gw.app)
      .put('/v1/account/signing-key')
      .set('Authorization', basicAuth(acme))
      .send({ data: { publicKey: customerKey.publicKey } })
      .expect(200);
  });
  afterEach(() => gw.close());

  const token = (lifetime: number) =>
    signWith(customerKey.privateKey, { iss: acme.apiKey, sub: 'user-1', iat: NOW, exp: NOW + lifetime, jti: `ttl-${lifetime}` });
  const identify = async (lifetime: number) =>
    request(gw.app)
      .post('/v1/auth/identify')
      .send({ data: { apiKey: acme.apiKey, token: await token(lifetime), user: { userId: 'user-1' } } });

  test('600 s is accepted, 601 s is token_invalid', async () => {
    expect((await identify(600)).status).toBe(200);
    const res = await identify(601);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('token_invalid');
  });

  test('gateway tokens keep their own limit', async () => {
    const { token: gatewayToken } = await gw.issue(acme, { expiresIn: 3600 });
    const res = await request(gw.app).get(forwardAuthPath(gatewayToken)).set('Authorization', `Bearer ${gatewayToken}`);
    expect(res.status).toBe(200);
  });
});

describe.each(STORE_KINDS)('POST /v1/auth/authorize on the %s store', (kind) => {
  let gw: TestGateway;
  let acme: TestAccount;
  let other: TestAccount;
  beforeEach(async () => {
    gw = await buildTestGateway({ store: kind });
    gw.clock.set(NOW * 1000);
    acme = await gw.createAccount('Acme');
    other = await gw.createAccount('Other');
    await request(gw.app)
      .put('/v1/account/signing-key')
      .set('Authorization', basicAuth(acme))
      .send({ data: { publicKey: customerKey.publicKey } })
      .expect(200);
  });
  afterEach(() => gw.close());

  const now = () => Math.floor(gw.clock.now() / 1000);
  const authorize = (token: string, permission: unknown, apiKey = acme.apiKey) =>
    request(gw.app).post('/v1/auth/authorize').send({ data: { apiKey, token, permission } });

  const gatewayToken = async (policy?: unknown, overrides: Record<string, unknown> = {}) =>
    (await gw.issue(acme, { ...(policy === undefined ? {} : { policy }), ...overrides })).token;
  const customerToken = (policy?: unknown, overrides: Record<string, unknown> = {}) =>
    signWith(customerKey.privateKey, {
      iss: acme.apiKey,
      sub: 'user-1',
      organizationId: 'org-1',
      iat: now(),
      exp: now() + 3600,
      jti: `az-${Math.random().toString(36).slice(2)}`,
      ...(policy === undefined ? {} : { policy }),
      ...overrides,
    });

  const makers: Array<[string, (policy?: unknown, overrides?: Record<string, unknown>) => Promise<string>]> = [
    ['a gateway token', (p, o) => gatewayToken(p, o)],
    ['a customer token', (p, o) => customerToken(p, o)],
  ];

  describe.each(makers)('with %s', (_kind, make) => {
    const policy = { allow: ['*'], reject: ['document:delete'] };

    test('a granted permission → 200 {allowed: true}', async () => {
      const res = await authorize(await make(policy), 'calendar:delete');
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({ result: { status: 'success', message: 'Permission granted.', data: { allowed: true } } });
    });

    test('a rejected permission → 403 permission_denied (reject wins over *)', async () => {
      const res = await authorize(await make(policy), 'document:delete');
      expect(res.status).toBe(403);
      expect(res.body.error).toEqual({
        message: 'The token does not grant this permission.',
        status: 'PERMISSION_DENIED',
        code: 'permission_denied',
        retryable: false,
      });
    });

    test.each<[string, unknown, string, number]>([
      ['named allow', { allow: ['document:read'] }, 'document:read', 200],
      ['not in allow', { allow: ['document:read'] }, 'document:write', 403],
      ['document:* is not a pattern', { allow: ['document:*'] }, 'document:read', 403],
      ['reject only', { reject: ['x'] }, 'document:read', 403],
      ['empty policy', {}, 'document:read', 403],
      ['reject * beats everything', { allow: ['*'], reject: ['*'] }, 'document:read', 403],
    ])('%s', async (_name, p, permission, status) => {
      expect((await authorize(await make(p), permission)).status).toBe(status);
    });

    test('no policy → 403, even for an admin', async () => {
      const token = await make(undefined, _kind === 'a gateway token' ? { userProperties: { organizationId: 'org-1', isAdmin: true } } : { isAdmin: true });
      const res = await authorize(token, 'document:read');
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('permission_denied');
    });

    test('the token checks of 3.1 come first, with their codes', async () => {
      // Each token below would be denied the permission anyway: the token's own fault is reported.
      const good = await make({ allow: ['document:read'] });
      const expectCode = async (token: string, permission: string, status: number, code: string, apiKey?: string) => {
        const res = await authorize(token, permission, apiKey);
        expect({ status: res.status, code: res.body.error?.code }).toEqual({ status, code });
      };
      await expectCode('not.a.token', 'document:write', 401, 'token_invalid');
      await expectCode(`${good.slice(0, -4)}AAAA`, 'document:write', 401, 'token_invalid');
      await expectCode(good, 'document:write', 403, 'account_mismatch', other.apiKey);

      const future = Math.floor(gw.clock.now() / 1000);
      gw.clock.advanceSeconds(-3600);
      await expectCode(good, 'document:write', 401, 'token_not_yet_valid');
      gw.clock.set(future * 1000 + 2 * 86_400 * 1000 + 60_000);
      await expectCode(good, 'document:write', 401, 'token_expired');
      gw.clock.set(future * 1000);

      expect(
        (await request(gw.app).post('/v1/auth/users/revoke').set('Authorization', basicAuth(acme)).send({ data: { userId: 'user-1' } })).status,
      ).toBe(200);
      await expectCode(good, 'document:write', 401, 'token_revoked');
      await expectCode(good, 'document:read', 401, 'token_revoked');
    });
  });

  test('a missing token or a bad permission name → 400 invalid_argument naming the field', async () => {
    const token = await gatewayToken({ allow: ['*'] });
    const noToken = await request(gw.app).post('/v1/auth/authorize').send({ data: { apiKey: acme.apiKey, permission: 'x' } });
    expect(noToken.status).toBe(400);
    expect(noToken.body.error).toMatchObject({ code: 'invalid_argument', message: 'data.token is required.' });
    for (const permission of ['', ' x', 'dokument:lösch', 'x'.repeat(257)]) {
      const res = await authorize(token, permission);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_argument');
      expect(res.body.error.message).toMatch(/^data\.permission /);
    }
    const notString = await authorize(token, 5);
    expect(notString.status).toBe(400);
    expect(notString.body.error.message).toBe('data.permission must be a string.');
  });

  describe('issuance refuses a policy that is not two arrays of permission names', () => {
    test.each<[string, unknown, RegExp]>([
      ['a string', '*', /^data\.policy must be an object\.$/],
      ['an array', [['*']], /^data\.policy must be an object\.$/],
      ['null', null, /^data\.policy must be an object\.$/],
      ['allow a string', { allow: '*' }, /^data\.policy\.allow must be an array/],
      ['a number in reject', { allow: ['*'], reject: [1] }, /^data\.policy\.reject must contain only permission names/],
      ['an unknown member', { allow: ['*'], deny: [] }, /^data\.policy has an unknown member "deny"\.$/],
    ])('%s → 400 invalid_argument naming data.policy', async (_name, policy, message) => {
      const res = await request(gw.app)
        .post('/v1/auth/token/get')
        .send({
          data: { apiKey: acme.apiKey, authToken: acme.authToken, userId: 'user-1', userProperties: { organizationId: 'org-1' }, policy },
        });
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual({
        message: expect.stringMatching(message),
        status: 'INVALID_ARGUMENT',
        code: 'invalid_argument',
        retryable: false,
      });
      expect(res.body.result).toBeUndefined();
    });

    test('the policy given at issuance is in the token and introspection shows it', async () => {
      const policy = { allow: ['document:read'], reject: ['document:delete'] };
      const token = await gatewayToken(policy);
      const res = await request(gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(acme)).type('form').send({ token });
      expect(res.body).toMatchObject({ active: true, policy });
    });
  });
});
