/**
 * Contract §7 JWT_ALGORITHM: ES256 or EdDSA gateway tokens. The key's type fixes its
 * algorithm, the JWKS publishes it with its curve members, and a token verifies only when
 * its header alg equals the algorithm of the key its kid names.
 */
import { createLocalJWKSet, jwtVerify } from 'jose';
import request from 'supertest';
import { generatePrivateKeyPem, type SigningAlgorithm } from '../../src';
import { signToken } from '../../src/tokens';
import { basicAuth, buildTestGateway, ISSUER, forwardAuthPath } from '../helpers/app';
import { makeKeysDir, rsaPrivateKeyPem } from '../helpers/keys';

describe.each([
  ['ES256', { kty: 'EC', crv: 'P-256' }, ['crv', 'x', 'y']],
  ['EdDSA', { kty: 'OKP', crv: 'Ed25519' }, ['crv', 'x']],
] as const)('JWT_ALGORITHM=%s', (algorithm, keyType, members) => {
  test('issues, publishes and verifies; the RSA key in the folder keeps verifying but does not sign', async () => {
    const keysDir = makeKeysDir([rsaPrivateKeyPem(), generatePrivateKeyPem(algorithm as SigningAlgorithm)]);
    const gw = await buildTestGateway({ keysDir, env: { JWT_ALGORITHM: algorithm } });
    const acme = await gw.createAccount();
    const { token } = await gw.issue(acme);
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString());
    expect(header).toEqual({ alg: algorithm, typ: 'JWT', kid: gw.keyRing.signingKey().kid });

    const jwks = (await request(gw.app).get('/.well-known/jwks.json')).body;
    const published = jwks.keys.find((k: { kid: string }) => k.kid === header.kid);
    expect(published).toMatchObject({ ...keyType, alg: algorithm, use: 'sig' });
    expect(Object.keys(published).sort()).toEqual(['alg', 'kid', 'kty', 'use', ...members].sort());
    expect(published).not.toHaveProperty('d');
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: ISSUER,
      audience: acme.apiKey,
      currentDate: new Date(gw.clock.now()),
    });
    expect(payload.sub).toBe('user-1');

    const introspection = await request(gw.app)
      .post('/v1/auth/token/introspect')
      .set('Authorization', basicAuth(acme))
      .type('form')
      .send({ token });
    expect(introspection.body.active).toBe(true);

    // A token whose header names another algorithm than its key's is refused.
    const key = gw.keyRing.signingKey();
    const [h, p] = token.split('.');
    const relabeled = `${Buffer.from(JSON.stringify({ ...header, alg: 'RS256' })).toString('base64url')}.${p}.${token.split('.')[2]}`;
    const res = await request(gw.app).get(forwardAuthPath(relabeled)).set('Authorization', `Bearer ${relabeled}`);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('token_invalid');
    expect(h).toBeDefined();

    // The older RSA key still verifies what it signed.
    const rsa = gw.keyRing.activeKeys().find((k) => k.alg === 'RS256')!;
    const now = Math.floor(gw.clock.now() / 1000);
    const rsaToken = await signToken(
      { alg: 'RS256', typ: 'JWT', kid: rsa.kid },
      { iss: ISSUER, sub: 'u', aud: acme.apiKey, iat: now, nbf: now, exp: now + 60, jti: 'r1', organizationId: 'o' },
      'RS256',
      rsa.privateKey,
    );
    expect((await request(gw.app).get(forwardAuthPath(rsaToken)).set('Authorization', `Bearer ${rsaToken}`)).status).toBe(200);
    expect(key.alg).toBe(algorithm);
    await gw.close();
  });
});
