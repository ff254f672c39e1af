/**
 * The SDK's DPoP (contract §10) against a live gateway: the browser session makes a key pair
 * it cannot export, hands its thumbprint to fetchToken, which the server client passes on as
 * dpopJkt; identify carries a proof; dpopHeaders and session.fetch sign one for each API call,
 * which forward auth accepts for exactly that request; a use_dpop_nonce answer is retried once.
 */
import type { Server } from 'node:http';
import { createDpopKey, createGatewayClient, createUserSession } from '../../packages/client/src';
import { buildTestGateway, type TestGateway } from '../helpers/app';
import { listen, stop } from '../helpers/live';

describe.each([false, true])('a DPoP session against a live gateway (DPOP_NONCES=%s)', (nonces) => {
  let gw: TestGateway;
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
    // The gateway's public URL is where the session calls it.
    const probe = await buildTestGateway();
    ({ server, baseUrl } = await listen(probe));
    server.removeAllListeners('request');
    gw = await buildTestGateway({ env: { JWT_ISSUER: baseUrl, DPOP_NONCES: String(nonces) } });
    server.on('request', gw.app);
    await probe.close();
  });
  afterAll(() => stop(server, gw));

  test('fetchToken gets the thumbprint, identify proves the key, forward auth takes the headers', async () => {
    const acme = await gw.createAccount('Acme');
    const backend = createGatewayClient({ baseUrl, apiKey: acme.apiKey, authToken: acme.authToken });
    const asked: Array<string | undefined> = [];
    const session = createUserSession({
      baseUrl,
      apiKey: acme.apiKey,
      user: { userId: 'ada', organizationId: 'org-1' },
      dpop: true,
      fetchToken: async ({ dpopJkt }) => {
        asked.push(dpopJkt);
        return backend.getToken({ userId: 'ada', organizationId: 'org-1', ...(dpopJkt ? { dpopJkt } : {}) });
      },
    });
    try {
      expect((await session.identify()).userId).toBe('ada');
      expect(asked).toHaveLength(1);
      expect(asked[0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const token = session.getToken()!;
      expect(await backend.introspect(token)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: asked[0] } });

      // A call to the customer's API, as its proxy forwards it to the gateway.
      const apiUrl = 'https://api.example.com/documents/7?x=1';
      const headers = await session.dpopHeaders('GET', apiUrl);
      expect(headers.Authorization).toBe(`DPoP ${token}`);
      const forwardAuth = (h: Record<string, string>) =>
        fetch(`${baseUrl}/v1/auth/verify?apiKey=${acme.apiKey}`, {
          headers: {
            ...h,
            'X-Forwarded-Method': 'GET',
            'X-Forwarded-Proto': 'https',
            'X-Forwarded-Host': 'api.example.com',
            'X-Forwarded-Uri': '/documents/7?x=1',
          },
        });
      // With nonces on, the session learnt one at identify: its proof carries it and passes.
      const first = await forwardAuth(headers);
      expect(first.status).toBe(200);
      expect(first.headers.get('x-auth-user-id')).toBe('ada');
      // The same proof again is a replay.
      expect((await forwardAuth(headers)).status).toBe(401);
      // Without the key, the token alone is useless.
      expect((await forwardAuth({ Authorization: `DPoP ${token}` })).status).toBe(401);
      expect((await forwardAuth({ Authorization: `Bearer ${token}` })).status).toBe(401);

      // session.fetch signs for the URL it fetches: here the gateway's own identify route.
      const res = await session.fetch(`${baseUrl}/v1/auth/identify`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ data: { apiKey: acme.apiKey, token, user: { userId: 'ada', organizationId: 'org-1' } } }),
      });
      expect(res.status).toBe(200);
    } finally {
      session.close();
    }
  });

  test('the session key cannot be exported', async () => {
    const real = globalThis.crypto;
    let pair: CryptoKeyPair | undefined;
    const watched = {
      getRandomValues: real.getRandomValues.bind(real),
      subtle: {
        generateKey: async (...args: [EcKeyGenParams, boolean, KeyUsage[]]) => (pair = (await real.subtle.generateKey(...args)) as CryptoKeyPair),
        exportKey: real.subtle.exportKey.bind(real.subtle),
        digest: real.subtle.digest.bind(real.subtle),
        sign: real.subtle.sign.bind(real.subtle),
      },
    } as unknown as Crypto;
    const key = await createDpopKey({ crypto: watched });
    expect(key.jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(pair!.privateKey.extractable).toBe(false);
    await expect(real.subtle.exportKey('jwk', pair!.privateKey)).rejects.toThrow();
    await expect(real.subtle.exportKey('pkcs8', pair!.privateKey)).rejects.toThrow();
  });
});
