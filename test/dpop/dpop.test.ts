/**
 * Sender-constrained tokens (RFC 9449; contract §10) on every store kind: issuance binds a
 * token to a key, introspection reports the binding, and identify, authorize and forward auth
 * accept a bound token only with a valid proof for their request. Every way a proof can be
 * wrong is refused with 401 invalid_dpop_proof and a DPoP challenge.
 */
import request from 'supertest';
import { ManualClock } from '../../src/clock';
import { basicAuth, buildTestGateway, ISSUER, type TestAccount, type TestGateway } from '../helpers/app';
import { dpopKey, makeProof, type DpopKey, type ProofFields } from '../helpers/dpop';
import { rsaKeyPairPem } from '../helpers/keys';
import { makeStore, STORE_KINDS, type TestStore } from '../helpers/stores';
import { sign } from 'node:crypto';

const USER = { userId: 'user-1', organizationId: 'org-1', email: 'user@example.com' };
const IDENTIFY_URL = `${ISSUER}/v1/auth/identify`;
const AUTHORIZE_URL = `${ISSUER}/v1/auth/authorize`;
/** The original request a proxy describes to forward auth. */
const ORIGINAL = { method: 'GET', proto: 'https', host: 'app.example.com', uri: '/documents/7?x=1' };
const ORIGINAL_URL = 'https://app.example.com/documents/7';

function expectProofRefused(res: request.Response, code = 'invalid_dpop_proof'): void {
  expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 401, code });
  expect(res.headers['www-authenticate']).toMatch(new RegExp(`^DPoP error="${code}"`));
  expect(res.headers['x-auth-user-id']).toBeUndefined();
}

describe.each(STORE_KINDS)('DPoP on the %s store', (kind) => {
  let shared: TestStore;
  let clock: ManualClock;
  let gw: TestGateway;
  let acme: TestAccount;
  let key: DpopKey;

  beforeEach(async () => {
    clock = new ManualClock(Date.now());
    shared = await makeStore(kind, clock);
    gw = await buildTestGateway({ store: shared, clock });
    acme = await gw.createAccount('Acme');
    key = dpopKey('ES256');
  });
  afterEach(async () => {
    await gw.close();
    await shared.cleanup();
  });

  const now = () => Math.floor(clock.now() / 1000);
  const bound = async (jkt = key.jkt, extra: Record<string, unknown> = {}) => {
    const { token, data } = await gw.issue(acme, { dpopJkt: jkt, policy: { allow: ['document:read'] }, ...extra });
    return { token, data };
  };
  const identify = (token: string, proofs: string[] = [], app = gw.app) => {
    let req = request(app).post('/v1/auth/identify');
    // Two proofs go as two header lines.
    if (proofs.length > 0) req = req.set('DPoP', (proofs.length === 1 ? proofs[0] : proofs) as string);
    return req.send({ data: { apiKey: acme.apiKey, token, user: USER } });
  };
  const proofFor = (token: string, over: Partial<ProofFields> = {}, k: DpopKey = key) =>
    makeProof(k, { htm: 'POST', htu: IDENTIFY_URL, token, iat: now(), ...over });
  const forward = (
    authorization: string,
    proof: string | undefined,
    headers: Record<string, string> = {
      'X-Forwarded-Method': ORIGINAL.method,
      'X-Forwarded-Proto': ORIGINAL.proto,
      'X-Forwarded-Host': ORIGINAL.host,
      'X-Forwarded-Uri': ORIGINAL.uri,
    },
    query = '',
  ) => {
    let req = request(gw.app).get(`/v1/auth/verify?apiKey=${acme.apiKey}${query}`).set('Authorization', authorization);
    for (const [name, value] of Object.entries(headers)) req = req.set(name, value);
    return proof === undefined ? req : req.set('DPoP', proof);
  };
  const forwardProof = (token: string, over: Partial<ProofFields> = {}) =>
    makeProof(key, { htm: ORIGINAL.method, htu: ORIGINAL_URL, token, iat: now(), ...over });

  describe('issuance and introspection', () => {
    test('dpopJkt binds the token: cnf.jkt in it, tokenType DPoP; introspection reports both, with no proof', async () => {
      const { token, data } = await bound();
      expect(data.tokenType).toBe('DPoP');
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
      expect(claims.cnf).toEqual({ jkt: key.jkt });
      const info = await request(gw.app).post('/v1/auth/token/introspect').set('Authorization', basicAuth(acme)).type('form').send({ token });
      expect(info.body).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } });
      const plain = (await gw.issue(acme)).data;
      expect(plain.tokenType).toBe('Bearer');
    });

    test('a dpopJkt that is not a thumbprint is 400 and issues nothing', async () => {
      for (const dpopJkt of ['short', `${key.jkt}x`, 'a'.repeat(42) + '=', 42]) {
        const res = await request(gw.app)
          .post('/v1/auth/token/get')
          .send({ data: { apiKey: acme.apiKey, authToken: acme.authToken, userId: 'u', userProperties: { organizationId: 'o' }, dpopJkt } });
        expect({ status: res.status, code: res.body.error?.code, message: res.body.error?.message }).toEqual({
          status: 400,
          code: 'invalid_argument',
          message: expect.stringContaining('data.dpopJkt'),
        });
      }
    });
  });

  describe('identify', () => {
    test('a bound token with its proof is identified; without one it is refused', async () => {
      const { token } = await bound();
      expectProofRefused(await identify(token));
      const ok = await identify(token, [proofFor(token)]);
      expect(ok.status).toBe(200);
      expect(ok.body.result.data.userId).toBe('user-1');
    });

    test.each(['ES256', 'EdDSA', 'RS256', 'PS256'] as const)('a proof signed with %s is accepted', async (alg) => {
      const k = dpopKey(alg);
      const { token } = await bound(k.jkt);
      expect((await identify(token, [proofFor(token, {}, k)])).status).toBe(200);
    });

    test('every wrong proof is refused: replay, time, method, URL, token, key, type, algorithm, size, count', async () => {
      const { token } = await bound();
      const other = dpopKey('ES256');
      const used = proofFor(token);
      expect((await identify(token, [used])).status).toBe(200);
      const cases: Array<[string, string[]]> = [
        ['replayed', [used]],
        ['iat 61 s + tolerance ahead', [proofFor(token, { iat: now() + 61 + 5 + 1 })]],
        ['iat too old', [proofFor(token, { iat: now() - 67 })]],
        ['another method', [proofFor(token, { htm: 'GET' })]],
        ['another URL', [proofFor(token, { htu: `${ISSUER}/v1/auth/authorize` })]],
        ['another host', [proofFor(token, { htu: 'https://evil.test/v1/auth/identify' })]],
        ['no htu', [proofFor(token, { payload: { htu: undefined } })]],
        ['another token', [proofFor(token, { payload: { ath: 'A'.repeat(43) } })]],
        ['no ath', [proofFor(token, { payload: { ath: undefined } })]],
        ['no jti', [proofFor(token, { payload: { jti: undefined } })]],
        ["another key's proof", [proofFor(token, {}, other)]],
        ["another key's jwk in the header", [proofFor(token, { header: { jwk: other.jwk } })]],
        ['typ JWT', [proofFor(token, { header: { typ: 'JWT' } })]],
        ['alg none', [proofFor(token, { header: { alg: 'none' } })]],
        ['alg HS256', [proofFor(token, { header: { alg: 'HS256' } })]],
        ['alg not the key type', [proofFor(token, { header: { alg: 'RS256' } })]],
        ['a private jwk', [proofFor(token, { header: { jwk: { ...key.jwk, d: 'AAAA' } } })]],
        ['over 8 KiB', [proofFor(token, { payload: { pad: 'x'.repeat(8 * 1024) } })]],
        ['two proofs', [proofFor(token), proofFor(token)]],
        ['garbage', ['not.a.proof']],
      ];
      for (const [name, proofs] of cases) {
        const res = await identify(token, proofs);
        expect({ name, status: res.status, code: res.body.error?.code }).toEqual({ name, status: 401, code: 'invalid_dpop_proof' });
        expect(res.headers['www-authenticate']).toMatch(/^DPoP error="invalid_dpop_proof"/);
      }
    });

    test('an RSA proof key under 2048 or over 4096 bits is refused', async () => {
      for (const bits of [1024, 4096 + 64]) {
        const k = dpopKey('RS256', bits);
        const { token } = await bound(k.jkt);
        expectProofRefused(await identify(token, [proofFor(token, {}, k)]));
      }
    }, 60_000);

    test('the order: token_revoked before the proof, the proof before user_mismatch', async () => {
      const { token } = await bound();
      const wrongUser = await request(gw.app)
        .post('/v1/auth/identify')
        .set('DPoP', proofFor(token, { htu: 'https://elsewhere.test/x' }))
        .send({ data: { apiKey: acme.apiKey, token, user: { ...USER, userId: 'someone-else' } } });
      expectProofRefused(wrongUser);
      await request(gw.app).post('/v1/auth/token/revoke').set('Authorization', basicAuth(acme)).type('form').send({ token }).expect(200);
      const revoked = await identify(token);
      expect(revoked.body.error.code).toBe('token_revoked');
    });

    test('a proof sent with an unbound token is ignored', async () => {
      const { token } = await gw.issue(acme);
      expect((await identify(token, [proofFor(token, { htu: 'https://whatever.test/' })])).status).toBe(200);
    });

    test('a customer token carrying cnf.jkt is bound too', async () => {
      const keys = rsaKeyPairPem();
      await request(gw.app).put('/v1/account/signing-key').set('Authorization', basicAuth(acme)).send({ data: { publicKey: keys.publicKey } }).expect(200);
      const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
      const input = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ iss: acme.apiKey, sub: USER.userId, organizationId: USER.organizationId, email: USER.email, iat: now(), exp: now() + 600, cnf: { jkt: key.jkt } })}`;
      const token = `${input}.${sign('sha256', Buffer.from(input), keys.privateKey).toString('base64url')}`;
      expectProofRefused(await identify(token));
      expect((await identify(token, [proofFor(token)])).status).toBe(200);
    });
  });

  describe('authorize', () => {
    test('its own URL, then the permission', async () => {
      const { token } = await bound();
      const authorize = (proof?: string, permission = 'document:read') => {
        const req = request(gw.app).post('/v1/auth/authorize');
        return (proof ? req.set('DPoP', proof) : req).send({ data: { apiKey: acme.apiKey, token, permission } });
      };
      expectProofRefused(await authorize());
      expectProofRefused(await authorize(proofFor(token)));
      expect((await authorize(proofFor(token, { htu: AUTHORIZE_URL }))).status).toBe(200);
      expect((await authorize(proofFor(token, { htu: AUTHORIZE_URL }), 'document:delete')).status).toBe(403);
    });
  });

  describe('forward auth', () => {
    test('Authorization: DPoP with a proof for the original request the proxy describes', async () => {
      const { token } = await bound();
      const res = await forward(`DPoP ${token}`, forwardProof(token));
      expect(res.status).toBe(200);
      expect(res.headers['x-auth-user-id']).toBe('user-1');
      // The permission comes after the proof.
      expectProofRefused(await forward(`DPoP ${token}`, undefined, undefined, '&permission=document:delete'));
      const denied = await forward(`DPoP ${token}`, forwardProof(token), undefined, '&permission=document:delete');
      expect(denied.status).toBe(403);
    });

    test('a bound token as Bearer is refused like one without a proof; an unbound one as DPoP is token_invalid', async () => {
      const { token } = await bound();
      expectProofRefused(await forward(`Bearer ${token}`, forwardProof(token)));
      const plain = (await gw.issue(acme)).token;
      const res = await forward(`DPoP ${plain}`, undefined);
      expect({ status: res.status, code: res.body.error.code }).toEqual({ status: 401, code: 'token_invalid' });
      expect((await forward(`Bearer ${plain}`, undefined)).status).toBe(200);
    });

    test('the original request comes from X-Forwarded-*: a header missing or repeated is invalid_dpop_proof', async () => {
      const { token } = await bound();
      const all = {
        'X-Forwarded-Method': ORIGINAL.method,
        'X-Forwarded-Proto': ORIGINAL.proto,
        'X-Forwarded-Host': ORIGINAL.host,
        'X-Forwarded-Uri': ORIGINAL.uri,
      };
      for (const missing of Object.keys(all)) {
        const headers = Object.fromEntries(Object.entries(all).filter(([n]) => n !== missing));
        expectProofRefused(await forward(`DPoP ${token}`, forwardProof(token), headers));
      }
      const repeated = await request(gw.app)
        .get(`/v1/auth/verify?apiKey=${acme.apiKey}`)
        .set('Authorization', `DPoP ${token}`)
        .set('DPoP', forwardProof(token))
        .set({ ...all, 'X-Forwarded-Host': [ORIGINAL.host, 'evil.test'] as unknown as string });
      expectProofRefused(repeated);
      // A proof for another original request (a forged htu) fails.
      expectProofRefused(await forward(`DPoP ${token}`, forwardProof(token, { htu: 'https://evil.test/documents/7' })));
    });
  });

  describe('server nonces (DPOP_NONCES=true)', () => {
    test('use_dpop_nonce with a DPoP-Nonce, accepted by every instance, refused once stale', async () => {
      const a = await buildTestGateway({ store: shared, clock, keysDir: gw.keysDir, env: { DPOP_NONCES: 'true' } });
      const b = await buildTestGateway({ store: shared, clock, keysDir: gw.keysDir, env: { DPOP_NONCES: 'true' } });
      try {
        const { token } = await bound();
        const first = await identify(token, [proofFor(token)], a.app);
        expectProofRefused(first, 'use_dpop_nonce');
        const nonce = first.headers['dpop-nonce'] as string;
        expect(nonce).toMatch(/^[A-Za-z0-9._-]+$/);
        expect((await identify(token, [proofFor(token, { nonce })], a.app)).status).toBe(200);
        expect((await identify(token, [proofFor(token, { nonce })], b.app)).status).toBe(200);
        expectProofRefused(await identify(token, [proofFor(token, { nonce: `${nonce}x` })], b.app), 'use_dpop_nonce');
        clock.advance(3 * 60_000);
        expectProofRefused(await identify(token, [proofFor(token, { nonce })], b.app), 'use_dpop_nonce');
      } finally {
        await a.close();
        await b.close();
      }
    });
  });

  test('a proof is good once on any instance sharing the store', async () => {
    const other = await buildTestGateway({ store: shared, clock, keysDir: gw.keysDir });
    try {
      const { token } = await bound();
      const proof = proofFor(token);
      const answers = await Promise.all([identify(token, [proof]), identify(token, [proof], other.app)]);
      expect(answers.map((r) => r.status).sort()).toEqual([200, 401]);
    } finally {
      await other.close();
    }
  });

  test('browsers may send DPoP and read DPoP-Nonce and WWW-Authenticate (CORS)', async () => {
    const browser = await buildTestGateway({ store: shared, clock, keysDir: gw.keysDir, env: { CORS_ORIGINS: 'https://app.example.com' } });
    try {
      const preflight = await request(browser.app)
        .options('/v1/auth/identify')
        .set('Origin', 'https://app.example.com')
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'content-type,dpop');
      expect(preflight.headers['access-control-allow-headers']).toMatch(/DPoP/i);
      const { token } = await bound();
      const res = await request(browser.app).post('/v1/auth/identify').set('Origin', 'https://app.example.com').send({ data: { apiKey: acme.apiKey, token, user: USER } });
      expect(res.headers['access-control-expose-headers']).toMatch(/DPoP-Nonce/);
      expect(res.headers['access-control-expose-headers']).toMatch(/WWW-Authenticate/);
    } finally {
      await browser.close();
    }
  });
});
