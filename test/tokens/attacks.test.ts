/**
 * The attack table (contract §3, §6.2, §7) for tokens signed with the gateway's own key: every
 * forged, confused, malformed, stale or revoked token is sent through identify (§3.1),
 * introspection (§3.2), forward auth (§3.3) and authorize (§6.3), and none of them ever accepts
 * it. Genuine tokens pass them all (the controls), so a refusal below is the defence at work and
 * not a broken fixture. The table itself lives in test/helpers/attack-table.ts, which
 * test/http/customer-tokens.test.ts runs with a customer's uploaded key.
 *
 * Tokens are built by hand: base64url header and payload, signed with node:crypto, so that
 * every byte an attacker controls is under the test's control too.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, sign as cryptoSign } from 'node:crypto';
import type http from 'node:http';
import { buildTestGateway, ISSUER, type TestAccount, type TestGateway } from '../helpers/app';
import {
  close,
  compact,
  describeAttackTable,
  encodePart,
  expectInactive,
  expectRefusedByForwardAuth,
  expectRefusedByIdentify,
  hmac,
  listen,
  padBase64,
  signInput,
  toStandardBase64,
  USER,
  type Checks,
  type Signer,
} from '../helpers/attack-table';
import { makeKeysDir } from '../helpers/keys';
import { STORE_KINDS } from '../helpers/stores';

// ---------------------------------------------------------------------------------------------
// The table, on every store kind
// ---------------------------------------------------------------------------------------------

describeAttackTable('gateway');

// ---------------------------------------------------------------------------------------------
// Gateways signing with ES256 or EdDSA (JWT_ALGORITHM): the same pinning, and canonical
// encodings on the EdDSA path, which verifies with node:crypto rather than jsonwebtoken.
// ---------------------------------------------------------------------------------------------

interface AltWorld {
  gw: TestGateway;
  acme: TestAccount;
  kid: string;
  pem: string;
  now: number;
  server: http.Server;
  checks: Checks;
}

const altSigner = (alg: 'ES256' | 'EdDSA', pem: string): Signer => (input) =>
  alg === 'EdDSA'
    ? cryptoSign(null, Buffer.from(input), pem)
    : cryptoSign('sha256', Buffer.from(input), { key: pem, dsaEncoding: 'ieee-p1363' });

describe.each(STORE_KINDS.flatMap((kind) => (['ES256', 'EdDSA'] as const).map((alg) => [kind, alg] as const)))(
  'attack table, %s store, a gateway signing %s',
  (kind, alg) => {
    let a: AltWorld;

    beforeAll(async () => {
      const pem =
        alg === 'EdDSA'
          ? generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
          : generateKeyPairSync('ec', { namedCurve: 'P-256' })
              .privateKey.export({ type: 'pkcs8', format: 'pem' })
              .toString();
      const gw = await buildTestGateway({ store: kind, keysDir: makeKeysDir([pem]), env: { JWT_ALGORITHM: alg } });
      const { server, checks } = await listen(gw);
      a = {
        gw,
        acme: await gw.createAccount('Acme'),
        kid: gw.keyRing.signingKey().kid,
        pem,
        now: Math.floor(gw.clock.now() / 1000),
        server,
        checks,
      };
    });

    afterAll(async () => {
      await close(a.server);
      await a.gw.close();
    });

    const altClaims = () => ({
      iss: ISSUER,
      sub: USER.userId,
      userId: USER.userId,
      aud: a.acme.apiKey,
      iat: a.now,
      nbf: a.now,
      exp: a.now + 3600,
      jti: randomBytes(16).toString('base64url'),
      organizationId: USER.organizationId,
      email: USER.email,
      isAdmin: false,
    });
    const altHeader = (overrides: Record<string, unknown> = {}) => ({ alg, typ: 'JWT', kid: a.kid, ...overrides });
    const altGenuine = () => compact(altHeader(), altClaims(), altSigner(alg, a.pem));

    const altCases: Array<{ name: string; token: () => string }> = [
      { name: 'alg "none", empty signature', token: () => `${encodePart(altHeader({ alg: 'none' }))}.${encodePart(altClaims())}.` },
      {
        name: `${alg} with an all-zero signature (CVE-2022-21449)`,
        token: () => compact(altHeader(), altClaims(), () => Buffer.alloc(64)),
      },
      {
        name: 'the other algorithm in the header, signed with the gateway key',
        token: () => {
          const other = alg === 'EdDSA' ? 'ES256' : 'EdDSA';
          return compact(altHeader({ alg: other }), altClaims(), altSigner(alg, a.pem));
        },
      },
      {
        name: 'HS256 signed with the gateway public key PEM as the secret',
        token: () =>
          compact(
            altHeader({ alg: 'HS256' }),
            altClaims(),
            hmac(createPublicKey(a.pem).export({ type: 'spki', format: 'pem' }).toString()),
          ),
      },
      { name: 'signature stripped', token: () => `${altGenuine().split('.').slice(0, 2).join('.')}.` },
      {
        name: 'base64 with = padding (signed with the gateway key over the padded input)',
        token: () => {
          let h: Record<string, unknown> = altHeader();
          for (let i = 0; encodePart(h).length % 4 === 0; i++) h = altHeader({ x: 'p'.repeat(i + 1) });
          return signInput(`${padBase64(encodePart(h))}.${encodePart(altClaims())}`, altSigner(alg, a.pem));
        },
      },
      {
        name: 'the genuine token with its signature in standard base64 (+ and /)',
        token: () => {
          for (;;) {
            const [h, p, s] = altGenuine().split('.') as [string, string, string];
            if (/[-_]/.test(s)) return `${h}.${p}.${toStandardBase64(s)}`;
          }
        },
      },
      {
        name: 'jku pointing at 127.0.0.1 (signed with the gateway key)',
        token: () => compact(altHeader({ jku: 'http://127.0.0.1:9/jwks.json' }), altClaims(), altSigner(alg, a.pem)),
      },
    ];

    test('control: a token the gateway issued passes all three checks', async () => {
      const token = (await a.gw.issue(a.acme)).token;
      expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toMatchObject({ alg, kid: a.kid });
      expect((await a.checks.identify(token, a.acme.apiKey)).status).toBe(200);
      expect((await a.checks.introspect(token, a.acme)).body.active).toBe(true);
      expect((await a.checks.forward(`Bearer ${token}`, a.acme.apiKey)).status).toBe(200);
    });

    test('control: a token built by hand passes all three checks', async () => {
      const token = altGenuine();
      expect((await a.checks.identify(token, a.acme.apiKey)).status).toBe(200);
      expect((await a.checks.introspect(token, a.acme)).body.active).toBe(true);
      expect((await a.checks.forward(`Bearer ${token}`, a.acme.apiKey)).status).toBe(200);
    });

    test.each(altCases)('$name: refused by all three checks', async ({ token }) => {
      const t = token();
      expectRefusedByIdentify(await a.checks.identify(t, a.acme.apiKey), { status: 401, code: 'token_invalid' });
      expectInactive(await a.checks.introspect(t, a.acme));
      expectRefusedByForwardAuth(await a.checks.forward(`Bearer ${t}`, a.acme.apiKey), 'token_invalid');
    });
  },
);
