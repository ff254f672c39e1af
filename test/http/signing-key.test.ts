/**
 * Contract §6.1: PUT/DELETE /v1/account/signing-key, on both stores. Only the public half of an
 * RSA key of 2048 bits or more, as SPKI or PKCS#1 PEM; anything else is 400 invalid_argument
 * with a message saying what was wrong.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { importPKCS8, SignJWT } from 'jose';
import request from 'supertest';
import { basicAuth, buildTestGateway, type TestAccount, type TestGateway, forwardAuthPath } from '../helpers/app';
import { STORE_KINDS } from '../helpers/stores';

interface PemPair {
  publicKey: string;
  privateKey: string;
}

const rsaPair = (bits: number, publicType: 'spki' | 'pkcs1' = 'spki', privateType: 'pkcs8' | 'pkcs1' = 'pkcs8'): PemPair =>
  generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: publicType, format: 'pem' },
    privateKeyEncoding: { type: privateType, format: 'pem' },
  });

// Generated once for the file: RSA generation is slow, and the keys are only read.
const rsa2048 = rsaPair(2048);
const rsa3072 = rsaPair(3072);
const rsa2048Pkcs1 = rsaPair(2048, 'pkcs1', 'pkcs1');
const rsa3072Pkcs1 = rsaPair(3072, 'pkcs1');
const rsa1024 = rsaPair(1024);
const ecPublic = generateKeyPairSync('ec', {
  namedCurve: 'P-256',
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
}).publicKey;
const ed25519Public = generateKeyPairSync('ed25519', {
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
}).publicKey;

/** A self-signed RSA 2048 certificate: it holds an acceptable key, but is not a public key PEM. */
function selfSignedCertificate(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tg-cert-'));
  try {
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'cert.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile,
      '-days', '1', '-subj', '/CN=token-gateway-test',
    ], { stdio: 'ignore' });
    return readFileSync(certFile, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const certificate = selfSignedCertificate();

const NOW = Math.floor(Date.now() / 1000);

describe.each(STORE_KINDS)('PUT/DELETE /v1/account/signing-key on the %s store', (kind) => {
  let gw: TestGateway;
  let acme: TestAccount;

  beforeEach(async () => {
    gw = await buildTestGateway({ store: kind });
    gw.clock.set(NOW * 1000);
    acme = await gw.createAccount('Acme');
  });
  afterEach(() => gw.close());

  const put = (publicKey: unknown, account: { apiKey: string; authToken: string } = acme) =>
    request(gw.app).put('/v1/account/signing-key').set('Authorization', basicAuth(account)).send({ data: { publicKey } });
  const del = (account: { apiKey: string; authToken: string } = acme) =>
    request(gw.app).delete('/v1/account/signing-key').set('Authorization', basicAuth(account));
  const me = () => request(gw.app).get('/v1/account/me').set('Authorization', basicAuth(acme));

  async function customerToken(privateKeyPem: string, claims: Record<string, unknown> = {}): Promise<string> {
    const key = await importPKCS8(privateKeyPem, 'RS256');
    return new SignJWT({ organizationId: 'org-1', ...claims })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(acme.apiKey)
      .setSubject('user-1')
      .setIssuedAt(NOW)
      .setExpirationTime(NOW + 3600)
      .setJti(`jti-${Math.random().toString(36).slice(2)}`)
      .sign(key);
  }
  const identify = (token: string) =>
    request(gw.app)
      .post('/v1/auth/identify')
      .send({ data: { apiKey: acme.apiKey, token, user: { userId: 'user-1', organizationId: 'org-1' } } });

  describe('accepted keys', () => {
    test.each([
      ['SPKI, 2048 bits', () => rsa2048.publicKey, 2048],
      ['SPKI, 3072 bits', () => rsa3072.publicKey, 3072],
      ['PKCS#1, 2048 bits', () => rsa2048Pkcs1.publicKey, 2048],
      ['PKCS#1, 3072 bits', () => rsa3072Pkcs1.publicKey, 3072],
    ])('%s', async (_name, pem, bits) => {
      const res = await put(pem());
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body.result.status).toBe('success');
      expect(res.body.result.data).toMatchObject({ hasSigningKey: true, bits });
      expect(res.body.result.data.thumbprint).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(JSON.stringify(res.body)).not.toContain('BEGIN');
      expect(await gw.store.getSigningKey(acme.apiKey)).toContain('-----BEGIN PUBLIC KEY-----');
    });

    test('the same key as SPKI and PKCS#1 has the same thumbprint, and tokens of its private half verify', async () => {
      const spki = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      });
      const { createPublicKey } = await import('node:crypto');
      const pkcs1 = createPublicKey(spki.publicKey).export({ type: 'pkcs1', format: 'pem' }).toString();
      const a = await put(spki.publicKey);
      const b = await put(pkcs1);
      expect(a.status).toBe(200);
      expect(b.status).toBe(200);
      expect(b.body.result.data.thumbprint).toBe(a.body.result.data.thumbprint);
      expect((await identify(await customerToken(spki.privateKey))).status).toBe(200);
    });

    test('surrounding whitespace is tolerated', async () => {
      expect((await put(`\n\n  ${rsa2048.publicKey}\n  `)).status).toBe(200);
    });

    test('a new key replaces the old one: tokens of the old key stop verifying', async () => {
      expect((await put(rsa2048.publicKey)).status).toBe(200);
      const oldToken = await customerToken(rsa2048.privateKey);
      expect((await identify(oldToken)).status).toBe(200);
      expect((await put(rsa3072.publicKey)).status).toBe(200);
      const res = await identify(oldToken);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('token_invalid');
      expect((await identify(await customerToken(rsa3072.privateKey))).status).toBe(200);
    });
  });

  describe('refused keys: 400 invalid_argument saying what was wrong', () => {
    test.each<[string, () => unknown, RegExp]>([
      ['an EC key', () => ecPublic, /^data\.publicKey must be an RSA key, not ec\.$/],
      ['an Ed25519 key', () => ed25519Public, /^data\.publicKey must be an RSA key, not ed25519\.$/],
      ['a PKCS#8 private key', () => rsa2048.privateKey, /^data\.publicKey must be a public key, not a private key\.$/],
      ['a PKCS#1 private key', () => rsa2048Pkcs1.privateKey, /^data\.publicKey must be a public key, not a private key\.$/],
      ['a certificate', () => certificate, /^data\.publicKey must be a public key, not a certificate\.$/],
      ['a 1024-bit RSA key', () => rsa1024.publicKey, /^data\.publicKey must be at least 2048 bits, not 1024\.$/],
      ['garbage', () => 'not a key at all', /^data\.publicKey must be a PEM public key/],
      [
        'a PEM frame around garbage',
        () => '-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n',
        /^data\.publicKey is not a readable PEM public key\.$/,
      ],
      ['another PEM type', () => '-----BEGIN FOO-----\nAAAA\n-----END FOO-----', /^data\.publicKey must be an SPKI or PKCS#1 public key, not FOO\.$/],
      ['an empty string', () => '', /^data\.publicKey must not be empty\.$/],
      ['a number', () => 12345, /^data\.publicKey must be a string\.$/],
      ['null', () => null, /^data\.publicKey must be a string\.$/],
      ['absent', () => undefined, /^data\.publicKey is required\.$/],
    ])('%s', async (_name, value, message) => {
      const res = await put(value());
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual({
        message: expect.stringMatching(message),
        status: 'INVALID_ARGUMENT',
        code: 'invalid_argument',
        retryable: false,
      });
      // Nothing echoed, nothing stored.
      const input = value();
      if (typeof input === 'string' && input.includes('\n')) {
        for (const line of input.split('\n').filter((l) => l.length > 8 && !l.startsWith('-----'))) {
          expect(res.text).not.toContain(line);
        }
      }
      expect(await gw.store.getSigningKey(acme.apiKey)).toBeNull();
    });

    test('a PEM over 16 KiB is refused before parsing (with a body limit that lets it through)', async () => {
      const roomy = await buildTestGateway({ store: kind, env: { BODY_LIMIT: '64kb' } });
      try {
        const account = await roomy.createAccount('Roomy');
        const res = await request(roomy.app)
          .put('/v1/account/signing-key')
          .set('Authorization', basicAuth(account))
          .send({ data: { publicKey: `${rsa2048.publicKey}${' '.repeat(16 * 1024)}` } });
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({ code: 'invalid_argument', message: 'data.publicKey is too long for a public key.' });
      } finally {
        await roomy.close();
      }
    });

    test('a refused key leaves the key on file in place', async () => {
      expect((await put(rsa2048.publicKey)).status).toBe(200);
      expect((await put(rsa1024.publicKey)).status).toBe(400);
      expect((await identify(await customerToken(rsa2048.privateKey))).status).toBe(200);
    });
  });

  describe('refused uploads of more than one PEM block, or of text around the key', () => {
    const PRIVATE = /^data\.publicKey must be a public key, not a private key\.$/;
    const AROUND = /^data\.publicKey must be a single PEM block with only whitespace around it\.$/;
    /** A private key PEM without its last line, as a paste cut short leaves it. */
    const withoutEndLine = (pem: string) => pem.trimEnd().split('\n').slice(0, -1).join('\n') + '\n';

    const rows: Array<[string, () => string[], RegExp]> = [
      ['the public key followed by its PKCS#8 private key (a whole key file)', () => [rsa2048.publicKey + rsa2048.privateKey], PRIVATE],
      ['the public key followed by its PKCS#1 private key', () => [`${rsa2048Pkcs1.publicKey}\n${rsa2048Pkcs1.privateKey}`], PRIVATE],
      [
        // The complete private block was refused before too; the other two shapes were skipped
        // over to the public block behind them.
        'a private key followed by its public key (complete, cut before its END line, BEGIN line mangled)',
        () => [
          rsa2048.privateKey + rsa2048.publicKey,
          withoutEndLine(rsa2048.privateKey) + rsa2048.publicKey,
          rsa2048.privateKey.replace('-----BEGIN PRIVATE KEY-----', '----BEGIN PRIVATE KEY-----') + rsa2048.publicKey,
        ],
        PRIVATE,
      ],
      [
        'two public keys (two different ones; the same one twice)',
        () => [rsa2048.publicKey + rsa3072.publicKey, `${rsa2048.publicKey}\n${rsa2048.publicKey}`],
        /^data\.publicKey must hold exactly one PEM block, not 2\.$/,
      ],
      ['the public key followed by a certificate', () => [rsa2048.publicKey + certificate], /^data\.publicKey must hold exactly one PEM block, not 2\.$/],
      ['text before the key', () => [`My public key:\n${rsa2048.publicKey}`, `x${rsa2048.publicKey}`], AROUND],
      ['text after the key', () => [`${rsa2048.publicKey}keep this file safe\n`, `${rsa2048.publicKey.trimEnd()}.`], AROUND],
    ];

    async function expectRefused(input: string, message: RegExp): Promise<void> {
      const res = await put(input);
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual({
        message: expect.stringMatching(message),
        status: 'INVALID_ARGUMENT',
        code: 'invalid_argument',
        retryable: false,
      });
      expect(res.body.result).toBeUndefined();
      // Nothing of either key echoed.
      for (const line of input.split('\n').filter((l) => l.length > 8 && !l.startsWith('-'))) {
        expect(res.text).not.toContain(line);
      }
    }

    test.each(rows)('%s → 400 invalid_argument; the account still has no key', async (_name, inputs, message) => {
      for (const input of inputs()) {
        await expectRefused(input, message);
        expect(await gw.store.getSigningKey(acme.apiKey)).toBeNull();
        expect((await me()).body.result.data.account.hasSigningKey).toBe(false);
      }
    });

    test.each(rows)('%s → 400 invalid_argument; the key on file stays in place', async (_name, inputs, message) => {
      expect((await put(rsa3072.publicKey)).status).toBe(200);
      const onFile = await gw.store.getSigningKey(acme.apiKey);
      expect(onFile).toContain('-----BEGIN PUBLIC KEY-----');
      for (const input of inputs()) {
        await expectRefused(input, message);
        expect(await gw.store.getSigningKey(acme.apiKey)).toBe(onFile);
        expect((await identify(await customerToken(rsa3072.privateKey))).status).toBe(200);
        expect((await identify(await customerToken(rsa2048.privateKey))).status).toBe(401);
      }
    });
  });

  describe('caller authentication', () => {
    test.each([
      ['no credentials', undefined],
      ['a wrong authToken', 'wrong'],
    ])('PUT with %s → 401 invalid_credentials with a Basic challenge, nothing stored', async (_name, wrong) => {
      const req = request(gw.app).put('/v1/account/signing-key');
      if (wrong) req.set('Authorization', basicAuth({ apiKey: acme.apiKey, authToken: `at_${'x'.repeat(43)}` }));
      const res = await req.send({ data: { publicKey: rsa2048.publicKey } });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="token-gateway"');
      expect(res.body.error).toEqual({
        message: 'The credentials are not valid.',
        status: 'UNAUTHENTICATED',
        code: 'invalid_credentials',
        retryable: false,
      });
      expect(await gw.store.getSigningKey(acme.apiKey)).toBeNull();
    });

    test('another account cannot remove the key; credentials in the body work too', async () => {
      expect((await put(rsa2048.publicKey)).status).toBe(200);
      const other = await gw.createAccount('Other');
      const res = await del(other);
      expect(res.status).toBe(404);
      expect(await gw.store.getSigningKey(acme.apiKey)).not.toBeNull();
      const anon = await request(gw.app).delete('/v1/account/signing-key');
      expect(anon.status).toBe(401);
      expect(anon.headers['www-authenticate']).toBe('Basic realm="token-gateway"');
      expect(anon.body.error.code).toBe('invalid_credentials');
      const viaBody = await request(gw.app)
        .delete('/v1/account/signing-key')
        .send({ data: { apiKey: acme.apiKey, authToken: acme.authToken } });
      expect(viaBody.status).toBe(200);
    });

    test('credentials as apiKey/authToken members of data', async () => {
      const res = await request(gw.app)
        .put('/v1/account/signing-key')
        .send({ data: { apiKey: acme.apiKey, authToken: acme.authToken, publicKey: rsa2048.publicKey } });
      expect(res.status).toBe(200);
    });
  });

  describe('DELETE and /v1/account/me', () => {
    test('hasSigningKey follows PUT and DELETE; DELETE makes customer tokens fail at once', async () => {
      expect((await me()).body.result.data.account.hasSigningKey).toBe(false);
      expect((await put(rsa2048.publicKey)).status).toBe(200);
      const account = (await me()).body.result.data.account;
      expect(account.hasSigningKey).toBe(true);
      expect(JSON.stringify(account)).not.toContain('BEGIN');

      const token = await customerToken(rsa2048.privateKey);
      expect((await identify(token)).status).toBe(200);

      const removed = await del();
      expect(removed.status).toBe(200);
      expect(removed.body.result.data).toEqual({ hasSigningKey: false });
      expect((await me()).body.result.data.account.hasSigningKey).toBe(false);

      const res = await identify(token);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('token_invalid');
      const verify = await request(gw.app).get(forwardAuthPath(token)).set('Authorization', `Bearer ${token}`);
      expect(verify.status).toBe(401);
      expect(verify.body.error.code).toBe('token_invalid');
      const introspect = await request(gw.app)
        .post('/v1/auth/token/introspect')
        .set('Authorization', basicAuth(acme))
        .type('form')
        .send({ token });
      expect(introspect.body).toEqual({ active: false });
    });

    test('DELETE without a key on file → 404 not_found', async () => {
      const res = await del();
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({ status: 'NOT_FOUND', code: 'not_found' });
    });

    test('PUT again after DELETE restores the key', async () => {
      expect((await put(rsa2048.publicKey)).status).toBe(200);
      expect((await del()).status).toBe(200);
      expect((await put(rsa2048.publicKey)).status).toBe(200);
      expect((await identify(await customerToken(rsa2048.privateKey))).status).toBe(200);
    });
  });

  test.each(['GET', 'POST'] as const)('%s on the path → 405 with Allow', async (method) => {
    const res = await request(gw.app)[method === 'GET' ? 'get' : 'post']('/v1/account/signing-key').set('Authorization', basicAuth(acme));
    expect(res.status).toBe(405);
    expect(res.headers.allow).toMatch(/PUT/);
    expect(res.headers.allow).toMatch(/DELETE/);
  });
});
