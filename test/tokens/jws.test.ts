/**
 * The compact JWS layer on its own: decodeToken's structural refusals and verifySignature's
 * algorithm pin, each independent of the verifier's checks around them (contract §7).
 */
import { constants, createHmac, createPublicKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { decodeToken, MalformedTokenError, MAX_TOKEN_LENGTH, verifySignature } from '../../src/tokens/jws';
import { rsaPrivateKeyPem } from '../helpers/keys';

const b64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');
const json = (value: unknown): string => b64url(JSON.stringify(value));
const PAYLOAD = { iss: 'https://gateway.test', sub: 'user-1', iat: 1, exp: 2 };

function signed(header: Record<string, unknown>, sign: (input: Buffer) => Buffer, payload: unknown = PAYLOAD): string {
  const input = `${json(header)}.${json(payload)}`;
  return `${input}.${b64url(sign(Buffer.from(input)))}`;
}

describe('decodeToken', () => {
  const ok = `${json({ alg: 'RS256', typ: 'JWT', kid: 'k' })}.${json(PAYLOAD)}.${b64url('signature')}`;
  const refused = (token: string) => expect(() => decodeToken(token)).toThrow(MalformedTokenError);

  test('decodes a well-formed token', () => {
    expect(decodeToken(ok)).toEqual({ header: { alg: 'RS256', typ: 'JWT', kid: 'k' }, payload: PAYLOAD });
  });

  test('refuses a token longer than 8 KiB, and accepts one of exactly 8 KiB', () => {
    const head = `${json({ alg: 'RS256' })}.${json(PAYLOAD)}.`;
    const ofLength = (n: number) => head + 'A'.repeat(n - head.length);
    expect(() => decodeToken(ofLength(MAX_TOKEN_LENGTH))).not.toThrow();
    refused(ofLength(MAX_TOKEN_LENGTH + 1));
    refused(ofLength(100 * 1024));
  });

  test.each([
    ['empty', ''],
    ['two segments', ok.split('.').slice(0, 2).join('.')],
    ['four segments', `${ok}.${b64url('x')}`],
    ['five segments', `${ok}.${b64url('x')}.${b64url('y')}`],
    ['an empty signature', `${ok.split('.').slice(0, 2).join('.')}.`],
    ['an empty header', `.${json(PAYLOAD)}.${b64url('s')}`],
    ['= padding', `${json({ alg: 'RS256', typ: 'JWT' })}=.${json(PAYLOAD)}.${b64url('s')}`],
    ['+ in a segment', ok.replace(/\.[^.]*$/, '.ab+c')],
    ['/ in a segment', ok.replace(/\.[^.]*$/, '.ab/c')],
    ['whitespace', ` ${ok}`],
    ['a header that is not JSON', `${b64url('{alg')}.${json(PAYLOAD)}.${b64url('s')}`],
    ['a header that is an array', `${json([{ alg: 'RS256' }])}.${json(PAYLOAD)}.${b64url('s')}`],
    ['a payload that is a string', `${json({ alg: 'RS256' })}.${json('claims')}.${b64url('s')}`],
    ['a payload that is null', `${json({ alg: 'RS256' })}.${json(null)}.${b64url('s')}`],
    ['no alg', `${json({ typ: 'JWT' })}.${json(PAYLOAD)}.${b64url('s')}`],
    ['a non-string alg', `${json({ alg: ['RS256'] })}.${json(PAYLOAD)}.${b64url('s')}`],
    ['typ other than JWT', `${json({ alg: 'RS256', typ: 'JWE' })}.${json(PAYLOAD)}.${b64url('s')}`],
  ])('refuses %s', (_name, token) => refused(token));

  test.each([
    ['x5t', { x5t: 'dGh1bWI' }],
    ['x5t#S256', { 'x5t#S256': 'dGh1bWI' }],
    ['typ at+jwt', { typ: 'at+jwt' }],
    ['typ application/at+jwt', { typ: 'application/at+jwt' }],
    ['typ jwt in lower case', { typ: 'jwt' }],
  ])('accepts %s (a hint, or a JWT type)', (_name, extra) => {
    const header = { alg: 'RS256', kid: 'k', ...extra };
    expect(decodeToken(`${json(header)}.${json(PAYLOAD)}.${b64url('s')}`).header).toEqual(header);
  });

  test.each(['jku', 'x5u', 'jwk', 'x5c', 'crit'])('refuses the header member %s', (member) => {
    refused(`${json({ alg: 'RS256', [member]: member === 'crit' ? ['exp'] : 'x' })}.${json(PAYLOAD)}.${b64url('s')}`);
  });
});

describe('verifySignature pins the algorithm', () => {
  const pem = rsaPrivateKeyPem();
  const publicKey = createPublicKey(pem);
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const rs = (hash: string) => (input: Buffer) => cryptoSign(hash, input, pem);

  test('a genuine RS256 signature verifies', () => {
    expect(verifySignature(signed({ alg: 'RS256' }, rs('sha256')), 'RS256', publicKey)).toBe(true);
  });

  test.each([
    ['RS384', rs('sha384')],
    ['RS512', rs('sha512')],
    [
      'PS256',
      (input: Buffer) =>
        cryptoSign('sha256', input, { key: pem, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
    ],
    ['HS256', (input: Buffer) => createHmac('sha256', publicPem).update(input).digest()],
    ['HS384', (input: Buffer) => createHmac('sha384', publicPem.trimEnd()).update(input).digest()],
    ['none', () => Buffer.alloc(0)],
    ['ES256', () => Buffer.alloc(64)],
  ] as const)('%s, even made with the same key, does not verify under RS256', (alg, sign) => {
    expect(verifySignature(signed({ alg }, sign), 'RS256', publicKey)).toBe(false);
  });

  test('ES256: an all-zero signature does not verify (CVE-2022-21449)', () => {
    const { privateKey, publicKey: ecPublic } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const genuine = signed({ alg: 'ES256' }, (input) =>
      cryptoSign('sha256', input, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
    );
    expect(verifySignature(genuine, 'ES256', ecPublic)).toBe(true);
    expect(verifySignature(signed({ alg: 'ES256' }, () => Buffer.alloc(64)), 'ES256', ecPublic)).toBe(false);
    // The same EC key under RS256 or EdDSA: never.
    expect(verifySignature(genuine, 'RS256', ecPublic)).toBe(false);
  });

  test('EdDSA: a genuine signature verifies, a tampered one does not', () => {
    const { privateKey, publicKey: edPublic } = generateKeyPairSync('ed25519');
    const genuine = signed({ alg: 'EdDSA' }, (input) => cryptoSign(null, input, privateKey));
    expect(verifySignature(genuine, 'EdDSA', edPublic)).toBe(true);
    const [h, , s] = genuine.split('.');
    expect(verifySignature(`${h}.${json({ ...PAYLOAD, sub: 'admin' })}.${s}`, 'EdDSA', edPublic)).toBe(false);
    expect(verifySignature(`${h}.${json(PAYLOAD)}.`, 'EdDSA', edPublic as KeyObject)).toBe(false);
  });
});
