'use strict';
/**
 * Where a check's time goes: one gateway worker (WORKERS=1, Redis store with its mirror, as the
 * bench runs it) under closed-loop load on one route, against the floor (bench/floor/server.js,
 * one worker) under the same load.
 *
 *   node bench/profile.js [target ...]     targets: introspection forward-auth identify floor
 *
 * For each target it reports requests/s and the CPU time of the server process per request,
 * thread by thread (/proc/<pid>/task/<tid>/stat before and after the run): the main thread
 * (JavaScript, HTTP parsing and writing), libuv's pool and V8's helpers (GC). With
 * PROFILE_CPU=1 the server also runs under `--cpu-prof` and the profile is summarised: self
 * time by function and by module (a file of src/ or a package of node_modules), as shares of
 * the main thread's samples. PROFILE_KEEP=<dir> keeps the .cpuprofile files there.
 *
 * Env: PROFILE_SECONDS (8), PROFILE_CONNECTIONS (32), PROFILE_TOP (25), REDIS_URL, BENCH_RSA_BITS (2048).
 * Needs a build (npm run build) and a Redis. Everything listens on 127.0.0.1; the Redis keys are
 * written under their own prefix and deleted at the end.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const autocannon = require('autocannon');
const { pacedLoad } = require('./paced');
const { ROOT, freePort, spawnNode, waitHttp, stopChild, json, deletePrefix, assertSuccess } = require('./children');

const SECONDS = Number(process.env.PROFILE_SECONDS || 5);
const CONNECTIONS = Number(process.env.PROFILE_CONNECTIONS || 64);
const TOP = Number(process.env.PROFILE_TOP || 25);
const ROUNDS = Number(process.env.PROFILE_ROUNDS || 3);
// PROFILE_RATE=N: offer N req/s, evenly spaced (bench/paced.js), instead of a closed loop. At
// one rate the CPU per request compares well from one build to the next; under a closed loop it
// also depends on how often the load generator sleeps.
const RATE = Number(process.env.PROFILE_RATE || 0);
const WORKERS = Number(process.env.WORKERS || os.cpus().length);
const CPU_PROFILE = process.env.PROFILE_CPU === '1';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const RSA_BITS = Number(process.env.BENCH_RSA_BITS || 2048);
const RUN_ID = crypto.randomBytes(4).toString('hex');
const PREFIX = `tgprofile:${RUN_ID}:`;
const ADMIN_TOKEN = crypto.randomBytes(24).toString('base64url');
const TICK_MS = 1000 / 100; // USER_HZ: /proc stat times are in 1/100 s

const children = [];
function startChild(name, args, env, cwd) {
  const child = spawnNode(name, args, env, cwd);
  children.push(child);
  return child;
}

/** CPU ticks per thread of a process: { tid: { name, ticks } }. */
function threadTicks(pid) {
  const out = {};
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[tid] = { name, ticks: Number(fields[11]) + Number(fields[12]) };
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** Groups a thread into main / libuv pool / V8 and other helpers. */
function threadGroup(pid, tid, name) {
  if (String(pid) === tid) return 'main';
  if (name.startsWith('libuv-worker')) return 'libuv pool';
  if (name.startsWith('V8') || name.startsWith('node')) return 'V8 helpers';
  return 'other';
}

function moduleOf(url) {
  if (!url) return '(native / V8)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return `src/${url.slice(dist + 6).replace(/\.js$/, '.ts')}`;
  if (url.startsWith('node:')) return url;
  return url.replace(/^file:\/\//, '').replace(ROOT, '.');
}

/** Where a sample's time belongs, by what the code is for (the rows of docs/BENCHMARKS.md). */
function categoryOf(module, functionName) {
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (module === '(native / V8)') return /^(writev|writeUtf8String|writeLatin1String|writeBuffer|readv|read|shutdown|close)$/.test(functionName) ? 'socket writes and reads (system calls)' : 'other native (V8, microtasks)';
  if (/^node:(_http|internal\/streams|net|internal\/stream_base|events|internal\/http|buffer|internal\/buffer)/.test(module)) return 'node:http, streams, events';
  if (/^(express|router|parseurl|finalhandler|on-finished|proxy-addr|forwarded|ipaddr.js|qs|encodeurl|escape-html|send|statuses|mime-types|content-type|fresh|cookie|vary|depd|http-errors|path-to-regexp|merge-descriptors|node:querystring)$/.test(module)) return 'express and its helpers';
  if (/^(body-parser|raw-body|type-is|iconv-lite|bytes|unpipe|media-typer|src\/http\/body\.ts|src\/json-depth\.ts|node:internal\/url)$/.test(module)) return 'request body (read, type, parse)';
  if (/^src\/accounts|^node:internal\/crypto/.test(module)) return 'credentials and hashes (SHA-256, constant-time compare)';
  if (/^src\/tokens|^src\/keys|^src\/policy|^jsonwebtoken|^jws|^jwa/.test(module)) return 'token verification (cache, claims, scope)';
  if (/^src\/store|^ioredis|^redis-|^cluster-key-slot|^denque|^standard-as-callback/.test(module)) return 'store and mirror';
  if (/^prom-client|^src\/http\/metrics|^tdigest|^bintrees/.test(module)) return 'metrics';
  if (/^src\/http\/endpoints/.test(module)) return 'endpoint handlers (answer building)';
  if (/^src\/|^zod/.test(module)) return 'gateway HTTP layer (prelude, dispatch, limits, validation)';
  if (/^node:internal\/(async_hooks|process\/task_queues|timers|process\/promises)|^node:async_hooks/.test(module)) return 'async plumbing (ticks, async context)';
  return 'other';
}

/** Self time by function and by module, as shares of the profile's samples (idle excluded). */
function summarise(file) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map();
  for (const id of profile.samples) counts.set(id, (counts.get(id) || 0) + 1);
  let busy = 0;
  const fn = new Map();
  const mod = new Map();
  const cat = new Map();
  for (const [id, count] of counts) {
    const { callFrame } = byId.get(id);
    if (callFrame.functionName === '(idle)' || callFrame.functionName === '(program)') continue;
    busy += count;
    const m = moduleOf(callFrame.url);
    const key = `${callFrame.functionName || '(anonymous)'}  ${m}${callFrame.url ? `:${callFrame.lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) || 0) + count);
    mod.set(m, (mod.get(m) || 0) + count);
    const c = categoryOf(m, callFrame.functionName);
    cat.set(c, (cat.get(c) || 0) + count);
  }
  const idle = profile.samples.length - busy;
  const top = (map) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP)
      .map(([k, v]) => `  ${((100 * v) / busy).toFixed(1).padStart(5)} %  ${k}`)
      .join('\n');
  return `samples: ${profile.samples.length}, busy ${busy} (idle or (program) ${idle})\nself time by what it is for:\n${top(cat)}\nself time by module:\n${top(mod)}\nself time by function:\n${top(fn)}`;
}

/** Every process of a tree (a gateway with WORKERS > 1 is a primary and its workers). */
function processTree(pid) {
  const out = [pid];
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    let children = '';
    try {
      children = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
    } catch {
      // gone
    }
    for (const child of children.split(/\s+/).filter(Boolean)) out.push(...processTree(Number(child)));
  }
  return out;
}

/** CPU ticks of a process tree by thread group (main threads, libuv pool, V8 helpers, other). */
function treeTicks(pid) {
  const groups = {};
  for (const p of processTree(pid)) {
    for (const [tid, { name, ticks }] of Object.entries(threadTicks(p))) {
      const key = `${p}/${tid}`;
      groups[key] = { group: threadGroup(p, tid, name), ticks };
    }
  }
  return groups;
}

function diff(before, after) {
  const groups = {};
  for (const [key, { group, ticks }] of Object.entries(after)) {
    groups[group] = (groups[group] || 0) + ticks - (before[key] ? before[key].ticks : 0);
  }
  return groups;
}

async function measure(pid, opts) {
  const before = treeTicks(pid);
  const result = RATE > 0
    ? await pacedLoad({ url: opts.url, requests: opts.requests || [{ method: 'GET', path: new URL(opts.url).pathname }], rate: RATE, seconds: SECONDS, connections: CONNECTIONS })
    : await autocannon({ ...opts, connections: CONNECTIONS, duration: SECONDS });
  const after = treeTicks(pid);
  if (RATE > 0) return { rps: result.rps, p99: result.p99, bad: result.bad, groups: diff(before, after), requests: result.rps * SECONDS };
  const requests = result['2xx'];
  return { rps: requests / result.duration, p99: result.latency.p99, bad: result.non2xx + result.errors, groups: diff(before, after), requests };
}

async function startGateway(root, tag, keysDir, nodeArgs) {
  const port = await freePort();
  const child = startChild(
    tag,
    [...nodeArgs, path.join(root, 'dist/server.js')],
    {
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      WORKERS: String(WORKERS),
      REDIS_URL,
      REDIS_PREFIX: PREFIX,
      ADMIN_TOKEN,
      KEYS_DIR: keysDir,
      JWT_ISSUER: 'https://gateway.bench',
      LOG_LEVEL: 'warn',
      ISSUANCE_QUOTA_PER_MINUTE: '0',
      // Tracing loaded and its instrumentations in place, but nothing sampled.
      ...(process.env.PROFILE_OTEL === '1' ? { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_TRACES_SAMPLER: 'always_off' } : {}),
      // PROFILE_NODE_OPTIONS: node options for this build's gateway only (not the base's).
      ...(tag === 'gateway' && process.env.PROFILE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.PROFILE_NODE_OPTIONS } : {}),
    },
    root,
  );
  child.url = `http://127.0.0.1:${port}`;
  child.tag = tag;
  await waitHttp(`${child.url}/readyz`, child);
  return child;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const targets = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['forward-auth', 'introspection', 'identify'];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-profile-'));
  const keysDir = path.join(tmp, 'keys');
  const profDir = path.join(tmp, 'prof');
  fs.mkdirSync(keysDir);
  fs.mkdirSync(profDir);
  const pair = crypto.generateKeyPairSync('rsa', {
    modulusLength: RSA_BITS,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  fs.writeFileSync(path.join(keysDir, '2000-01-01T00-00-00-000Z-RS256.pem'), pair.privateKey, { mode: 0o600 });
  const cpuArgs = (tag) => (CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${tag}.cpuprofile`] : []);

  try {
    const floorPort = await freePort();
    const floorUrl = `http://127.0.0.1:${floorPort}`;
    const floor = startChild('floor', [...cpuArgs('floor'), 'bench/floor/server.js'], { PORT: String(floorPort), HOST: '127.0.0.1', WORKERS: String(WORKERS) });
    const gateway = await startGateway(ROOT, 'gateway', keysDir, cpuArgs('gateway'));
    // PROFILE_BASE=<checkout>: the same gateway built from another checkout (its dist/), on the
    // same Redis prefix, keys and account, measured in the same rounds: an A/B within one run.
    const base = process.env.PROFILE_BASE ? await startGateway(path.resolve(process.env.PROFILE_BASE), 'base', keysDir, cpuArgs('base')) : undefined;
    await waitHttp(`${floorUrl}/hello`, floor);
    const { url } = gateway;
    const created = await json(`${url}/v1/admin/accounts`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ data: { name: 'profile' } }),
    });
    const { apiKey } = created.result.data.account;
    const { authToken } = created.result.data;
    const tokens = [];
    for (let i = 0; i < 100; i += 1) {
      const issued = await json(`${url}/v1/auth/token/get`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ data: { apiKey, authToken, userId: `user-${i}`, userProperties: { organizationId: 'org-1', email: `user-${i}@example.com` }, expiresIn: 3600 } }),
      });
      tokens.push(issued.result.data.token);
    }
    const basic = `Basic ${Buffer.from(`${apiKey}:${authToken}`).toString('base64')}`;
    const checks = (url) => ({
      introspection: {
        url,
        requests: tokens.map((t) => ({
          method: 'POST',
          path: '/v1/auth/token/introspect',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
          body: `token=${encodeURIComponent(t)}`,
        })),
      },
      'forward-auth': {
        url,
        requests: tokens.map((t) => ({ method: 'GET', path: `/v1/auth/verify?apiKey=${encodeURIComponent(apiKey)}`, headers: { authorization: `Bearer ${t}` } })),
      },
      identify: {
        url,
        requests: tokens.map((t, i) => ({
          method: 'POST',
          path: '/v1/auth/identify',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ data: { apiKey, token: t, user: { userId: `user-${i}`, organizationId: 'org-1', email: `user-${i}@example.com` } } }),
        })),
      },
    });
    const scenarios = { floor: { url: floorUrl, requests: [{ method: 'GET', path: '/hello' }], pid: floor.pid } };
    for (const [name, sc] of Object.entries(checks(gateway.url))) scenarios[name] = { ...sc, pid: gateway.pid };
    if (base) for (const [name, sc] of Object.entries(checks(base.url))) scenarios[`base ${name}`] = { ...sc, pid: base.pid };
    const picked = targets.filter((t) => t !== 'floor');
    const chosen = ['floor', ...picked.flatMap((t) => (base ? [`base ${t}`, t] : [t]))];
    for (const name of chosen) {
      const s = scenarios[name];
      if (!s) throw new Error(`unknown target ${name}`);
      const first = s.requests ? s.requests[0] : { method: 'GET', path: '' };
      await assertSuccess(name, await fetch(`${s.url}${first.path}`, { method: first.method, headers: first.headers, body: first.body }));
      await autocannon({ url: s.url, requests: s.requests, connections: CONNECTIONS, duration: 2 });
    }
    const samples = Object.fromEntries(chosen.map((n) => [n, []]));
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const name of chosen) samples[name].push(await measure(scenarios[name].pid, { url: scenarios[name].url, requests: scenarios[name].requests }));
    }
    const floorRps = median(samples.floor.map((x) => x.rps));
    for (const name of chosen) {
      const list = samples[name];
      const rps = median(list.map((x) => x.rps));
      const groups = {};
      let requests = 0;
      for (const x of list) {
        requests += x.requests;
        for (const [g, ticks] of Object.entries(x.groups)) groups[g] = (groups[g] || 0) + ticks;
      }
      const perRequest = Object.entries(groups)
        .filter(([, ticks]) => ticks > 0)
        .map(([g, ticks]) => `${g} ${((ticks * TICK_MS * 1000) / requests).toFixed(1)}`)
        .join(', ');
      process.stdout.write(
        `${name.padEnd(14)} ${rps.toFixed(0).padStart(6)} req/s  ${((100 * rps) / floorRps).toFixed(1).padStart(5)} % of the floor  ` +
          `p99 ${median(list.map((x) => x.p99))} ms  bad ${list.reduce((a, x) => a + x.bad, 0)}  ` +
          `rounds ${list.map((x) => x.rps.toFixed(0)).join('/')}  CPU µs/request: ${perRequest}\n`,
      );
    }
    if (base) {
      for (const t of picked) {
        const ratios = samples[t].map((x, i) => x.rps / samples[`base ${t}`][i].rps);
        process.stdout.write(`${t}: this build / base, by round: ${ratios.map((r) => r.toFixed(3)).join(' ')}; median ${median(ratios).toFixed(3)}\n`);
      }
    }
    await Promise.all(children.map(stopChild));
    if (CPU_PROFILE) {
      for (const tag of ['floor', 'gateway', 'base']) {
        for (const file of fs.readdirSync(profDir).filter((f) => f.startsWith(tag))) {
          process.stdout.write(`\n${tag} (${file}):\n${summarise(path.join(profDir, file))}\n`);
          if (process.env.PROFILE_KEEP) fs.copyFileSync(path.join(profDir, file), path.join(process.env.PROFILE_KEEP, file));
        }
      }
    }
  } finally {
    await Promise.all(children.map(stopChild));
    await deletePrefix(REDIS_URL, PREFIX);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exitCode = 1;
  Promise.all(children.map(stopChild)).finally(() => process.exit(1));
});
