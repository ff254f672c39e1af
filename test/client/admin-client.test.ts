/**
 * The operator's client of token-gateway/client against a live gateway on a local port:
 * accounts.create and authTokens.add/list/remove (contract §5), each with its failures.
 */
import type { Server } from 'node:http';
import { createAdminClient, createGatewayClient, type AdminClient } from '../../packages/client/src';
import { ADMIN_TOKEN, buildTestGateway, type TestGateway } from '../helpers/app';
import { failure, listen, stop } from '../helpers/live';

describe('createAdminClient against a live gateway', () => {
  let gw: TestGateway;
  let server: Server;
  let baseUrl: string;
  let admin: AdminClient;

  beforeAll(async () => {
    gw = await buildTestGateway({ store: 'memory' });
    ({ server, baseUrl } = await listen(gw));
    admin = createAdminClient({ baseUrl: `${baseUrl}/`, adminToken: ADMIN_TOKEN });
  });
  afterAll(() => stop(server, gw));

  test('accounts.create: the account, its first auth token, and credentials that work', async () => {
    const created = await admin.accounts.create('Acme');
    expect(created).toEqual({
      account: {
        id: expect.any(String),
        name: 'Acme',
        apiKey: expect.stringMatching(/^ak_[A-Za-z0-9_-]+$/),
        createdAt: new Date(gw.clock.now()).toISOString(),
      },
      authTokenId: expect.any(String),
      authToken: expect.stringMatching(/^at_[A-Za-z0-9_-]+$/),
    });
    const customer = createGatewayClient({ baseUrl, apiKey: created.account.apiKey, authToken: created.authToken });
    expect(await customer.account.me()).toMatchObject({ id: created.account.id, name: 'Acme', hasSigningKey: false });
  });

  test('accounts.create: an empty name is 400 invalid_argument naming the field', async () => {
    const error = await failure(() => admin.accounts.create('  '));
    expect(error).toMatchObject({ httpStatus: 400, status: 'INVALID_ARGUMENT', code: 'invalid_argument', retryable: false });
    expect(error.message).toMatch(/^data\.name /);
  });

  test('authTokens.add: a second token, the first keeps working; list shows both without secrets', async () => {
    const created = await admin.accounts.create('Rotating');
    const added = await admin.authTokens.add(created.account.id);
    expect(added).toEqual({
      authTokenId: expect.any(String),
      authToken: expect.stringMatching(/^at_/),
      createdAt: expect.any(String),
    });
    expect(added.authTokenId).not.toBe(created.authTokenId);
    for (const authToken of [created.authToken, added.authToken]) {
      const customer = createGatewayClient({ baseUrl, apiKey: created.account.apiKey, authToken });
      expect((await customer.account.me()).id).toBe(created.account.id);
    }

    const listed = await admin.authTokens.list(created.account.id);
    expect(listed).toHaveLength(2);
    expect(listed.map((t) => t.authTokenId).sort()).toEqual([created.authTokenId, added.authTokenId].sort());
    for (const entry of listed) expect(Object.keys(entry).sort()).toEqual(['authTokenId', 'createdAt']);
    expect(JSON.stringify(listed)).not.toContain(created.authToken);
    expect(JSON.stringify(listed)).not.toContain(added.authToken);
  });

  test('authTokens.remove: the removed token stops working at once, the other goes on', async () => {
    const created = await admin.accounts.create('Revoking');
    const added = await admin.authTokens.add(created.account.id);
    await expect(admin.authTokens.remove(created.account.id, created.authTokenId)).resolves.toBeUndefined();
    expect((await admin.authTokens.list(created.account.id)).map((t) => t.authTokenId)).toEqual([added.authTokenId]);

    const removed = createGatewayClient({ baseUrl, apiKey: created.account.apiKey, authToken: created.authToken });
    expect(await failure(() => removed.account.me())).toMatchObject({ httpStatus: 401, code: 'invalid_credentials' });
    const kept = createGatewayClient({ baseUrl, apiKey: created.account.apiKey, authToken: added.authToken });
    expect((await kept.account.me()).id).toBe(created.account.id);

    // Removing it again: 404.
    const again = await failure(() => admin.authTokens.remove(created.account.id, created.authTokenId));
    expect(again).toMatchObject({ httpStatus: 404, status: 'NOT_FOUND', code: 'not_found', retryable: false });
  });

  test('an unknown account id is 404 not_found for add, list and remove', async () => {
    for (const fn of [
      () => admin.authTokens.add('acc_unknown'),
      () => admin.authTokens.list('acc_unknown'),
      () => admin.authTokens.remove('acc_unknown', 'atk_unknown'),
    ]) {
      const error = await failure(fn);
      expect(error).toMatchObject({ httpStatus: 404, status: 'NOT_FOUND', code: 'not_found', retryable: false });
      expect(error.requestId).toBeTruthy();
    }
  });

  test('ids with URL characters travel as one path segment; "." and ".." are refused before any request', async () => {
    const error = await failure(() => admin.authTokens.list('a/b?c#d'));
    expect(error).toMatchObject({ httpStatus: 404, code: 'not_found' });
    await expect(admin.authTokens.list('..')).rejects.toThrow(TypeError);
    await expect(admin.authTokens.remove('acc_x', '.')).rejects.toThrow(TypeError);
    await expect(admin.authTokens.add('')).rejects.toThrow(TypeError);
  });

  test('a wrong admin token is 401 invalid_credentials on every method, and the error never carries it', async () => {
    const created = await admin.accounts.create('Target');
    const wrong = createAdminClient({ baseUrl, adminToken: 'wrong-admin-token-secret' });
    for (const fn of [
      () => wrong.accounts.create('Nope'),
      () => wrong.authTokens.add(created.account.id),
      () => wrong.authTokens.list(created.account.id),
      () => wrong.authTokens.remove(created.account.id, created.authTokenId),
    ]) {
      const error = await failure(fn);
      expect(error).toMatchObject({ httpStatus: 401, status: 'UNAUTHENTICATED', code: 'invalid_credentials', retryable: false });
      expect(JSON.stringify({ ...error, message: error.message })).not.toContain('wrong-admin-token-secret');
    }
    // Nothing was changed.
    expect(await admin.authTokens.list(created.account.id)).toHaveLength(1);
  });

  test('options are checked', () => {
    expect(() => createAdminClient({ baseUrl: 'gateway.test', adminToken: 'x' })).toThrow(/baseUrl/);
    expect(() => createAdminClient({ baseUrl, adminToken: '' })).toThrow(/adminToken/);
    expect(() => createAdminClient({ baseUrl, adminToken: 'has space' })).toThrow(/adminToken/);
  });
});

describe('createAdminClient against a gateway without ADMIN_TOKEN', () => {
  let gw: TestGateway;
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
    gw = await buildTestGateway({ store: 'memory', env: { ADMIN_TOKEN: '' } });
    ({ server, baseUrl } = await listen(gw));
  });
  afterAll(() => stop(server, gw));

  test('the admin routes answer 404 not_found', async () => {
    const admin = createAdminClient({ baseUrl, adminToken: ADMIN_TOKEN });
    expect(await failure(() => admin.accounts.create('Acme'))).toMatchObject({ httpStatus: 404, code: 'not_found' });
  });
});
