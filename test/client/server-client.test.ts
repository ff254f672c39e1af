/**
 * The server client of token-gateway/client against a live gateway on a local port: every
 * method, and how each failure shape of contract §1 becomes a GatewayClientError.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Server } from 'node:http';
import { createGatewayClient, GatewayClientError, type GatewayClient } from '../../packages/client/src';
import { ManualClock } from '../../src/clock';
import { buildTestGateway, type TestAccount, type TestGateway } from '../helpers/app';
import { failure, listen, stop, switchableMemoryStore } from '../helpers/live';

const { publicKey: customerPublicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

describe('createGatewayClient against a live gateway', () => {
  let gw: TestGateway;
  let server: Server;
  let baseUrl: string;
  let acme: TestAccount;
  let other: TestAccount;
  let client: GatewayClient;
  /** The X-Request-Id of every answer the client received, in order. */
  const requestIds: string[] = [];
  const recordingFetch = async (input: string, init?: RequestInit) => {
    const res = await fetch(input, init);
    requestIds.push(res.headers.get('x-request-id') ?? '');
    return res;
  };

  /** The memory store, failing like an unreachable Redis while `switchable.down` is set. */
  let switchable: ReturnType<typeof switchableMemoryStore>;

  beforeAll(async () => {
    const clock = new ManualClock(Date.now());
    switchable = switchableMemoryStore(clock);
    const { store } = switchable;
    gw = await buildTestGateway({ clock, store: { store, prefix: '', cleanup: () => store.close() } });
    ({ server, baseUrl } = await listen(gw));
  });
  afterAll(() => stop(server, gw));
  beforeEach(async () => {
    switchable.down = false;
    acme = await gw.createAccount('Acme');
    other = await gw.createAccount('Other');
    client = createGatewayClient({ baseUrl: `${baseUrl}/`, apiKey: acme.apiKey, authToken: acme.authToken, fetch: recordingFetch });
  });

  const now = () => Math.floor(gw.clock.now() / 1000);
  const otherClient = () => createGatewayClient({ baseUrl, apiKey: other.apiKey, authToken: other.authToken });

  describe('methods', () => {
    test('getToken answers the data of /v1/auth/token/get; introspect shows every claim', async () => {
      const policy = { allow: ['*'], reject: ['document:delete'] };
      const issued = await client.getToken({
        userId: 'user-1',
        organizationId: 'org-1',
        email: 'Ada@Example.com',
        isAdmin: true,
        policy,
        expiresIn: 600,
      });
      expect(issued).toEqual({
        token: expect.any(String),
        tokenType: 'Bearer',
        tokenId: expect.any(String),
        expiresIn: 600,
        expiresAt: now() + 600,
        serverTime: now(),
      });
      const info = await client.introspect(issued.token);
      expect(info).toMatchObject({
        active: true,
        token_type: 'Bearer',
        client_id: acme.apiKey,
        sub: 'user-1',
        userId: 'user-1',
        organizationId: 'org-1',
        email: 'ada@example.com',
        isAdmin: true,
        policy,
        jti: issued.tokenId,
        exp: issued.expiresAt,
      });
    });

    test('getToken with only the required members uses the default lifetime', async () => {
      const issued = await client.getToken({ userId: 'user-1', organizationId: 'org-1' });
      expect(issued.expiresIn).toBe(172_800);
      const info = await client.introspect(issued.token);
      expect(info.active).toBe(true);
      if (info.active) {
        expect(info.isAdmin).toBe(false);
        expect(info.email).toBeUndefined();
        expect(info.policy).toBeUndefined();
      }
    });

    test("introspect: another account's token, garbage → {active: false}", async () => {
      const { token } = await client.getToken({ userId: 'user-1', organizationId: 'org-1' });
      expect(await otherClient().introspect(token)).toEqual({ active: false });
      expect(await client.introspect('not-a-token')).toEqual({ active: false });
    });

    test('revoke: the token stops being active; an unknown token is quietly accepted', async () => {
      const { token } = await client.getToken({ userId: 'user-1', organizationId: 'org-1' });
      await expect(client.revoke(token)).resolves.toBeUndefined();
      expect(await client.introspect(token)).toEqual({ active: false });
      await expect(client.revoke('not-a-token')).resolves.toBeUndefined();
    });

    test('revokeUser and revokeOrganization answer the second of the revocation', async () => {
      const a = await client.getToken({ userId: 'user-1', organizationId: 'org-1' });
      const b = await client.getToken({ userId: 'user-2', organizationId: 'org-2' });
      const c = await client.getToken({ userId: 'user-3', organizationId: 'org-3' });
      expect(await client.revokeUser('user-1')).toEqual({ userId: 'user-1', revokedBefore: now() });
      expect(await client.revokeOrganization('org-2')).toEqual({ organizationId: 'org-2', revokedBefore: now() });
      expect((await client.introspect(a.token)).active).toBe(false);
      expect((await client.introspect(b.token)).active).toBe(false);
      expect((await client.introspect(c.token)).active).toBe(true);
    });

    test('authorize: true when granted, false on permission_denied, throws for a bad token', async () => {
      const { token } = await client.getToken({
        userId: 'user-1',
        organizationId: 'org-1',
        policy: { allow: ['*'], reject: ['document:delete'] },
      });
      expect(await client.authorize(token, 'document:read')).toBe(true);
      expect(await client.authorize(token, 'document:delete')).toBe(false);
      const { token: bare } = await client.getToken({ userId: 'user-1', organizationId: 'org-1', isAdmin: true });
      expect(await client.authorize(bare, 'document:read')).toBe(false);

      const invalid = await failure(() => client.authorize('not-a-token', 'document:read'));
      expect(invalid).toMatchObject({ httpStatus: 401, status: 'UNAUTHENTICATED', code: 'token_invalid', retryable: false });
      const foreign = await failure(() => otherClient().authorize(token, 'document:read'));
      expect(foreign).toMatchObject({ httpStatus: 403, status: 'PERMISSION_DENIED', code: 'account_mismatch' });
    });

    test('verify: the identity from the X-Auth-* headers of forward auth', async () => {
      const issued = await client.getToken({ userId: 'user-1', organizationId: 'org-1', email: 'Ada@Example.com', isAdmin: true });
      expect(await client.verify(issued.token)).toEqual({
        userId: 'user-1',
        organizationId: 'org-1',
        email: 'ada@example.com',
        isAdmin: true,
        tokenId: issued.tokenId,
        account: acme.apiKey,
      });
      // Scoped to the client's own account (contract §3.3): another account's client refuses it.
      const { token } = await client.getToken({ userId: 'user-2', organizationId: 'org-2', isAdmin: true });
      expect(await failure(() => otherClient().verify(token))).toMatchObject({ httpStatus: 401, code: 'token_invalid' });
      expect((await client.verify(token)).userId).toBe('user-2');
    });

    test("verify names this client's apiKey as forward auth's account scope (?apiKey=, contract §3.3)", async () => {
      const urls: string[] = [];
      const scoped = createGatewayClient({
        baseUrl,
        apiKey: acme.apiKey,
        authToken: acme.authToken,
        fetch: (input, init) => (urls.push(input), fetch(input, init)),
      });
      const { token } = await client.getToken({ userId: 'user-2', organizationId: 'org-2', policy: { allow: ['*'] } });
      expect((await scoped.verify(token)).account).toBe(acme.apiKey);
      expect((await scoped.verify(token, { permission: 'a&b=c#d' })).userId).toBe('user-2');
      const [plain, withPermission] = urls.map((url) => new URL(url));
      expect(plain!.pathname).toBe('/v1/auth/verify');
      expect([...plain!.searchParams]).toEqual([['apiKey', acme.apiKey]]);
      // One member each: the permission cannot smuggle a second apiKey into the query.
      expect([...withPermission!.searchParams]).toEqual([
        ['apiKey', acme.apiKey],
        ['permission', 'a&b=c#d'],
      ]);
    });

    test('verify with a permission: granted, or 403 permission_denied', async () => {
      const { token } = await client.getToken({
        userId: 'user-1',
        organizationId: 'org-1',
        policy: { allow: ['*'], reject: ['document:delete'] },
      });
      expect((await client.verify(token, { permission: 'document:read' })).userId).toBe('user-1');
      const denied = await failure(() => client.verify(token, { permission: 'document:delete' }));
      expect(denied).toMatchObject({ httpStatus: 403, status: 'PERMISSION_DENIED', code: 'permission_denied', retryable: false });
      expect(denied.requestId).toBeTruthy();
      // The permission name travels URL-encoded: `&`, `=` and `#` do not cut the query short.
      expect((await client.verify(token, { permission: 'a&b=c#d' })).userId).toBe('user-1');
    });

    test('verify: 401 with the code of the envelope for a missing, invalid, expired or revoked token', async () => {
      expect(await failure(() => client.verify(''))).toMatchObject({ httpStatus: 401, status: 'UNAUTHENTICATED', code: 'token_missing', retryable: false });
      expect(await failure(() => client.verify('not-a-token'))).toMatchObject({ httpStatus: 401, code: 'token_invalid', retryable: false });
      const short = await client.getToken({ userId: 'user-1', organizationId: 'org-1', expiresIn: 60 });
      gw.clock.advance(120_000);
      expect(await failure(() => client.verify(short.token))).toMatchObject({ httpStatus: 401, code: 'token_expired' });
      const { token } = await client.getToken({ userId: 'user-1', organizationId: 'org-1' });
      await client.revoke(token);
      expect(await failure(() => client.verify(token))).toMatchObject({ httpStatus: 401, code: 'token_revoked' });
      // A value no header can carry is refused before any request.
      await expect(client.verify('a\nb')).rejects.toThrow(TypeError);
    });

    test('verify: 503 store_unavailable while the token store is unreachable, retryable', async () => {
      const { token } = await client.getToken({ userId: 'user-1', organizationId: 'org-1' });
      switchable.down = true;
      const error = await failure(() => client.verify(token));
      expect(error).toMatchObject({ httpStatus: 503, status: 'UNAVAILABLE', code: 'store_unavailable', retryable: true });
      switchable.down = false;
      expect((await client.verify(token)).userId).toBe('user-1');
    });

    test('identify: the check of /v1/auth/identify with this client\'s apiKey; mismatches throw', async () => {
      const issued = await client.getToken({ userId: 'user-1', organizationId: 'org-1', email: 'ada@example.com' });
      expect(await client.identify(issued.token, { userId: 'user-1', organizationId: 'org-1', email: 'ADA@example.com' })).toEqual({
        userId: 'user-1',
        organizationId: 'org-1',
        email: 'ada@example.com',
        isAdmin: false,
        expiresAt: issued.expiresAt,
      });
      const wrongUser = await failure(() => client.identify(issued.token, { userId: 'user-2', organizationId: 'org-1' }));
      expect(wrongUser).toMatchObject({ httpStatus: 403, status: 'PERMISSION_DENIED', code: 'user_mismatch', retryable: false });
      const wrongOrg = await failure(() => client.identify(issued.token, { userId: 'user-1', organizationId: 'org-2' }));
      expect(wrongOrg.code).toBe('organization_mismatch');
      const foreign = await failure(() => otherClient().identify(issued.token, { userId: 'user-1', organizationId: 'org-1' }));
      expect(foreign).toMatchObject({ httpStatus: 403, code: 'account_mismatch' });
      expect(await failure(() => client.identify('not-a-token', { userId: 'user-1' }))).toMatchObject({ httpStatus: 401, code: 'token_invalid' });
    });

    test('account: me, set and remove the public signing key', async () => {
      expect(await client.account.me()).toEqual({
        id: acme.account.id,
        name: 'Acme',
        apiKey: acme.apiKey,
        createdAt: acme.account.createdAt,
        hasSigningKey: false,
      });
      const key = await client.account.setPublicSigningKey(customerPublicKey);
      expect(key).toEqual({ hasSigningKey: true, bits: 2048, thumbprint: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
      expect((await client.account.me()).hasSigningKey).toBe(true);
      expect(await client.account.removePublicSigningKey()).toBe(true);
      expect((await client.account.me()).hasSigningKey).toBe(false);
      expect(await client.account.removePublicSigningKey()).toBe(false);
    });

    test('users: put, get, delete; issuance follows the directory', async () => {
      const user = await client.users.put('user-1', { organizationIds: ['org-1', 'org-2'], email: 'Ada@Example.com' });
      expect(user).toEqual({
        userId: 'user-1',
        organizationIds: ['org-1', 'org-2'],
        email: 'ada@example.com',
        updatedAt: expect.any(String),
      });
      expect(await client.users.get('user-1')).toEqual(user);

      const mismatch = await failure(() => client.getToken({ userId: 'user-1', organizationId: 'org-9' }));
      expect(mismatch).toMatchObject({ httpStatus: 403, status: 'PERMISSION_DENIED', code: 'organization_mismatch', retryable: false });
      expect(await client.getToken({ userId: 'user-1', organizationId: 'org-2' })).toHaveProperty('token');

      await expect(client.users.delete('user-1')).resolves.toBeUndefined();
      const gone = await failure(() => client.users.get('user-1'));
      expect(gone).toMatchObject({ httpStatus: 404, status: 'NOT_FOUND', code: 'not_found', retryable: false });
      expect((await failure(() => client.users.delete('user-1'))).code).toBe('not_found');
    });

    test('users: ids with characters that mean something in a URL travel intact', async () => {
      for (const userId of ['a/b', 'x?y#z', 'user 1', '100%', '..a', 'a..', '%2E%2E']) {
        const user = await client.users.put(userId, { organizationIds: ['org-1'] });
        expect(user.userId).toBe(userId);
        expect((await client.users.get(userId)).userId).toBe(userId);
        await client.users.delete(userId);
      }
      // A URL cannot carry "." or ".." as a path segment: refused before any request.
      await expect(client.users.get('..')).rejects.toThrow(TypeError);
      await expect(client.users.put('.', { organizationIds: ['org-1'] })).rejects.toThrow(TypeError);
    });
  });

  describe('errors', () => {
    test('401 in the envelope: invalid_credentials, with the request id', async () => {
      const bad = createGatewayClient({ baseUrl, apiKey: acme.apiKey, authToken: 'at_wrong', fetch: recordingFetch });
      const error = await failure(() => bad.getToken({ userId: 'user-1', organizationId: 'org-1' }));
      expect(error).toMatchObject({
        name: 'GatewayClientError',
        message: 'The credentials are not valid.',
        status: 'UNAUTHENTICATED',
        code: 'invalid_credentials',
        retryable: false,
        httpStatus: 401,
        oauthError: undefined,
      });
      expect(error.requestId).toBeTruthy();
      expect(error.requestId).toBe(requestIds[requestIds.length - 1]);
      expect((await failure(() => bad.account.me())).code).toBe('invalid_credentials');
    });

    test('401 in the OAuth shape (introspection, revocation): invalid_client read as invalid_credentials', async () => {
      const bad = createGatewayClient({ baseUrl, apiKey: acme.apiKey, authToken: 'at_wrong' });
      for (const fn of [() => bad.introspect('x'), () => bad.revoke('x')]) {
        const error = await failure(fn);
        expect(error).toMatchObject({
          message: 'The credentials are not valid.',
          status: 'UNAUTHENTICATED',
          code: 'invalid_credentials',
          retryable: false,
          httpStatus: 401,
          oauthError: 'invalid_client',
        });
        expect(error.requestId).toBeTruthy();
      }
    });

    test('400 in the OAuth shape: a missing token is invalid_request', async () => {
      const error = await failure(() => client.introspect(''));
      expect(error).toMatchObject({
        message: 'token is required.',
        status: 'INVALID_ARGUMENT',
        code: 'invalid_argument',
        httpStatus: 400,
        oauthError: 'invalid_request',
        retryable: false,
      });
    });

    test('400 in the envelope names the field', async () => {
      const error = await failure(() => client.getToken({ userId: 'user-1', organizationId: 'org-1', expiresIn: 5 }));
      expect(error).toMatchObject({ httpStatus: 400, status: 'INVALID_ARGUMENT', code: 'invalid_argument', retryable: false });
      expect(error.message).toMatch(/^data\.expiresIn /);
      const badKey = await failure(() => client.account.setPublicSigningKey('garbage'));
      expect(badKey).toMatchObject({ httpStatus: 400, code: 'invalid_argument' });
      expect(badKey.message).toMatch(/^data\.publicKey /);
      const badPolicy = await failure(() =>
        client.getToken({ userId: 'user-1', organizationId: 'org-1', policy: { allow: 'x' as unknown as string[] } }),
      );
      expect(badPolicy.message).toMatch(/^data\.policy[. ]/);
    });

    test('the error never carries the secret', async () => {
      const bad = createGatewayClient({ baseUrl, apiKey: acme.apiKey, authToken: 'at_secret_value_0000' });
      const error = await failure(() => bad.account.me());
      expect(JSON.stringify({ ...error, message: error.message })).not.toContain('at_secret_value_0000');
    });
  });
});

describe('createGatewayClient error mapping, with a scripted fetch', () => {
  const clientWith = (respond: () => Response | Promise<Response>) =>
    createGatewayClient({ baseUrl: 'https://gateway.test', apiKey: 'ak_x', authToken: 'at_y', fetch: async () => respond() });
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

  test('503 store_unavailable is retryable', async () => {
    const error = await failure(() =>
      clientWith(() =>
        json(503, { error: { message: 'The token store is unavailable; try again shortly.', status: 'UNAVAILABLE', code: 'store_unavailable', retryable: true } }, { 'x-request-id': 'req-503' }),
      ).getToken({ userId: 'u', organizationId: 'o' }),
    );
    expect(error).toMatchObject({ httpStatus: 503, status: 'UNAVAILABLE', code: 'store_unavailable', retryable: true, requestId: 'req-503' });
  });

  test('429 carries Retry-After; the OAuth shape too', async () => {
    const error = await failure(() =>
      clientWith(() =>
        json(429, { error: 'temporarily_unavailable', error_description: 'Too many requests.', status: 'RESOURCE_EXHAUSTED', code: 'rate_limited', retryable: true }, { 'retry-after': '7' }),
      ).introspect('t'),
    );
    expect(error).toMatchObject({
      httpStatus: 429,
      status: 'RESOURCE_EXHAUSTED',
      code: 'rate_limited',
      retryable: true,
      retryAfterSeconds: 7,
      oauthError: 'temporarily_unavailable',
      message: 'Too many requests.',
    });
  });

  test('a bare OAuth error without the gateway members falls back on the HTTP status', async () => {
    const error = await failure(() => clientWith(() => json(401, { error: 'invalid_client' })).revoke('t'));
    expect(error).toMatchObject({ httpStatus: 401, status: 'UNAUTHENTICATED', code: 'invalid_client', retryable: false, oauthError: 'invalid_client' });
  });

  test("a proxy's HTML 502 → invalid_response, retryable", async () => {
    const error = await failure(() =>
      clientWith(() => new Response('<html>Bad gateway</html>', { status: 502 })).account.me(),
    );
    expect(error).toMatchObject({ httpStatus: 502, status: 'UNAVAILABLE', code: 'invalid_response', retryable: true });
  });

  test('a 200 that is not JSON, or has no result data → invalid_response, not retryable', async () => {
    expect(await failure(() => clientWith(() => new Response('ok', { status: 200 })).account.me())).toMatchObject({
      code: 'invalid_response',
      retryable: false,
      httpStatus: 200,
    });
    expect(await failure(() => clientWith(() => json(200, { hello: 1 })).account.me())).toMatchObject({ code: 'invalid_response' });
  });

  test('no answer at all → network_error, retryable, httpStatus 0', async () => {
    const error = await failure(() =>
      clientWith(() => {
        throw new TypeError('fetch failed');
      }).users.get('u'),
    );
    expect(error).toMatchObject({ status: 'UNAVAILABLE', code: 'network_error', retryable: true, httpStatus: 0 });
    expect((error.cause as Error).message).toBe('fetch failed');
  });

  test('requests: Basic credentials form-encoded then Base64, JSON bodies, the path', async () => {
    const seen: Array<{ url: string; init?: RequestInit }> = [];
    const client = createGatewayClient({
      baseUrl: 'https://gateway.test/prefix/',
      apiKey: 'ak_key',
      authToken: 'at_tok-en',
      fetch: async (url, init) => {
        seen.push({ url, ...(init ? { init } : {}) });
        return json(200, { result: { status: 'success', message: 'ok', data: { userId: 'u', revokedBefore: 1 } } });
      },
    });
    await client.revokeUser('u');
    expect(seen[0]!.url).toBe('https://gateway.test/prefix/v1/auth/users/revoke');
    const headers = seen[0]!.init!.headers as Record<string, string>;
    expect(headers.Authorization).toBe(`Basic ${Buffer.from('ak_key:at_tok-en').toString('base64')}`);
    expect(headers['Content-Type']).toBe('application/json');
    expect(JSON.parse(seen[0]!.init!.body as string)).toEqual({ data: { userId: 'u' } });
  });

  test('options are checked', () => {
    expect(() => createGatewayClient({ baseUrl: 'gateway.test', apiKey: 'a', authToken: 'b' })).toThrow(/baseUrl/);
    expect(() => createGatewayClient({ baseUrl: 'https://g.test', apiKey: '', authToken: 'b' })).toThrow(/apiKey/);
    expect(() => createGatewayClient({ baseUrl: 'https://g.test', apiKey: 'a', authToken: '' })).toThrow(/authToken/);
  });
});
