/**
 * The audit trail through the API (contract §9), on every store kind: each action produces
 * exactly its event, with its actor, address and request id; an account reads its own events
 * only, the operator every event; no event carries a secret.
 */
import request from 'supertest';
import { runCli } from '../../src/cli';
import { createLogger } from '../../src/http/logging';
import { ADMIN_TOKEN, basicAuth, buildTestGateway, type TestAccount, type TestGateway } from '../helpers/app';
import { rsaKeyPairPem } from '../helpers/keys';
import { memoryDestination } from '../helpers/log';
import { STORE_KINDS } from '../helpers/stores';

type Event = {
  id: string;
  time: string;
  type: string;
  accountId: string | null;
  actor: { kind: string; id: string | null } | null;
  address?: string;
  requestId?: string;
  subject: Record<string, unknown>;
};

describe.each(STORE_KINDS)('the audit trail on the %s store', (kind) => {
  let gw: TestGateway;
  let acme: TestAccount;
  let globex: TestAccount;
  let log: ReturnType<typeof memoryDestination>;
  /** Every secret the test handled: none may appear in any event. */
  const secrets: string[] = [ADMIN_TOKEN];

  beforeEach(async () => {
    log = memoryDestination();
    gw = await buildTestGateway({ store: kind, env: { TRUST_PROXY: '1' }, logger: createLogger('info', log) });
    acme = await gw.createAccount('Acme');
    globex = await gw.createAccount('Globex');
    secrets.push(acme.authToken, globex.authToken);
  });
  afterEach(() => gw.close());

  const admin = (path: string) => request(gw.app).get(path).set('Authorization', `Bearer ${ADMIN_TOKEN}`);
  const adminEvents = async (query = ''): Promise<Event[]> => {
    const res = await admin(`/v1/admin/events${query}`);
    expect(res.status).toBe(200);
    return res.body.result.data.events;
  };
  const accountEvents = async (account: TestAccount, query = ''): Promise<Event[]> => {
    const res = await request(gw.app).get(`/v1/account/events${query}`).set('Authorization', basicAuth(account));
    expect(res.status).toBe(200);
    return res.body.result.data.events;
  };
  /** The events that one call produced: the operator's stream, newer than `before`. */
  const since = async (before: Event[]): Promise<Event[]> => {
    const known = new Set(before.map((e) => e.id));
    return (await adminEvents()).filter((e) => !known.has(e.id));
  };
  const expectNoSecret = (events: Event[]) => {
    const text = JSON.stringify(events);
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/PRIVATE KEY|PUBLIC KEY|eyJ[A-Za-z0-9_-]{10,}\./);
  };

  test('each operator action produces exactly its event, actor admin, with address and request id', async () => {
    let before = await adminEvents();
    const created = await request(gw.app)
      .post('/v1/admin/accounts')
      .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
      .set('X-Forwarded-For', '198.51.100.7')
      .set('X-Request-Id', 'req-create-1')
      .send({ data: { name: 'Initech' } });
    expect(created.status).toBe(201);
    secrets.push(created.body.result.data.authToken);
    const account = created.body.result.data.account;
    let events = await since(before);
    expect(events).toEqual([
      {
        id: expect.stringMatching(/^evt_/),
        time: expect.any(String),
        type: 'account.created',
        accountId: account.id,
        actor: { kind: 'admin', id: null },
        address: '198.51.100.7',
        requestId: 'req-create-1',
        subject: { name: 'Initech', apiKey: account.apiKey, authTokenId: created.body.result.data.authTokenId },
      },
    ]);
    expect(Math.abs(Date.parse(events[0]!.time) - gw.clock.now())).toBeLessThan(1000);

    before = await adminEvents();
    const added = await request(gw.app)
      .post(`/v1/admin/accounts/${account.id}/auth-tokens`)
      .set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    secrets.push(added.body.result.data.authToken);
    events = await since(before);
    expect(events.map((e) => [e.type, e.accountId, e.subject])).toEqual([
      ['auth_token.added', account.id, { authTokenId: added.body.result.data.authTokenId }],
    ]);

    before = await adminEvents();
    await request(gw.app)
      .delete(`/v1/admin/accounts/${account.id}/auth-tokens/${added.body.result.data.authTokenId}`)
      .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
      .expect(200);
    events = await since(before);
    expect(events.map((e) => [e.type, e.accountId, e.subject])).toEqual([
      ['auth_token.removed', account.id, { authTokenId: added.body.result.data.authTokenId }],
    ]);
    // Reading is no event; a refused deletion (unknown id) is none either.
    before = await adminEvents();
    await admin(`/v1/admin/accounts/${account.id}/auth-tokens`).expect(200);
    await request(gw.app)
      .delete(`/v1/admin/accounts/${account.id}/auth-tokens/atk_nope`)
      .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
      .expect(404);
    expect(await since(before)).toEqual([]);
    expectNoSecret(await adminEvents());
  });

  test("each account action produces exactly its event, actor the caller's auth token id", async () => {
    const keys = rsaKeyPairPem();
    let before = await adminEvents();
    const put = await request(gw.app)
      .put('/v1/account/signing-key')
      .set('Authorization', basicAuth(acme))
      .send({ data: { publicKey: keys.publicKey } });
    expect(put.status).toBe(200);
    let events = await since(before);
    expect(events.map((e) => [e.type, e.accountId, e.actor, e.subject])).toEqual([
      ['signing_key.set', acme.account.id, { kind: 'authToken', id: acme.authTokenId }, { thumbprint: put.body.result.data.thumbprint, bits: 2048 }],
    ]);

    before = await adminEvents();
    await request(gw.app).delete('/v1/account/signing-key').set('Authorization', basicAuth(acme)).expect(200);
    expect((await since(before)).map((e) => e.type)).toEqual(['signing_key.removed']);

    // Revocations: a token of the caller's own account is an event; garbage and another
    // account's token are not (the answer is 200 all the same, RFC 7009).
    const { token, data } = await gw.issue(acme, { userId: 'ada' });
    const foreign = (await gw.issue(globex)).token;
    secrets.push(token, foreign);
    before = await adminEvents();
    const revoke = (t: string, account = acme) =>
      request(gw.app).post('/v1/auth/token/revoke').set('Authorization', basicAuth(account)).type('form').send({ token: t }).expect(200);
    await revoke(token);
    await revoke(foreign);
    await revoke('not-a-token');
    events = await since(before);
    expect(events.map((e) => [e.type, e.accountId, e.actor, e.subject])).toEqual([
      ['token.revoked', acme.account.id, { kind: 'authToken', id: acme.authTokenId }, { tokenId: data.tokenId, userId: 'ada' }],
    ]);

    before = await adminEvents();
    const user = await request(gw.app).post('/v1/auth/users/revoke').set('Authorization', basicAuth(acme)).send({ data: { userId: 'ada' } });
    const org = await request(gw.app)
      .post('/v1/auth/organizations/revoke')
      .set('Authorization', basicAuth(acme))
      .send({ data: { organizationId: 'org-1' } });
    events = await since(before);
    expect(events.map((e) => [e.type, e.subject])).toEqual([
      ['organization.revoked', { organizationId: 'org-1', revokedBefore: org.body.result.data.revokedBefore }],
      ['user.revoked', { userId: 'ada', revokedBefore: user.body.result.data.revokedBefore }],
    ]);
    expectNoSecret(await adminEvents());
  });

  test("an account reads its own events only; the operator every event, or one account's", async () => {
    await request(gw.app).post('/v1/auth/users/revoke').set('Authorization', basicAuth(acme)).send({ data: { userId: 'a' } });
    await request(gw.app).post('/v1/auth/users/revoke').set('Authorization', basicAuth(globex)).send({ data: { userId: 'g' } });
    await request(gw.app).get('/v1/admin/events').set('Authorization', 'Bearer wrong-admin-token-000000').expect(401);

    const mine = await accountEvents(acme);
    expect(mine.length).toBeGreaterThan(0);
    expect(new Set(mine.map((e) => e.accountId))).toEqual(new Set([acme.account.id]));
    expect(mine.map((e) => e.type)).toContain('user.revoked');
    expect(mine.map((e) => e.type)).not.toContain('admin.auth_failed');
    // An account cannot name another's stream.
    const other = await request(gw.app).get(`/v1/account/events?accountId=${globex.account.id}`).set('Authorization', basicAuth(acme));
    expect(other.status).toBe(400);
    expect(other.body.error.code).toBe('invalid_argument');
    // Without credentials: 401, nothing read.
    expect((await request(gw.app).get('/v1/account/events')).status).toBe(401);

    const all = await adminEvents();
    expect(new Set(all.map((e) => e.accountId))).toEqual(new Set([acme.account.id, globex.account.id, null]));
    const failed = all.find((e) => e.type === 'admin.auth_failed')!;
    expect(failed).toMatchObject({ accountId: null, actor: null, subject: { method: 'GET', route: '/v1/admin/events' } });
    expect(JSON.stringify(failed)).not.toContain('wrong-admin-token');
    const globexOnly = await adminEvents(`?accountId=${globex.account.id}`);
    expect(globexOnly.length).toBeGreaterThan(0);
    expect(globexOnly.every((e) => e.accountId === globex.account.id)).toBe(true);
    expect((await adminEvents('?type=user.revoked')).map((e) => e.accountId).sort()).toEqual(
      [acme.account.id, globex.account.id].sort(),
    );
  });

  test('pages: limit, nextCursor, null on the last page; bad filters are 400', async () => {
    for (let i = 0; i < 5; i += 1) {
      await request(gw.app).post('/v1/auth/users/revoke').set('Authorization', basicAuth(acme)).send({ data: { userId: `u${i}` } });
    }
    const page = async (query: string) => {
      const res = await request(gw.app).get(`/v1/account/events${query}`).set('Authorization', basicAuth(acme));
      expect(res.status).toBe(200);
      return res.body.result.data as { events: Event[]; nextCursor: string | null };
    };
    const first = await page('?type=user.revoked&limit=2');
    expect(first.events.map((e) => e.subject.userId)).toEqual(['u4', 'u3']);
    const second = await page(`?type=user.revoked&limit=2&cursor=${first.nextCursor}`);
    expect(second.events.map((e) => e.subject.userId)).toEqual(['u2', 'u1']);
    const third = await page(`?type=user.revoked&limit=2&cursor=${second.nextCursor}`);
    expect(third.events.map((e) => e.subject.userId)).toEqual(['u0']);
    expect(third.nextCursor).toBeNull();
    const iso = new Date(gw.clock.now() + 60_000).toISOString();
    expect((await page(`?since=${encodeURIComponent(iso)}`)).events).toEqual([]);
    for (const bad of ['?limit=0', '?limit=501', '?limit=x', '?type=nope', '?since=yesterday', '?cursor=abc', '?limit=1&limit=2', '?until=2026-01-01T00:00:00Z&since=2026-02-01T00:00:00Z']) {
      const res = await request(gw.app).get(`/v1/account/events${bad}`).set('Authorization', basicAuth(acme));
      expect({ bad, status: res.status, code: res.body.error?.code }).toEqual({ bad, status: 400, code: 'invalid_argument' });
    }
  });

  test('a tripped limit is one event per window: an address limit for the operator only, an apiKey limit for its account', async () => {
    const limited = await buildTestGateway({
      store: kind,
      env: { TRUST_PROXY: '1', RATE_LIMIT_FAILED_AUTH_PER_ADDRESS: '3', RATE_LIMIT_FAILED_AUTH_PER_API_KEY: '2' },
    });
    try {
      const victim = await limited.createAccount('Victim');
      const wrong = (apiKey: string, address: string) =>
        request(limited.app).get('/v1/account/me').set('X-Forwarded-For', address).set('Authorization', basicAuth({ apiKey, authToken: 'at_wrong' }));
      // The apiKey limit (2) from three addresses, then more refusals in the same window.
      for (const address of ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4']) await wrong(victim.apiKey, address);
      // The address limit (3), with unknown apiKeys, then more.
      for (let i = 0; i < 6; i += 1) await wrong(`ak_unknown_${i}`, '192.0.2.99');
      const all = await request(limited.app).get('/v1/admin/events?type=rate_limit.tripped').set('Authorization', `Bearer ${ADMIN_TOKEN}`);
      const trips: Event[] = all.body.result.data.events;
      expect(trips.map((e) => [e.accountId, e.subject.limit]).sort()).toEqual(
        [
          [victim.account.id, 'api_key'],
          [null, 'address'],
        ].sort(),
      );
      const address = trips.find((e) => e.subject.limit === 'address')!;
      expect(address).toMatchObject({ actor: null, address: '192.0.2.99', subject: { addressKey: '192.0.2.99' } });
      const own = await request(limited.app).get('/v1/account/events').set('Authorization', basicAuth(victim));
      // (The account was made without the API, so its trip is its only event.)
      expect(own.body.result.data.events.map((e: Event) => e.type)).toEqual(['rate_limit.tripped']);
    } finally {
      await limited.close();
    }
  });

  test('a limit tripped by failed introspections (a check, run outside the request scope) still carries the address and request id', async () => {
    const limited = await buildTestGateway({
      store: kind,
      env: { TRUST_PROXY: '1', RATE_LIMIT_FAILED_AUTH_PER_ADDRESS: '2' },
    });
    try {
      for (let i = 0; i < 3; i += 1) {
        await request(limited.app)
          .post('/v1/auth/token/introspect')
          .set('X-Forwarded-For', '198.51.100.7')
          .set('X-Request-Id', `trip-${i}`)
          .set('Authorization', basicAuth({ apiKey: `ak_nobody_${i}`, authToken: 'at_wrong' }))
          .type('form')
          .send({ token: 'x' });
      }
      const all = await request(limited.app).get('/v1/admin/events?type=rate_limit.tripped').set('Authorization', `Bearer ${ADMIN_TOKEN}`);
      const trips: Event[] = all.body.result.data.events;
      expect(trips).toHaveLength(1);
      expect(trips[0]).toMatchObject({ address: '198.51.100.7', requestId: expect.stringMatching(/^trip-[0-2]$/), subject: { limit: 'address' } });
    } finally {
      await limited.close();
    }
  });

  test('every event is also a JSON line in the log, without secrets', async () => {
    await request(gw.app).post('/v1/auth/users/revoke').set('Authorization', basicAuth(acme)).send({ data: { userId: 'logged' } });
    const lines = log.lines.map((l) => JSON.parse(l) as { msg: string; audit?: Event });
    const audited = lines.filter((l) => l.msg === 'audit event').map((l) => l.audit!);
    expect(audited.map((e) => [e.type, e.subject.userId])).toContainEqual(['user.revoked', 'logged']);
    const stored = (await adminEvents()).find((e) => e.subject.userId === 'logged');
    expect(audited.find((e) => e.id === stored!.id)).toEqual(stored);
    expectNoSecret(audited);
  });

  test('the command-line tool records its actions, actor cli', async () => {
    let out = '';
    await runCli(['accounts', 'create', 'FromCli'], { out: (t) => (out += t), env: {}, store: gw.store });
    const created = JSON.parse(out);
    secrets.push(created.authToken);
    const events = (await adminEvents(`?accountId=${created.account.id}`)).map((e) => [e.type, e.actor]);
    expect(events).toEqual([['account.created', { kind: 'cli', id: null }]]);
  });
});
