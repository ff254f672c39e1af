/**
 * Contract §3.3: forward auth answers for named accounts only (`?apiKey=` or
 * FORWARD_AUTH_API_KEYS), never for "any account". The attack it stops: account Evil mints a
 * token for `victim-ceo` with isAdmin and `allow: ["*"]`, and a sidecar that took any valid
 * token let it into the victim's application as its admin.
 */
import { sign } from 'node:crypto';
import request from 'supertest';
import { ManualClock } from '../../src/clock';
import * as jws from '../../src/tokens/jws';
import { basicAuth, buildTestGateway, type TestAccount, type TestGateway } from '../helpers/app';
import { rsaKeyPairPem } from '../helpers/keys';
import { makeStore, STORE_KINDS, type TestStore } from '../helpers/stores';

const PATH = '/v1/auth/verify';
const ADMIN_CLAIMS = {
  userId: 'victim-ceo',
  userProperties: { organizationId: 'victim-org', email: 'ceo@victim.example', isAdmin: true },
  policy: { allow: ['*'] },
};

const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A customer token signed with `privateKey`, as the account `iss` would sign it. */
function customerToken(iss: string, privateKey: string, now: number, claims: Record<string, unknown> = {}): string {
  const input = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode({
    iss,
    sub: 'victim-ceo',
    organizationId: 'victim-org',
    isAdmin: true,
    policy: { allow: ['*'] },
    iat: now,
    exp: now + 600,
    jti: `j-${Math.random()}`,
    ...claims,
  })}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

function expectForeignRefusal(res: request.Response): void {
  expect(res.status).toBe(401);
  expect(res.body.error).toMatchObject({ code: 'token_invalid', status: 'UNAUTHENTICATED', retryable: false });
  expect(res.body.error.message).toMatch(/another account/);
  expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token", error_description=".*another account/);
  for (const name of ['x-auth-user-id', 'x-auth-is-admin', 'x-auth-account']) expect(res.headers[name]).toBeUndefined();
}

describe.each(STORE_KINDS)('forward auth scoped to accounts on the %s store', (kind) => {
  let shared: TestStore;
  let clock: ManualClock;
  let gw: TestGateway;
  let victim: TestAccount;
  let evil: TestAccount;
  const evilKeys = rsaKeyPairPem();

  beforeEach(async () => {
    clock = new ManualClock(Date.now());
    shared = await makeStore(kind, clock);
    gw = await buildTestGateway({ store: shared, clock });
    victim = await gw.createAccount('Victim');
    evil = await gw.createAccount('Evil');
    const put = await request(gw.app)
      .put('/v1/account/signing-key')
      .set('Authorization', basicAuth(evil))
      .send({ data: { publicKey: evilKeys.publicKey } });
    expect(put.status).toBe(200);
  });
  afterEach(async () => {
    await gw.close();
    await shared.cleanup();
  });

  const now = () => Math.floor(clock.now() / 1000);
  const forward = (token: string | undefined, query: string, app = gw.app) => {
    const req = request(app).get(`${PATH}${query}`);
    return token === undefined ? req : req.set('Authorization', `Bearer ${token}`);
  };

  describe('another tenant walking in as the victim\'s admin', () => {
    test("Evil's gateway-signed admin token is 401 token_invalid for the victim's sidecar", async () => {
      const { token } = await gw.issue(evil, ADMIN_CLAIMS);
      expectForeignRefusal(await forward(token, `?apiKey=${victim.apiKey}&permission=admin:access`));
      // The same token is good for Evil's own application: the refusal is the scope's doing.
      const own = await forward(token, `?apiKey=${evil.apiKey}&permission=admin:access`);
      expect(own.status).toBe(200);
      expect(own.headers['x-auth-account']).toBe(evil.apiKey);
    });

    test("Evil's customer-signed admin token is 401 token_invalid for the victim's sidecar", async () => {
      const token = customerToken(evil.apiKey, evilKeys.privateKey, now());
      expectForeignRefusal(await forward(token, `?apiKey=${victim.apiKey}&permission=admin:access`));
      expect((await forward(token, `?apiKey=${evil.apiKey}&permission=admin:access`)).status).toBe(200);
    });

    test('a customer token claiming the victim as issuer but signed by Evil fails its signature', async () => {
      const token = customerToken(victim.apiKey, evilKeys.privateKey, now());
      const res = await forward(token, `?apiKey=${victim.apiKey}`);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('token_invalid');
    });

    test('a foreign token costs no signature check and no store read', async () => {
      const gatewayToken = (await gw.issue(evil, ADMIN_CLAIMS)).token;
      const customer = customerToken(evil.apiKey, evilKeys.privateKey, now());
      // A forged signature too: it must be refused for its account, never even looked at.
      const forged = `${gatewayToken.slice(0, gatewayToken.lastIndexOf('.'))}.${'A'.repeat(20)}`;
      const signatures = jest.spyOn(jws, 'verifySignature');
      const contexts = jest.spyOn(gw.store, 'getTokenContext');
      const lookups = jest.spyOn(gw.store, 'findAccountByApiKey');
      try {
        for (const token of [gatewayToken, customer, forged]) {
          expectForeignRefusal(await forward(token, `?apiKey=${victim.apiKey}`));
        }
        expect(signatures).not.toHaveBeenCalled();
        expect(contexts).not.toHaveBeenCalled();
        expect(lookups).not.toHaveBeenCalled();
        // A token of the named account does reach both: the spies see what they should.
        await forward((await gw.issue(victim)).token, `?apiKey=${victim.apiKey}`).expect(200);
        expect(signatures).toHaveBeenCalled();
        expect(contexts).toHaveBeenCalled();
      } finally {
        signatures.mockRestore();
        contexts.mockRestore();
        lookups.mockRestore();
      }
    });

    test("a token verified before for its own account is still refused for another's (the cache keeps the scope)", async () => {
      const { token } = await gw.issue(evil, ADMIN_CLAIMS);
      expect((await forward(token, `?apiKey=${evil.apiKey}`)).status).toBe(200);
      expectForeignRefusal(await forward(token, `?apiKey=${victim.apiKey}`));
    });
  });

  describe('naming the accounts', () => {
    test('with neither ?apiKey= nor FORWARD_AUTH_API_KEYS every request is 400, naming both', async () => {
      const { token } = await gw.issue(victim);
      for (const res of [await forward(token, ''), await forward(undefined, ''), await forward(token, '?permission=a')]) {
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({ code: 'invalid_argument', status: 'INVALID_ARGUMENT', retryable: false });
        expect(res.body.error.message).toContain('apiKey');
        expect(res.body.error.message).toContain('FORWARD_AUTH_API_KEYS');
        expect(res.headers['x-auth-user-id']).toBeUndefined();
      }
    });

    test('a repeated or malformed apiKey is 400, before token_missing', async () => {
      for (const query of [`?apiKey=${victim.apiKey}&apiKey=${victim.apiKey}`, '?apiKey=', '?apiKey=a%20b', '?apiKey[x]=1']) {
        const res = await forward(undefined, query);
        expect({ query, status: res.status, code: res.body.error?.code }).toEqual({ query, status: 400, code: 'invalid_argument' });
      }
      // Scoped and without a token: token_missing.
      const missing = await forward(undefined, `?apiKey=${victim.apiKey}`);
      expect(missing.status).toBe(401);
      expect(missing.body.error.code).toBe('token_missing');
    });

    test('an apiKey that names no account: every token is 401 token_invalid, never a 400', async () => {
      const { token } = await gw.issue(victim);
      const res = await forward(token, '?apiKey=ak_no_such_account');
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('token_invalid');
    });

    test('FORWARD_AUTH_API_KEYS scopes requests that name no account; a named one must be among them', async () => {
      const sidecar = await buildTestGateway({
        store: shared,
        clock,
        keysDir: gw.keysDir,
        env: { FORWARD_AUTH_API_KEYS: ` ${victim.apiKey} , ak_another ` },
      });
      try {
        const victimToken = (await gw.issue(victim)).token;
        const evilToken = (await gw.issue(evil, ADMIN_CLAIMS)).token;
        const allowed = await forward(victimToken, '', sidecar.app);
        expect(allowed.status).toBe(200);
        expect(allowed.headers['x-auth-account']).toBe(victim.apiKey);
        expectForeignRefusal(await forward(evilToken, '', sidecar.app));
        expectForeignRefusal(await forward(customerToken(evil.apiKey, evilKeys.privateKey, now()), '', sidecar.app));
        // Naming one of the setting's accounts narrows to it; naming another is 400.
        expect((await forward(victimToken, `?apiKey=${victim.apiKey}`, sidecar.app)).status).toBe(200);
        const outside = await forward(evilToken, `?apiKey=${evil.apiKey}`, sidecar.app);
        expect(outside.status).toBe(400);
        expect(outside.body.error.code).toBe('invalid_argument');
        expect(outside.body.error.message).toContain('FORWARD_AUTH_API_KEYS');
      } finally {
        await sidecar.close();
      }
    });
  });
});

describe('FORWARD_AUTH_API_KEYS setting', () => {
  test('refuses a value that is not a list of apiKeys, naming the variable', async () => {
    await expect(buildTestGateway({ env: { FORWARD_AUTH_API_KEYS: 'ak_good,not an apikey' } })).rejects.toThrow(
      /FORWARD_AUTH_API_KEYS/,
    );
  });
});
