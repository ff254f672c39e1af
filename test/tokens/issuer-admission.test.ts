/**
 * Contract §8: forged tokens naming unknown issuers cost, all together, at most a documented
 * number of store reads per second per instance (UNKNOWN_ISSUER_READS_PER_SECOND, default 20),
 * and never evict real accounts from the instance's caches. Shown with spies on the store the
 * gateway reads through, on every store kind, and on the mirror's own hit counters.
 */
import { sign } from 'node:crypto';
import request from 'supertest';
import { ManualClock } from '../../src/clock';
import { MirroredStore, type AccountRecord } from '../../src/store';
import { IssuerAdmission, NEGATIVE_MS } from '../../src/tokens/issuer-admission';
import { basicAuth, buildTestGateway, type TestAccount, type TestGateway } from '../helpers/app';
import { rsaKeyPairPem } from '../helpers/keys';
import { describeWithRedis } from '../helpers/redis';
import { makeStore, STORE_KINDS, type TestStore } from '../helpers/stores';

const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const USER = { userId: 'user-1', organizationId: 'org-1' };

/** A token naming `iss` with a signature nobody made: what a flood of forgeries costs nothing to make. */
const forged = (iss: string, now: number): string =>
  `${encode({ alg: 'RS256' })}.${encode({ iss, sub: USER.userId, organizationId: USER.organizationId, iat: now, exp: now + 600 })}.c2ln`;

function customerToken(iss: string, privateKey: string, now: number): string {
  const input = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode({ iss, sub: USER.userId, organizationId: USER.organizationId, iat: now, exp: now + 600 })}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

describe('IssuerAdmission', () => {
  const account: AccountRecord = { id: 'acc_1', name: 'A', apiKey: 'ak_real', createdAt: '2026-01-01T00:00:00Z' };
  let clock: ManualClock;
  let reads: string[];
  let admission: IssuerAdmission;

  beforeEach(() => {
    clock = new ManualClock(1_000_000);
    reads = [];
    admission = new IssuerAdmission({
      clock,
      readsPerSecond: 5,
      store: {
        findAccountByApiKey: async (apiKey: string) => {
          reads.push(apiKey);
          return apiKey === account.apiKey ? account : null;
        },
      },
    });
  });

  const outcome = (iss: string) =>
    admission.admit(iss).then(
      () => 'admitted',
      (error: { code: string }) => error.code,
    );

  test('spends at most readsPerSecond reads a second on unknown issuers, then refuses with rate_limited', async () => {
    const answers = [];
    for (let i = 0; i < 50; i += 1) answers.push(await outcome(`ak_forged_${i}`));
    expect(answers.slice(0, 5)).toEqual(Array(5).fill('token_invalid'));
    expect(answers.slice(5)).toEqual(Array(45).fill('rate_limited'));
    expect(reads).toHaveLength(5);
    clock.advance(1000);
    for (let i = 50; i < 100; i += 1) await outcome(`ak_forged_${i}`);
    expect(reads).toHaveLength(10);
    // Half a second refills half the budget.
    clock.advance(500);
    for (let i = 100; i < 110; i += 1) await outcome(`ak_forged_${i}`);
    expect(reads).toHaveLength(12);
  });

  test('a known account costs no read, and no flood of forged issuers makes it unknown again', async () => {
    expect(await outcome(account.apiKey)).toBe('admitted');
    expect(reads).toEqual([account.apiKey]);
    for (let second = 0; second < 30; second += 1) {
      for (let i = 0; i < 100; i += 1) await outcome(`ak_flood_${second}_${i}`);
      clock.advance(1000);
    }
    reads.length = 0;
    expect(await outcome(account.apiKey)).toBe('admitted');
    expect(reads).toEqual([]);
  });

  test('an issuer found not to be an account is answered from memory for NEGATIVE_MS, then read again', async () => {
    expect(await outcome('ak_typo')).toBe('token_invalid');
    for (let i = 0; i < 10; i += 1) expect(await outcome('ak_typo')).toBe('token_invalid');
    expect(reads).toEqual(['ak_typo']);
    clock.advance(NEGATIVE_MS);
    expect(await outcome('ak_typo')).toBe('token_invalid');
    expect(reads).toEqual(['ak_typo', 'ak_typo']);
  });

  test('a store failure is passed on (the caller answers 503), and the issuer is not remembered', async () => {
    const failing = new IssuerAdmission({
      clock,
      readsPerSecond: 5,
      store: { findAccountByApiKey: async () => Promise.reject(new Error('down')) },
    });
    await expect(failing.admit('ak_real')).rejects.toThrow('down');
    await expect(failing.admit('ak_real')).rejects.toThrow('down');
  });
});

describe.each(STORE_KINDS)('forged customer tokens on the %s store', (kind) => {
  let gw: TestGateway;
  let acme: TestAccount;
  const acmeKeys = rsaKeyPairPem();

  beforeEach(async () => {
    gw = await buildTestGateway({ store: kind });
    acme = await gw.createAccount('Acme');
    const put = await request(gw.app)
      .put('/v1/account/signing-key')
      .set('Authorization', basicAuth(acme))
      .send({ data: { publicKey: acmeKeys.publicKey } });
    expect(put.status).toBe(200);
  });
  afterEach(() => gw.close());

  const now = () => Math.floor(gw.clock.now() / 1000);
  const identify = (token: string, apiKey = acme.apiKey) =>
    request(gw.app).post('/v1/auth/identify').send({ data: { apiKey, token, user: USER } });

  test('cost at most UNKNOWN_ISSUER_READS_PER_SECOND store reads a second, whatever their number', async () => {
    const budget = gw.config.unknownIssuerReadsPerSecond;
    expect(budget).toBe(20);
    const lookups = jest.spyOn(gw.store, 'findAccountByApiKey');
    const contexts = jest.spyOn(gw.store, 'getTokenContext');
    try {
      const statuses = new Map<number, number>();
      for (let second = 0; second < 3; second += 1) {
        const before = lookups.mock.calls.length;
        for (let i = 0; i < 60; i += 1) {
          const res = await identify(forged(`ak_forged_${second}_${i}`, now()));
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        }
        expect(lookups.mock.calls.length - before).toBeLessThanOrEqual(budget);
        gw.clock.advance(1000);
      }
      // Each forged issuer is token_invalid while the budget lasts, then 429: never a 500.
      expect([...statuses.keys()].sort()).toEqual([401, 429]);
      expect(lookups.mock.calls.length).toBeLessThanOrEqual(3 * budget);
      // Nothing about a forged issuer reaches the account cache (the mirror fills from here).
      expect(contexts).not.toHaveBeenCalled();
    } finally {
      lookups.mockRestore();
      contexts.mockRestore();
    }
  });

  test('never evict a real account: its checks still cost no account lookup, and hit the mirror', async () => {
    const token = customerToken(acme.apiKey, acmeKeys.privateKey, now());
    const mirror = gw.store instanceof MirroredStore ? gw.store : undefined;
    // Right after the account's writes the mirror is confirmed again within a version read (100 ms).
    for (let i = 0; i < 100 && mirror && !mirror.stats.live; i += 1) await new Promise((r) => setTimeout(r, 20));
    expect((await identify(token)).status).toBe(200);
    const lookups = jest.spyOn(gw.store, 'findAccountByApiKey');
    try {
      for (let second = 0; second < 4; second += 1) {
        // Forged tokens need no valid signature: the issuer is read before it could be checked.
        for (let i = 0; i < 40; i += 1) await identify(forged(`ak_flood_${second}_${i}`, now()));
        gw.clock.advance(1000);
      }
      lookups.mockClear();
      const hitsBefore = mirror?.stats.hits ?? 0;
      const missesBefore = mirror?.stats.misses ?? 0;
      // A new token of the real account (so the verified-token cache does not answer).
      const fresh = customerToken(acme.apiKey, acmeKeys.privateKey, now());
      expect((await identify(fresh)).status).toBe(200);
      expect(lookups).not.toHaveBeenCalled();
      if (mirror) {
        expect(mirror.stats.misses).toBe(missesBefore);
        expect(mirror.stats.hits).toBeGreaterThan(hitsBefore);
      }
    } finally {
      lookups.mockRestore();
    }
  });

  test('forward auth and introspection spend no read at all on a foreign issuer', async () => {
    const lookups = jest.spyOn(gw.store, 'findAccountByApiKey');
    try {
      for (let i = 0; i < 40; i += 1) {
        const token = forged(`ak_elsewhere_${i}`, now());
        expect((await request(gw.app).get(`/v1/auth/verify?apiKey=${acme.apiKey}`).set('Authorization', `Bearer ${token}`)).status).toBe(401);
        const introspection = await request(gw.app)
          .post('/v1/auth/token/introspect')
          .set('Authorization', basicAuth(acme))
          .type('form')
          .send({ token });
        expect(introspection.body).toEqual({ active: false });
      }
      expect(lookups).not.toHaveBeenCalled();
    } finally {
      lookups.mockRestore();
    }
  });
});

describeWithRedis('forged issuers and a small mirror', () => {
  // A mirror with room for few accounts, so that anything forged issuers put in it would
  // push the real account out at once.
  const MAX_ACCOUNTS = 8;
  let gw: TestGateway;
  let shared: TestStore;
  let mirror: MirroredStore;
  let acme: TestAccount;
  const acmeKeys = rsaKeyPairPem();

  beforeEach(async () => {
    shared = await makeStore('redis', undefined, { maxAccounts: MAX_ACCOUNTS });
    mirror = shared.store as MirroredStore;
    gw = await buildTestGateway({ store: shared });
    acme = await gw.createAccount('Acme');
    await request(gw.app)
      .put('/v1/account/signing-key')
      .set('Authorization', basicAuth(acme))
      .send({ data: { publicKey: acmeKeys.publicKey } })
      .expect(200);
    const deadline = Date.now() + 5000;
    while (!mirror.stats.live && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(mirror.stats.live).toBe(true);
  });
  afterEach(async () => {
    await gw.close();
    await shared.cleanup();
  });

  test('the real account stays in the mirror through a flood of forged issuers', async () => {
    const identify = (token: string) =>
      request(gw.app).post('/v1/auth/identify').send({ data: { apiKey: acme.apiKey, token, user: USER } });
    const now = () => Math.floor(gw.clock.now() / 1000);
    expect((await identify(customerToken(acme.apiKey, acmeKeys.privateKey, now()))).status).toBe(200);
    // Forged tokens need no valid signature: the issuer is read before it could be checked.
    for (let second = 0; second < 5; second += 1) {
      for (let i = 0; i < 4 * MAX_ACCOUNTS; i += 1) {
        await identify(`${encode({ alg: 'RS256' })}.${encode({ iss: `ak_flood_${second}_${i}`, sub: 'x', iat: now(), exp: now() + 60 })}.c2ln`);
      }
      gw.clock.advance(1000);
    }
    const misses = mirror.stats.misses;
    expect((await identify(customerToken(acme.apiKey, acmeKeys.privateKey, now()))).status).toBe(200);
    expect(mirror.stats.misses).toBe(misses);
  });
});
