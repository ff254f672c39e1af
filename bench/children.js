'use strict';
/**
 * What the bench scripts share: a free loopback port, a node child process (its stderr's tail
 * kept for the error when it dies), waiting for it to answer HTTP, stopping it, a JSON request
 * that must succeed, and deleting a Redis key prefix.
 */
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const Redis = require('ioredis');

const ROOT = path.resolve(__dirname, '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** `node <args>` with only PATH and `env` set, from `cwd` (the repository by default). */
function spawnNode(name, args, env, cwd = ROOT) {
  const child = spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH || '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  child.benchName = name;
  child.stderrTail = () => stderr;
  return child;
}

async function waitHttp(url, child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${child.benchName} exited (${child.exitCode}): ${child.stderrTail()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.status < 500) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${child.benchName} did not answer at ${url}`);
    await sleep(100);
  }
}

function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function json(url, init) {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const body = await res.json();
  if (!res.ok) throw new Error(`${init && init.method ? init.method : 'GET'} ${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** Deletes every key under `prefix`; answers how many. */
async function deletePrefix(url, prefix) {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    let cursor = '0';
    let guard = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
      guard += 1;
    } while (cursor !== '0' && guard < 1_000_000);
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/**
 * Whether the first answer of a scenario is the success it is meant to measure, not only a 200:
 * a live introspection, forward auth's identity headers, an identified user. A build that
 * answered `{"active": false}` fast would otherwise be measured as fast.
 */
async function assertSuccess(name, res) {
  const text = await res.text();
  const body = () => {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  };
  const ok =
    res.status === 200 &&
    (/introspection/.test(name) ? body()?.active === true : true) &&
    (/forward.auth/.test(name) ? Boolean(res.headers.get('x-auth-user-id')) : true) &&
    (/identify/.test(name) ? body()?.result?.status === 'success' : true);
  if (!ok) throw new Error(`${name}: not the success to measure: ${res.status} ${text.slice(0, 300)}`);
}

module.exports = { ROOT, sleep, freePort, spawnNode, waitHttp, stopChild, json, deletePrefix, assertSuccess };
