'use strict';
/**
 * npm run bench: the gateway against a naive baseline, the machine's RS256 capacity and a bare
 * Express floor, all measured in the same run on the same machine, then a paced run.
 *
 *   node dist/server.js       WORKERS workers, Redis store under its own prefix (RS256), and two
 *                             more under JWT_ALGORITHM=ES256 and EdDSA, for issuance only; and
 *                             the same gateway with tracing on (OTEL_TRACES_SAMPLER=always_on,
 *                             OTLP/HTTP protobuf to bench/otlp-sink.js), for forward auth
 *   bench/baseline/server.js  Express + jsonwebtoken + ioredis as a docs example writes it
 *   bench/floor/server.js     Express hello, WORKERS workers
 *   bench/sign-capacity.js    async crypto.sign on every core, 32 in flight
 *
 * Load: autocannon, 64 connections, a warm-up per target, BENCH_ROUNDS rounds of BENCH_DURATION
 * seconds (targets interleaved within each round), medians. Then a paced run at a fixed rate
 * (bench/paced.js, open loop, evenly spaced) for p50/p99 at that rate. Then bench/redis-memory.js (BENCH_MEMORY=0 skips).
 *
 * Env: BENCH_DURATION (s, default 10), BENCH_ROUNDS (3), BENCH_WARMUP (s, 2), WORKERS (cores),
 * BENCH_CONNECTIONS (64), BENCH_RATE (checks, req/s; default half the floor's measured rate), BENCH_RATE_LOW (checks again, 1000; 0 skips),
 * BENCH_ISSUE_RATE (issuance, req/s,
 * 200), BENCH_SIGN_SECONDS (3), BENCH_LOG_LEVEL (gateway LOG_LEVEL, default warn),
 * BASELINE_WORKERS (default WORKERS), BENCH_RSA_BITS (default: the gateway's generated key
 * size), REDIS_URL (redis://127.0.0.1:6379), BENCH_JSON (write the figures there), BENCH_MEMORY.
 * Everything listens on 127.0.0.1 only; the whole run is bounded by a deadline.
 */
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const autocannon = require('autocannon');
const { pacedLoad } = require('./paced');
const { freePort, spawnNode, waitHttp, stopChild, json, deletePrefix, sleep, assertSuccess } = require('./children');
const Redis = require('ioredis');

const ROOT = path.resolve(__dirname, '..');

function intEnv(name, def, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return def;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${name} must be a number between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
const settings = {
  duration: intEnv('BENCH_DURATION', 10, 1, 600),
  rounds: intEnv('BENCH_ROUNDS', 3, 1, 20),
  warmup: intEnv('BENCH_WARMUP', 2, 0, 60),
  workers: intEnv('WORKERS', cores, 1, 256),
  connections: intEnv('BENCH_CONNECTIONS', 64, 1, 4096),
  // Default: half the floor's rate measured in the same run (the checks' latency target is set there).
  rate: process.env.BENCH_RATE ? intEnv('BENCH_RATE', 0, 1, 1_000_000) : undefined,
  lowRate: intEnv('BENCH_RATE_LOW', 1000, 0, 1_000_000),
  issueRate: intEnv('BENCH_ISSUE_RATE', 200, 1, 1_000_000),
  signSeconds: intEnv('BENCH_SIGN_SECONDS', 3, 1, 60),
  logLevel: process.env.BENCH_LOG_LEVEL || 'warn',
  redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  memory: process.env.BENCH_MEMORY !== '0',
};
settings.baselineWorkers = intEnv('BASELINE_WORKERS', settings.workers, 1, 256);

const ADMIN_TOKEN = `bench-admin-${crypto.randomBytes(12).toString('hex')}`;
const RUN_ID = crypto.randomBytes(4).toString('hex');
const GATEWAY_PREFIX = `tgbench:${RUN_ID}:`;
const BASELINE_PREFIX = `tgbench:${RUN_ID}:baseline:`;
const TOKEN_POOL = 100;

const children = [];
let tmpDir;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

function startChild(name, args, env) {
  const child = spawnNode(name, args, env);
  children.push(child);
  return child;
}

let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  await Promise.all(children.map(stopChild));
  try {
    const deleted = await deletePrefix(settings.redisUrl, `tgbench:${RUN_ID}:`);
    process.stderr.write(`cleanup: ${deleted} Redis keys under tgbench:${RUN_ID}: deleted\n`);
  } catch (error) {
    process.stderr.write(`cleanup: could not delete the bench keys: ${error.message}\n`);
  }
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
}

/** One autocannon run; returns req/s (2xx only), p50, p99 (ms) and the failure counts. */
async function load(opts, seconds, extra = {}) {
  const result = await autocannon({
    connections: settings.connections,
    pipelining: 1,
    timeout: 10,
    duration: seconds,
    ...opts,
    ...extra,
  });
  return {
    rps: result['2xx'] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    bad: result.non2xx + result.errors + result.timeouts,
    sent: result.requests.sent,
  };
}

/** A scenario that cycles through `bodies` (pre-built: no per-request work in the load generator). */
function scenario(url, method, pathName, headersList, bodies) {
  const count = Math.max(headersList.length, bodies.length, 1);
  const requests = [];
  for (let i = 0; i < count; i += 1) {
    const request = { method, path: pathName, headers: headersList[i % headersList.length] };
    if (bodies.length > 0) request.body = bodies[i % bodies.length];
    requests.push(request);
  }
  return { url, requests };
}

function fmt(n, digits = 0) {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
const pct = (n) => (n === undefined || Number.isNaN(n) ? '–' : `${fmt(n * 100, 1)} %`);
const ratio = (n) => (n === undefined || Number.isNaN(n) ? '–' : `${fmt(n, 2)}×`);

function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** bench/sign-capacity.js in its own process, the libuv pool sized to the cores. */
function signCapacity(keyFile) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'sign-capacity.js'), keyFile, String(settings.signSeconds), '32'], {
      env: { PATH: process.env.PATH || '', UV_THREADPOOL_SIZE: String(Math.max(4, cores)) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), (settings.signSeconds + 30) * 1000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`sign-capacity failed (${code})`));
      }
    });
  });
}

async function main() {
  const started = Date.now();
  const loadAvgBefore = os.loadavg();
  if (!fs.existsSync(path.join(ROOT, 'dist/server.js'))) throw new Error('dist/server.js is missing: run npm run build');
  const { DEFAULT_RSA_BITS } = require(path.join(ROOT, 'dist/keys'));
  const rsaBits = intEnv('BENCH_RSA_BITS', DEFAULT_RSA_BITS, 2048, 8192);

  // Keys: one RSA key for the gateway, the baseline and the capacity measure, dated a day ago
  // so that the gateway signs with it at once.
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-bench-'));
  const keysDir = path.join(tmpDir, 'keys');
  fs.mkdirSync(keysDir);
  const pair = crypto.generateKeyPairSync('rsa', {
    modulusLength: rsaBits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const privateFile = path.join(keysDir, 'bench.pem');
  const publicFile = path.join(tmpDir, 'bench.pub.pem');
  fs.writeFileSync(privateFile, pair.privateKey, { mode: 0o600 });
  fs.writeFileSync(publicFile, pair.publicKey);
  const dayAgo = Date.now() / 1000 - 86_400;
  fs.utimesSync(privateFile, dayAgo, dayAgo);

  const redis = new Redis(settings.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: true });
  try {
    await redis.connect();
    await redis.ping();
  } finally {
    redis.disconnect();
  }

  const [gwPort, basePort, floorPort] = [await freePort(), await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${gwPort}`;
  /** The environment of a gateway under test; `extra` overrides or adds. */
  const gatewayEnv = (port, extra = {}) => ({
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    WORKERS: String(settings.workers),
    REDIS_URL: settings.redisUrl,
    REDIS_PREFIX: GATEWAY_PREFIX,
    ADMIN_TOKEN,
    KEYS_DIR: keysDir,
    JWT_ISSUER: 'https://gateway.bench',
    LOG_LEVEL: settings.logLevel,
    // The issuance runs measure signing capacity, not the per-apiKey quota (on by default).
    ISSUANCE_QUOTA_PER_MINUTE: '0',
    ...extra,
  });
  const gateway = startChild('gateway', ['dist/server.js'], gatewayEnv(gwPort));
  // The same gateway under JWT_ALGORITHM=ES256 and EdDSA (contract §7), for issuance only.
  const otherAlgorithms = [];
  for (const [alg, type, options] of [
    ['ES256', 'ec', { namedCurve: 'prime256v1' }],
    ['EdDSA', 'ed25519', {}],
  ]) {
    const dir = path.join(tmpDir, `keys-${alg}`);
    fs.mkdirSync(dir);
    const file = path.join(dir, `${alg}.pem`);
    fs.writeFileSync(
      file,
      crypto.generateKeyPairSync(type, { ...options, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey,
      { mode: 0o600 },
    );
    fs.utimesSync(file, dayAgo, dayAgo);
    const port = await freePort();
    const child = startChild(
      `gateway ${alg}`,
      ['dist/server.js'],
      gatewayEnv(port, { REDIS_PREFIX: `${GATEWAY_PREFIX}${alg.toLowerCase()}:`, KEYS_DIR: dir, JWT_ALGORITHM: alg }),
    );
    otherAlgorithms.push({ alg, child, url: `http://127.0.0.1:${port}` });
  }
  const baseline = startChild('baseline', ['bench/baseline/server.js'], {
    PORT: String(basePort),
    HOST: '127.0.0.1',
    WORKERS: String(settings.baselineWorkers),
    REDIS_URL: settings.redisUrl,
    PREFIX: BASELINE_PREFIX,
    PRIVATE_KEY_FILE: privateFile,
    PUBLIC_KEY_FILE: publicFile,
    ISSUER: issuer,
  });
  // The same gateway (same store prefix, keys and issuer, so the same tokens) with tracing on:
  // every request sampled, exported over OTLP/HTTP (protobuf) to a sink that discards it.
  const [tracedPort, sinkPort] = [await freePort(), await freePort()];
  const sink = spawn(process.execPath, [path.join(__dirname, 'otlp-sink.js')], {
    env: { PATH: process.env.PATH || '', PORT: String(sinkPort), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  sink.benchName = 'otlp sink';
  sink.stderrTail = () => '';
  let sinkOutput = '';
  sink.stdout.on('data', (d) => (sinkOutput += d));
  children.push(sink);
  const traced = startChild(
    'gateway traced',
    ['dist/server.js'],
    gatewayEnv(tracedPort, { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}`, OTEL_TRACES_SAMPLER: 'always_on' }),
  );
  const floor = startChild('floor', ['bench/floor/server.js'], {
    PORT: String(floorPort),
    HOST: '127.0.0.1',
    WORKERS: String(settings.workers),
  });
  const gw = `http://127.0.0.1:${gwPort}`;
  const base = `http://127.0.0.1:${basePort}`;
  const floorUrl = `http://127.0.0.1:${floorPort}`;
  await waitHttp(`${gw}/readyz`, gateway);
  for (const other of otherAlgorithms) await waitHttp(`${other.url}/readyz`, other.child);
  const tracedUrl = `http://127.0.0.1:${tracedPort}`;
  await waitHttp(`${tracedUrl}/readyz`, traced);
  await waitHttp(`${base}/`, baseline);
  await waitHttp(`${floorUrl}/hello`, floor);

  // Setup through the admin API: one account, a pool of tokens for the checks.
  const created = await json(`${gw}/v1/admin/accounts`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ data: { name: 'bench' } }),
  });
  const { apiKey } = created.result.data.account;
  const { authToken } = created.result.data;
  const basic = `Basic ${Buffer.from(`${apiKey}:${authToken}`).toString('base64')}`;
  const issueBody = (userId) =>
    JSON.stringify({
      data: { apiKey, authToken, userId, userProperties: { organizationId: 'org-1', email: `${userId}@example.com` }, expiresIn: 3600 },
    });
  for (const other of otherAlgorithms) {
    const made = await json(`${other.url}/v1/admin/accounts`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ data: { name: `bench ${other.alg}` } }),
    });
    const account = { apiKey: made.result.data.account.apiKey, authToken: made.result.data.authToken };
    other.issueBody = (userId) =>
      JSON.stringify({ data: { ...account, userId, userProperties: { organizationId: 'org-1', email: `${userId}@example.com` }, expiresIn: 3600 } });
  }
  const users = Array.from({ length: TOKEN_POOL }, (_, i) => `user-${i}`);
  const gwTokens = [];
  for (const userId of users) {
    const issued = await json(`${gw}/v1/auth/token/get`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: issueBody(userId),
    });
    gwTokens.push(issued.result.data.token);
  }
  await json(`${base}/seed`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ apiKey, authToken }),
  });
  const baseTokens = [];
  for (const userId of users) {
    const issued = await json(`${base}/token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: issueBody(userId) });
    baseTokens.push(issued.token);
  }

  const jsonHeaders = { 'content-type': 'application/json' };
  const formHeaders = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic };
  const form = (token) => `token=${encodeURIComponent(token)}`;
  const scenarios = {
    'gateway issuance': scenario(gw, 'POST', '/v1/auth/token/get', [jsonHeaders], users.slice(0, 10).map(issueBody)),
    'gateway introspection': scenario(gw, 'POST', '/v1/auth/token/introspect', [formHeaders], gwTokens.map(form)),
    'gateway forward auth': scenario(gw, 'GET', `/v1/auth/verify?apiKey=${encodeURIComponent(apiKey)}`, gwTokens.map((t) => ({ authorization: `Bearer ${t}` })), []),
    'gateway forward auth traced': scenario(tracedUrl, 'GET', `/v1/auth/verify?apiKey=${encodeURIComponent(apiKey)}`, gwTokens.map((t) => ({ authorization: `Bearer ${t}` })), []),
    'gateway identify': scenario(
      gw,
      'POST',
      '/v1/auth/identify',
      [jsonHeaders],
      gwTokens.map((token, i) =>
        JSON.stringify({ data: { apiKey, token, user: { userId: users[i], organizationId: 'org-1', email: `${users[i]}@example.com` } } }),
      ),
    ),
    'baseline issuance': scenario(base, 'POST', '/token', [jsonHeaders], users.slice(0, 10).map(issueBody)),
    ...Object.fromEntries(otherAlgorithms.map((o) => [`gateway issuance ${o.alg}`, scenario(o.url, 'POST', '/v1/auth/token/get', [jsonHeaders], users.slice(0, 10).map(o.issueBody))])),
    'baseline introspection': scenario(base, 'POST', '/introspect', [formHeaders], baseTokens.map(form)),
    floor: scenario(floorUrl, 'GET', '/hello', [{}], []),
  };

  // Every scenario answers its success before anything is measured.
  for (const [name, s] of Object.entries(scenarios)) {
    const r = s.requests[0];
    await assertSuccess(name, await fetch(`${s.url}${r.path}`, { method: r.method, headers: r.headers, body: r.body, signal: AbortSignal.timeout(10_000) }));
  }

  process.stderr.write(
    `bench: ${settings.rounds} rounds × ${settings.duration} s, ${settings.connections} connections, ` +
      `gateway WORKERS=${settings.workers}, baseline ${settings.baselineWorkers}, RSA ${rsaBits} bits\n`,
  );
  if (settings.warmup > 0) {
    for (const [name, s] of Object.entries(scenarios)) {
      process.stderr.write(`warm-up: ${name}\n`);
      await load(s, settings.warmup);
    }
  }
  const samples = Object.fromEntries(Object.keys(scenarios).map((k) => [k, []]));
  for (let round = 1; round <= settings.rounds; round += 1) {
    // Interleaved, so that a disturbance hits every target alike.
    for (const [name, s] of Object.entries(scenarios)) {
      process.stderr.write(`round ${round}/${settings.rounds}: ${name}\n`);
      samples[name].push(await load(s, settings.duration));
    }
  }
  const med = {};
  for (const [name, list] of Object.entries(samples)) {
    med[name] = {
      rps: median(list.map((x) => x.rps)),
      p50: median(list.map((x) => x.p50)),
      p99: median(list.map((x) => x.p99)),
      bad: list.reduce((a, x) => a + x.bad, 0),
    };
  }

  // The machine's RS256 capacity with the same key, all cores, 32 in flight; and, for
  // reference, with a 2048-bit key (OpenSSL's fast paths differ by key size).
  process.stderr.write('RS256 capacity\n');
  const sign = await signCapacity(privateFile);
  let sign2048;
  if (rsaBits !== 2048) {
    const file2048 = path.join(tmpDir, 'rsa-2048.pem');
    fs.writeFileSync(
      file2048,
      crypto.generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey,
    );
    sign2048 = await signCapacity(file2048);
  }


  // Paced: a fixed offered rate, p50/p99 at that rate.
  const paced = {};
  const checkRate = settings.rate ?? Math.max(1, Math.round(med.floor.rps / 2));
  const pacedPlan = [
    ['gateway issuance', settings.issueRate],
    ['baseline issuance', settings.issueRate],
    ['gateway introspection', checkRate],
    ['gateway forward auth', checkRate],
    ['gateway identify', checkRate],
    ['baseline introspection', checkRate],
    // The floor paced too: what the machine and the paced client allow for any Express answer's
    // latency at that rate (the checks' p99 cannot be read without it).
    ['floor', checkRate],
    // The same at a rate a small machine sustains (BENCH_RATE_LOW=0 skips it).
    ...(settings.lowRate > 0
      ? ['gateway introspection', 'gateway forward auth', 'gateway forward auth traced', 'gateway identify', 'baseline introspection', 'floor'].map((n) => [n, settings.lowRate])
      : []),
  ];
  // The targets' runs (the checks and the floor at half the floor's rate) are repeated, rounds
  // interleaved: one run's p99 is its few slowest answers, and one stall of the shared machine
  // can make it. The median run is reported, and the worst beside it.
  const repeated = new Set(['gateway introspection', 'gateway forward auth', 'gateway identify', 'floor']);
  const runsOf = (name, rate) => (rate === checkRate && repeated.has(name) ? settings.rounds : 1);
  const pacedRuns = {};
  for (let round = 0; round < settings.rounds; round += 1) {
    for (const [name, rate] of pacedPlan) {
      if (round >= runsOf(name, rate)) continue;
      process.stderr.write(`paced ${rate} req/s: ${name}${runsOf(name, rate) > 1 ? ` (run ${round + 1}/${runsOf(name, rate)})` : ''}\n`);
      const s = scenarios[name];
      const key = `${name}@${rate}`;
      const run = await pacedLoad({ url: s.url, requests: s.requests, rate, seconds: settings.duration, connections: settings.connections });
      (pacedRuns[key] ??= []).push(run);
      // A target that could not keep the rate (the baseline's introspection) is still working
      // off what it accepted; the next run must not share the cores with that.
      if (run.rps < 0.95 * rate) await sleep(5000);
    }
  }
  for (const [name, rate] of pacedPlan) {
    const runs = pacedRuns[`${name}@${rate}`];
    const middle = (pick) => median(runs.map(pick));
    paced[`${name}@${rate}`] = {
      name,
      rate,
      runs: runs.length,
      rps: middle((r) => r.rps),
      p50: middle((r) => r.p50),
      p99: middle((r) => r.p99),
      p99Worst: Math.max(...runs.map((r) => r.p99)),
      bad: runs.reduce((sum, r) => sum + r.bad, 0),
      samples: runs,
    };
  }

  // What the traced gateway exported: stop it (its last spans are flushed), then the sink.
  await stopChild(traced);
  await stopChild(sink);
  let exported = { requests: NaN, bytes: NaN };
  try {
    exported = JSON.parse(sinkOutput.trim());
  } catch {
    process.stderr.write('the OTLP sink did not report what it received\n');
  }

  const loadAvgAfter = os.loadavg();
  const baseIssue = med['baseline issuance'];
  const baseCheck = med['baseline introspection'];
  const rows = [
    ['issuance', 'gateway issuance', baseIssue],
    ['introspection', 'gateway introspection', baseCheck],
    ['forward auth', 'gateway forward auth', baseCheck],
    ['identify', 'gateway identify', baseCheck],
    ...otherAlgorithms.map((o) => [`issuance (${o.alg})`, `gateway issuance ${o.alg}`, baseIssue]),
  ];
  const out = [];
  out.push('');
  out.push(`token-gateway bench, ${new Date().toISOString()}`);
  out.push(
    `machine: ${cores} cores (${os.cpus()[0] ? os.cpus()[0].model : 'unknown CPU'}), Node ${process.version}, ` +
      `load average before ${loadAvgBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadAvgAfter.map((x) => x.toFixed(2)).join(' ')}`,
  );
  out.push(
    `settings: ${settings.rounds} rounds × ${settings.duration} s after a ${settings.warmup} s warm-up, ${settings.connections} connections, ` +
      `gateway WORKERS=${settings.workers} LOG_LEVEL=${settings.logLevel}, baseline workers ${settings.baselineWorkers}, ` +
      `RSA ${rsaBits} bits, Redis ${settings.redisUrl.replace(/\/\/[^@]*@/, '//')}`,
  );
  out.push('');
  out.push('Saturated (medians of the rounds):');
  out.push(
    table(
      ['route', 'req/s', 'p50 ms', 'p99 ms', 'baseline req/s', 'vs baseline', 'p99 vs baseline', 'share of floor', 'failed'],
      rows.map(([label, key, b]) => {
        const m = med[key];
        return [label, fmt(m.rps), fmt(m.p50, 1), fmt(m.p99, 1), fmt(b.rps), ratio(m.rps / b.rps), ratio(m.p99 / b.p99), pct(m.rps / med.floor.rps), m.bad];
      }),
    ),
  );
  out.push('');
  out.push(
    table(
      ['reference', 'req/s', 'p50 ms', 'p99 ms', 'failed'],
      [
        ['baseline issuance', fmt(baseIssue.rps), fmt(baseIssue.p50, 1), fmt(baseIssue.p99, 1), baseIssue.bad],
        ['baseline introspection', fmt(baseCheck.rps), fmt(baseCheck.p50, 1), fmt(baseCheck.p99, 1), baseCheck.bad],
        ['floor (Express hello)', fmt(med.floor.rps), fmt(med.floor.p50, 1), fmt(med.floor.p99, 1), med.floor.bad],
      ],
    ),
  );
  out.push('');
  out.push(
    `RS256 capacity (${sign.bits}-bit key, async crypto.sign, ${sign.inflight} in flight, ${sign.threads} pool threads): ` +
      `${fmt(sign.signsPerSecond)} signatures/s; gateway issuance is ${pct(med['gateway issuance'].rps / sign.signsPerSecond)} of it, ` +
      `the baseline's ${pct(baseIssue.rps / sign.signsPerSecond)}.` +
      (sign2048 ? ` For reference, a 2048-bit key: ${fmt(sign2048.signsPerSecond)} signatures/s (${ratio(sign2048.signsPerSecond / sign.signsPerSecond)}).` : ''),
  );
  out.push('');
  const off = med['gateway forward auth'];
  const on = med['gateway forward auth traced'];
  out.push('Tracing (forward auth; off: no OTEL_* set; on: every request sampled, OTLP/HTTP protobuf to a local sink):');
  out.push(
    table(
      ['forward auth', 'req/s', 'p50 ms', 'p99 ms', 'share of floor', 'failed'],
      [
        ['tracing off', fmt(off.rps), fmt(off.p50, 1), fmt(off.p99, 1), pct(off.rps / med.floor.rps), off.bad],
        ['tracing on', fmt(on.rps), fmt(on.p50, 1), fmt(on.p99, 1), pct(on.rps / med.floor.rps), on.bad],
      ],
    ),
  );
  out.push(
    `tracing on / off: ${ratio(on.rps / off.rps)} the throughput, ${ratio(on.p99 / off.p99)} the p99; ` +
      `the sink received ${fmt(exported.requests)} exports, ${fmt(exported.bytes / 1024 / 1024, 1)} MiB.`,
  );
  out.push('');
  out.push(
    'Paced (fixed offered rate, evenly spaced, latency from each request\'s due time; the checks and the floor at ' +
      `half the floor's rate: the median of ${settings.rounds} runs, the worst run's p99 beside it; the others one run each):`,
  );
  out.push(
    table(
      ['target', 'offered req/s', 'achieved req/s', 'p50 ms', 'p99 ms', 'worst run p99 ms', 'runs', 'failed'],
      pacedPlan.map(([name, rate]) => {
        const p = paced[`${name}@${rate}`];
        return [name, fmt(p.rate), fmt(p.rps), fmt(p.p50, 1), fmt(p.p99, 1), p.runs > 1 ? fmt(p.p99Worst, 1) : '', p.runs, p.bad];
      }),
    ),
  );
  out.push('');
  // The targets of the checks (docs/BENCHMARKS.md): shares of the floor, and p99 paced at half its rate.
  const share = (key) => med[key].rps / med.floor.rps;
  const p99At = (name) => paced[`${name}@${checkRate}`].p99;
  out.push(`Targets (paced at ${fmt(checkRate)} req/s = ${settings.rate ? 'BENCH_RATE' : 'half the floor'}):`);
  out.push(
    table(
      ['target', 'here', 'met'],
      [
        ['introspection >= 70 % of the floor', pct(share('gateway introspection')), share('gateway introspection') >= 0.7 ? 'yes' : 'no'],
        ['identify >= 70 % of the floor', pct(share('gateway identify')), share('gateway identify') >= 0.7 ? 'yes' : 'no'],
        ['forward auth >= 85 % of the floor', pct(share('gateway forward auth')), share('gateway forward auth') >= 0.85 ? 'yes' : 'no'],
        ['forward auth p99 <= 5 ms, paced', `${fmt(p99At('gateway forward auth'), 1)} ms`, p99At('gateway forward auth') <= 5 ? 'yes' : 'no'],
        ['introspection p99 <= 5 ms, paced', `${fmt(p99At('gateway introspection'), 1)} ms`, p99At('gateway introspection') <= 5 ? 'yes' : 'no'],
        ['(the floor paced alike: p99)', `${fmt(p99At('floor'), 1)} ms`, ''],
      ],
    ),
  );
  out.push('');
  process.stdout.write(`${out.join('\n')}\n`);

  const figures = { settings: { ...settings, rsaBits, cores }, loadAvgBefore, loadAvgAfter, medians: med, samples, sign, sign2048, paced, exported };
  if (process.env.BENCH_JSON) fs.writeFileSync(process.env.BENCH_JSON, JSON.stringify(figures, null, 2));

  await Promise.all(children.map(stopChild));
  if (settings.memory) {
    process.stderr.write('Redis memory per tracked token\n');
    await new Promise((resolve) => {
      const child = spawn(process.execPath, [path.join(__dirname, 'redis-memory.js')], {
        env: { ...process.env, REDIS_URL: settings.redisUrl, BENCH_MEMORY_PREFIX: `tgbench:${RUN_ID}:memory:` },
        stdio: 'inherit',
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
      child.on('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  // What a DPoP-bound token adds to a check (bench/dpop-cost.js), in a process of its own.
  await new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'dpop-cost.js')], { env: process.env, stdio: 'inherit' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  process.stderr.write(`bench took ${Math.round((Date.now() - started) / 1000)} s\n`);
}

// A hard bound on the whole run: warm-ups, rounds, paced runs, capacity, memory, plus slack.
const scenarioCount = 10;
const budgetSeconds =
  scenarioCount * (settings.warmup + settings.rounds * settings.duration) + (14 + 4 * settings.rounds) * settings.duration + 2 * settings.signSeconds + 600;
const deadline = setTimeout(() => {
  process.stderr.write(`bench: over its ${budgetSeconds} s budget, stopping\n`);
  void cleanup().then(() => process.exit(1));
}, budgetSeconds * 1000);
deadline.unref();

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    void cleanup().then(() => process.exit(130));
  });
}

main()
  .then(async () => {
    await cleanup();
    process.exit(0);
  })
  .catch(async (error) => {
    process.stderr.write(`bench failed: ${error.stack || error.message}\n`);
    await cleanup();
    process.exit(1);
  });
