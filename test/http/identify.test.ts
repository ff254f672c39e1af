/**
 * Contract §3.1: POST /v1/auth/identify, every status/code pair and the order of the checks,
 * on both stores. Time moves through the ManualClock only.
 */
import request from 'supertest';
import { basicAuth, buildTestGateway, type TestAccount, type TestGateway } from '../helpers/app';
import { STORE_KINDS } from '../helpers/stores';

const USER = { userId: 'user-1', organizationId: 'org-1', email: 'user@example.com' };

describe.each(STORE_KINDS)('identify on the %s store', (kind) => {
  let gw: TestGateway;
  let acme: TestAccount;
  let globex: TestAccount;

  beforeEach(async () => {
    gw = await buildTestGateway({ store: kind });
    acme = await gw.createAccount('Acme');
    globex = await gw.createAccount('Globex');
  });
  afterEach(() => gw.close());

  const identify = (data: Record<string, unknown>) => request(gw.app).post('/v1/auth/identify').send({ data });
  const identifyAs = (account: TestAccount, token: string, user: Record<string, unknown> = USER) =>
    identify({ apiKey: account.apiKey, token, user });

  function expectError(res: request.Response, httpStatus: number, status: string, code: string): void {
    expect(res.status).toBe(httpStatus);
    expect(res.body).toEqual({
      error: { message: expect.any(String), status, code, retryable: false },
    });
    expect(res.body.error.message.length).toBeGreaterThan(0);
  }

  describe('success', () => {
    test('200 "User identified." with exactly userId, organizationId, email, isAdmin, expiresAt', async () => {
      const { token, data } = await gw.issue(acme);
      const res = await identifyAs(acme, token);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        result: {
          status: 'success',
          message: 'User identified.',
          data: {
            userId: 'user-1',
            organizationId: 'org-1',
            email: 'user@example.com',
            isAdmin: false,
            expiresAt: data.expiresAt,
          },
        },
      });
    });

    test('the email is compared case-insensitively', async () => {
      const { token } = await gw.issue(acme, {
        userProperties: { organizationId: 'org-1', email: 'User@Example.COM' },
      });
      const res = await identifyAs(acme, token, { ...USER, email: 'USER@example.com' });
      expect(res.status).toBe(200);
      expect(res.body.result.data.email).toBe('user@example.com');
    });

    test('a token without an email accepts any user.email (the email check applies only when the token has one)', async () => {
      const { token } = await gw.issue(acme, { userProperties: { organizationId: 'org-1', isAdmin: true } });
      const res = await identifyAs(acme, token, { ...USER, email: 'other@example.com' });
      expect(res.status).toBe(200);
      expect(res.body.result.data).toMatchObject({ userId: 'user-1', organizationId: 'org-1', isAdmin: true });
      expect(res.body.result.data.email).toBeUndefined();
    });

    test('still accepted within the clock tolerance after exp', async () => {
      const { token } = await gw.issue(acme, { expiresIn: 60 });
      gw.clock.advanceSeconds(60 + gw.config.clockToleranceSeconds - 1);
      expect((await identifyAs(acme, token)).status).toBe(200);
    });
  });

  describe('each check with its own code', () => {
    test.each([
      ['garbage', 'not-a-jwt'],
      ['an empty string', ''],
      ['three dots of nothing', '..'],
    ])('%s → 401 token_invalid', async (_name, token) => {
      expectError(await identifyAs(acme, token), 401, 'UNAUTHENTICATED', 'token_invalid');
    });

    test('a token with a tampered payload → 401 token_invalid', async () => {
      const { token } = await gw.issue(acme);
      const [h, p, s] = token.split('.');
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8'));
      claims.sub = 'user-2';
      const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
      const res = await identifyAs(acme, forged, { ...USER, userId: 'user-2' });
      expectError(res, 401, 'UNAUTHENTICATED', 'token_invalid');
      expect(res.text).not.toContain(forged);
    });

    test('a token from before now (clock set back past the tolerance) → 401 token_not_yet_valid', async () => {
      const { token } = await gw.issue(acme);
      gw.clock.advanceSeconds(-(gw.config.clockToleranceSeconds + 1));
      expectError(await identifyAs(acme, token), 401, 'UNAUTHENTICATED', 'token_not_yet_valid');
    });

    test('an expired token → 401 token_expired', async () => {
      const { token } = await gw.issue(acme, { expiresIn: 60 });
      gw.clock.advanceSeconds(60 + gw.config.clockToleranceSeconds);
      expectError(await identifyAs(acme, token), 401, 'UNAUTHENTICATED', 'token_expired');
    });

    test("another account's token → 403 account_mismatch", async () => {
      const { token } = await gw.issue(acme);
      expectError(await identifyAs(globex, token), 403, 'PERMISSION_DENIED', 'account_mismatch');
    });

    test('a revoked token → 401 token_revoked', async () => {
      const { token } = await gw.issue(acme);
      const revoked = await request(gw.app)
        .post('/v1/auth/token/revoke')
        .set('Authorization', basicAuth(acme))
        .type('form')
        .send({ token });
      expect(revoked.status).toBe(200);
      expectError(await identifyAs(acme, token), 401, 'UNAUTHENTICATED', 'token_revoked');
    });

    test('another userId → 403 user_mismatch', async () => {
      const { token } = await gw.issue(acme);
      expectError(await identifyAs(acme, token, { ...USER, userId: 'user-2' }), 403, 'PERMISSION_DENIED', 'user_mismatch');
    });

    test('another organizationId → 403 organization_mismatch', async () => {
      const { token } = await gw.issue(acme);
      expectError(
        await identifyAs(acme, token, { ...USER, organizationId: 'org-2' }),
        403,
        'PERMISSION_DENIED',
        'organization_mismatch',
      );
    });

    test('another email → 403 email_mismatch', async () => {
      const { token } = await gw.issue(acme);
      expectError(
        await identifyAs(acme, token, { ...USER, email: 'someone@example.com' }),
        403,
        'PERMISSION_DENIED',
        'email_mismatch',
      );
    });
  });

  describe('the email rule (contract §3.1)', () => {
    test('a token with an email and no user.email → 403 email_mismatch (a missing email is a mismatch)', async () => {
      const { token } = await gw.issue(acme);
      const { email: _omitted, ...withoutEmail } = USER;
      expectError(await identifyAs(acme, token, withoutEmail), 403, 'PERMISSION_DENIED', 'email_mismatch');
    });

    test('a token without an email and no user.email → 200', async () => {
      const { token } = await gw.issue(acme, { userProperties: { organizationId: 'org-1' } });
      const { email: _omitted, ...withoutEmail } = USER;
      const res = await identifyAs(acme, token, withoutEmail);
      expect(res.status).toBe(200);
      expect(res.body.result.data.email).toBeUndefined();
    });
  });

  describe('the order of the checks', () => {
    test('token_invalid comes before everything, even for another account and another user', async () => {
      const res = await identifyAs(globex, 'x.y.z', { userId: 'nobody', organizationId: 'none', email: 'n@o.pe' });
      expectError(res, 401, 'UNAUTHENTICATED', 'token_invalid');
    });

    test('token_not_yet_valid comes before account_mismatch, token_revoked and the user checks', async () => {
      const { token } = await gw.issue(acme);
      await request(gw.app).post('/v1/auth/token/revoke').set('Authorization', basicAuth(acme)).type('form').send({ token });
      gw.clock.advanceSeconds(-3600);
      const res = await identifyAs(globex, token, { userId: 'user-2', organizationId: 'org-2', email: 'x@y.zz' });
      expectError(res, 401, 'UNAUTHENTICATED', 'token_not_yet_valid');
    });

    test('token_expired comes before account_mismatch, token_revoked and the user checks', async () => {
      const { token } = await gw.issue(acme, { expiresIn: 60 });
      await request(gw.app).post('/v1/auth/token/revoke').set('Authorization', basicAuth(acme)).type('form').send({ token });
      gw.clock.advanceSeconds(3600);
      const res = await identifyAs(globex, token, { userId: 'user-2', organizationId: 'org-2', email: 'x@y.zz' });
      expectError(res, 401, 'UNAUTHENTICATED', 'token_expired');
    });

    test('account_mismatch (403) comes before token_revoked and the user checks', async () => {
      const { token } = await gw.issue(acme);
      await request(gw.app).post('/v1/auth/token/revoke').set('Authorization', basicAuth(acme)).type('form').send({ token });
      const res = await identifyAs(globex, token, { userId: 'user-2', organizationId: 'org-2', email: 'x@y.zz' });
      expectError(res, 403, 'PERMISSION_DENIED', 'account_mismatch');
    });

    test('token_revoked comes before user_mismatch, organization_mismatch and email_mismatch', async () => {
      const { token } = await gw.issue(acme);
      await request(gw.app).post('/v1/auth/token/revoke').set('Authorization', basicAuth(acme)).type('form').send({ token });
      const res = await identifyAs(acme, token, { userId: 'user-2', organizationId: 'org-2', email: 'x@y.zz' });
      expectError(res, 401, 'UNAUTHENTICATED', 'token_revoked');
    });

    test('user_mismatch comes before organization_mismatch and email_mismatch', async () => {
      const { token } = await gw.issue(acme);
      const res = await identifyAs(acme, token, { userId: 'user-2', organizationId: 'org-2', email: 'x@y.zz' });
      expectError(res, 403, 'PERMISSION_DENIED', 'user_mismatch');
    });

    test('organization_mismatch comes before email_mismatch', async () => {
      const { token } = await gw.issue(acme);
      const res = await identifyAs(acme, token, { ...USER, organizationId: 'org-2', email: 'x@y.zz' });
      expectError(res, 403, 'PERMISSION_DENIED', 'organization_mismatch');
    });
  });

  describe('revocation by user and organization', () => {
    test('users/revoke rejects the token as token_revoked', async () => {
      const { token } = await gw.issue(acme);
      const res = await request(gw.app)
        .post('/v1/auth/users/revoke')
        .set('Authorization', basicAuth(acme))
        .send({ data: { userId: 'user-1' } });
      expect(res.status).toBe(200);
      expectError(await identifyAs(acme, token), 401, 'UNAUTHENTICATED', 'token_revoked');
    });

    test('organizations/revoke rejects the token as token_revoked', async () => {
      const { token } = await gw.issue(acme);
      const res = await request(gw.app)
        .post('/v1/auth/organizations/revoke')
        .set('Authorization', basicAuth(acme))
        .send({ data: { organizationId: 'org-1' } });
      expect(res.status).toBe(200);
      expectError(await identifyAs(acme, token), 401, 'UNAUTHENTICATED', 'token_revoked');
    });
  });

  describe('the request itself', () => {
    test('a missing user → 400 invalid_argument naming the field', async () => {
      const { token } = await gw.issue(acme);
      const res = await identify({ apiKey: acme.apiKey, token });
      expectError(res, 400, 'INVALID_ARGUMENT', 'invalid_argument');
      expect(res.body.error.message).toBe('data.user is required.');
    });

    test('a missing apiKey → 400 invalid_argument naming the field', async () => {
      const { token } = await gw.issue(acme);
      const res = await identify({ token, user: USER });
      expectError(res, 400, 'INVALID_ARGUMENT', 'invalid_argument');
      expect(res.body.error.message).toBe('data.apiKey is required.');
    });

    test('broken JSON → 400 invalid_json', async () => {
      const res = await request(gw.app).post('/v1/auth/identify').type('json').send('{"data":');
      expectError(res, 400, 'INVALID_ARGUMENT', 'invalid_json');
    });

    test('GET → 405 with Allow', async () => {
      const res = await request(gw.app).get('/v1/auth/identify');
      expectError(res, 405, 'METHOD_NOT_ALLOWED', 'method_not_allowed');
      expect(res.headers.allow).toContain('POST');
    });

    test('no error echoes the token', async () => {
      const { token } = await gw.issue(acme);
      for (const res of [
        await identifyAs(globex, token),
        await identifyAs(acme, token, { ...USER, userId: 'user-2' }),
      ]) {
        expect(res.text).not.toContain(token);
        expect(res.text).not.toContain(token.split('.')[2]!);
      }
    });
  });
});
