/**
 * Contract §7: a key's activation time is the later of the time in its file's name and its
 * first sighting by any instance (recorded once in the store), never the file's modification
 * time; equal activations are ordered by file name, never by kid. Several rings sharing one
 * record stand for several replicas; the store's own record is tested on every store kind.
 */
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../src/clock';
import { KeyRing, keyFileName, nameTimeOf, type KeyEvent, type KeySightings } from '../../src/keys';
import { makeStore, STORE_SUITE_KINDS } from '../helpers/stores';
import { rsaPrivateKeyPem } from '../helpers/keys';

const CACHE = 300;
const options = (dir: string, clock: ManualClock, sightings: KeySightings, events?: KeyEvent[]) => ({
  dir,
  algorithm: 'RS256' as const,
  clock,
  jwksMaxAgeSeconds: CACHE,
  maxTokenLifetimeSeconds: 172_800,
  clockToleranceSeconds: 5,
  sightings,
  ...(events ? { onKeyEvent: (event: KeyEvent) => events.push(event) } : {}),
});

/** The shared record of a store, as several replicas see it. */
class SharedSightings implements KeySightings {
  readonly seen = new Map<string, number>();
  down = false;
  async recordKeySighting(kid: string, atMs: number): Promise<number> {
    if (this.down) throw new Error('store unavailable');
    if (!this.seen.has(kid)) this.seen.set(kid, atMs);
    return this.seen.get(kid)!;
  }
}

function write(dir: string, name: string, pem: string, mtimeSeconds: number): void {
  const file = path.join(dir, name);
  writeFileSync(file, pem);
  utimesSync(file, mtimeSeconds, mtimeSeconds);
}

const touchAll = (dir: string, names: string[], mtimeSeconds: number) =>
  names.forEach((name) => utimesSync(path.join(dir, name), mtimeSeconds, mtimeSeconds));

describe('nameTimeOf', () => {
  test.each([
    ['2026-12-04T17-05-24Z-rs256.pem', Date.UTC(2026, 11, 4, 17, 5, 24)],
    ['2026-12-04T17-05-24-123Z-rs256.pem', Date.UTC(2026, 11, 4, 17, 5, 24, 123)],
    ['/some/dir/2026-01-31T00-00-00Z.pem', Date.UTC(2026, 0, 31)],
    ['2026-02-31T00-00-00Z.pem', 0],
    ['2026-12-04T25-00-00Z.pem', 0],
    ['key-0.pem', 0],
    ['x2026-12-04T17-05-24Z.pem', 0],
    ['2026-12-04T17:05:24Z.pem', 0],
  ])('%s', (file, ms) => {
    expect(nameTimeOf(file)).toBe(ms);
  });

  test('keys generate names its files so that the name is the generation time', () => {
    const at = new Date(Date.UTC(2026, 5, 1, 12, 30, 45, 678));
    expect(keyFileName(at, 'ES256')).toBe('2026-06-01T12-30-45-678Z-es256.pem');
    expect(nameTimeOf(keyFileName(at, 'RS256'))).toBe(at.getTime());
  });
});

describe('key activation across replicas', () => {
  const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
  let dir: string;
  let sightings: SharedSightings;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tg-activation-'));
    sightings = new SharedSightings();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('one identical modification time for every file, then a replica started later with fresh times: every replica signs with the same key', async () => {
    const oldName = keyFileName(new Date(T0 - 86_400_000), 'RS256');
    write(dir, oldName, rsaPrivateKeyPem('old'), T0 / 1000);
    const clockA = new ManualClock(T0);
    const a = await KeyRing.load(options(dir, clockA, sightings));
    const old = a.signingKey();

    // A day later a new key arrives through a Secret update: every file gets one new mtime.
    clockA.advanceSeconds(86_400);
    const newName = keyFileName(new Date(clockA.now()), 'RS256');
    write(dir, newName, rsaPrivateKeyPem('new'), 0);
    touchAll(dir, [oldName, newName], clockA.now() / 1000);
    await a.reload();
    const clockB = new ManualClock(clockA.now());
    const b = await KeyRing.load(options(dir, clockB, sightings));
    // Both publish it at once; neither signs with it before the cache lifetime has passed.
    for (const ring of [a, b]) {
      expect(JSON.parse(ring.jwks().body).keys).toHaveLength(2);
      expect(ring.signingKey().kid).toBe(old.kid);
    }

    // A replica started much later sees fresh times, the old file's the newest of all.
    const later = clockA.now() + (CACHE + 100) * 1000;
    touchAll(dir, [newName], later / 1000 - 60);
    touchAll(dir, [oldName], later / 1000);
    const clockC = new ManualClock(later);
    const c = await KeyRing.load(options(dir, clockC, sightings));
    const fresh = c.signingKey();
    expect(fresh.kid).not.toBe(old.kid);
    for (const clock of [clockA, clockB]) clock.set(later);
    await a.reload();
    await b.reload();
    expect([a.signingKey().kid, b.signingKey().kid, c.signingKey().kid]).toEqual([fresh.kid, fresh.kid, fresh.kid]);
    // And the activation time is the same everywhere.
    const activations = [a, b, c].map((ring) => ring.activeKeys().find((k) => k.kid === fresh.kid)!.activatesAtMs);
    expect(new Set(activations)).toEqual(new Set([T0 + 86_400_000]));
  });

  test('never signs with a key published less than the JWKS cache lifetime ago, whatever the replica', async () => {
    write(dir, keyFileName(new Date(T0 - 86_400_000), 'RS256'), rsaPrivateKeyPem('old'), T0 / 1000);
    const first = await KeyRing.load(options(dir, new ManualClock(T0), sightings));
    const old = first.signingKey();
    const added = T0 + 1000 * CACHE * 2;
    write(dir, keyFileName(new Date(added), 'RS256'), rsaPrivateKeyPem('new'), added / 1000);
    // Replicas start one after another, each at its own moment within the cache lifetime.
    for (let offset = 0; offset < CACHE; offset += 37) {
      const ring = await KeyRing.load(options(dir, new ManualClock(added + offset * 1000), sightings));
      expect(ring.signingKey().kid).toBe(old.kid);
    }
    const ring = await KeyRing.load(options(dir, new ManualClock(added + CACHE * 1000), sightings));
    expect(ring.signingKey().kid).not.toBe(old.kid);
  });

  test('a name time in the future schedules the key: it signs from that time plus the cache lifetime', async () => {
    write(dir, 'a.pem', rsaPrivateKeyPem('old'), T0 / 1000);
    const clock = new ManualClock(T0 + CACHE * 1000 * 2);
    const ring = await KeyRing.load(options(dir, clock, sightings));
    const old = ring.signingKey();
    const at = clock.now() + 3_600_000;
    write(dir, keyFileName(new Date(at), 'RS256'), rsaPrivateKeyPem('new'), clock.now() / 1000);
    await ring.reload();
    clock.set(at + CACHE * 1000 - 1);
    expect(ring.signingKey().kid).toBe(old.kid);
    clock.set(at + CACHE * 1000);
    expect(ring.signingKey().kid).not.toBe(old.kid);
  });

  test('equal activation times are ordered by file name, never by kid', async () => {
    const pems = [rsaPrivateKeyPem('old'), rsaPrivateKeyPem('new')];
    for (const order of [0, 1]) {
      const sub = mkdtempSync(path.join(dir, 'order-'));
      // The same name time for both; which one sorts last by name alternates.
      const stamp = keyFileName(new Date(T0), 'RS256').replace('-rs256.pem', '');
      write(sub, `${stamp}-a.pem`, pems[order]!, T0 / 1000);
      write(sub, `${stamp}-b.pem`, pems[1 - order]!, T0 / 1000);
      const ring = await KeyRing.load(options(sub, new ManualClock(T0 + 1000 * CACHE * 2), new SharedSightings()));
      expect(path.basename(ring.signingKey().file)).toBe(`${stamp}-b.pem`);
    }
  });

  test('a key whose first sighting cannot be recorded (store down) is published but never signs until it is', async () => {
    write(dir, 'a.pem', rsaPrivateKeyPem('old'), T0 / 1000);
    const clock = new ManualClock(T0);
    const ring = await KeyRing.load(options(dir, clock, sightings));
    const old = ring.signingKey();
    clock.advanceSeconds(CACHE * 2);
    sightings.down = true;
    write(dir, keyFileName(new Date(T0), 'RS256'), rsaPrivateKeyPem('new'), T0 / 1000);
    await ring.reload();
    expect(JSON.parse(ring.jwks().body).keys).toHaveLength(2);
    clock.advanceSeconds(CACHE * 10);
    expect(ring.signingKey().kid).toBe(old.kid);
    // Back up: the next reload records it now, and it signs a cache lifetime later.
    sightings.down = false;
    await ring.reload();
    expect(ring.signingKey().kid).toBe(old.kid);
    clock.advanceSeconds(CACHE);
    expect(ring.signingKey().kid).not.toBe(old.kid);
  });

  test('loading and retiring a key are reported (kid, algorithm, file; never the key)', async () => {
    const events: KeyEvent[] = [];
    write(dir, 'a.pem', rsaPrivateKeyPem('old'), T0 / 1000);
    const clock = new ManualClock(T0);
    const ring = await KeyRing.load(options(dir, clock, sightings, events));
    expect(events).toEqual([
      { event: 'loaded', kid: ring.signingKey().kid, alg: 'RS256', file: path.join(dir, 'a.pem'), activatesAt: new Date(T0).toISOString() },
    ]);
    clock.advanceSeconds(CACHE * 2);
    write(dir, 'b.pem', rsaPrivateKeyPem('new'), T0 / 1000);
    await ring.reload();
    clock.advanceSeconds(CACHE + 172_800 + 5 + CACHE + 1);
    await ring.reload();
    expect(events.map((e) => `${e.event} ${path.basename(e.file)}`)).toEqual(['loaded a.pem', 'loaded b.pem', 'retired a.pem']);
    expect(JSON.stringify(events)).not.toMatch(/PRIVATE KEY|"d":/);
  });
});

describe.each(STORE_SUITE_KINDS)('the %s store records first sightings', (kind) => {
  test('the first writer wins; every later call reads its time', async () => {
    const a = await makeStore(kind);
    try {
      expect(await a.store.recordKeySighting('kid-1', 1000)).toBe(1000);
      expect(await a.store.recordKeySighting('kid-1', 5000)).toBe(1000);
      const answers = await Promise.all([2000, 3000, 4000].map((t) => a.store.recordKeySighting('kid-2', t)));
      expect(new Set(answers).size).toBe(1);
    } finally {
      await a.cleanup();
    }
  });
});
