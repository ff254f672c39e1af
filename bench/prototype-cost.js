'use strict';
/**
 * What express's first step costs: the same JSON hello answered three ways, one worker each,
 * measured in interleaved rounds under the same closed-loop load:
 *
 *   express     an express app (x-powered-by and ETag off), the answer written with res.end
 *   prototypes  node:http, after doing to the request and answer what express's app.handle
 *               does first (its prototypes, req.res / res.req, res.locals), nothing else
 *   node:http   node:http alone
 *
 *   node bench/prototype-cost.js
 *
 * Env: BENCH_SECONDS (4), BENCH_ROUNDS (4), BENCH_CONNECTIONS (64).
 */
const http = require('node:http');
const autocannon = require('autocannon');
const { freePort, spawnNode, stopChild, waitHttp } = require('./children');

const SECONDS = Number(process.env.BENCH_SECONDS || 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 4);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 64);
const MODES = ['express', 'prototypes', 'node:http'];

function serve(mode, port) {
  const express = require('express');
  const body = JSON.stringify({ status: 'ok' });
  const send = (res) => {
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(body);
  };
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.all('/hello', (_req, res) => send(res));
  const handlers = {
    express: app,
    prototypes: (req, res) => {
      req.res = res;
      res.req = req;
      Object.setPrototypeOf(req, app.request);
      Object.setPrototypeOf(res, app.response);
      res.locals = Object.create(null);
      send(res);
    },
    'node:http': (_req, res) => send(res),
  };
  http.createServer(handlers[mode]).listen(port, '127.0.0.1');
}

async function main() {
  const servers = [];
  for (const mode of MODES) {
    const port = await freePort();
    const child = spawnNode(mode, [__filename, '--serve', mode, String(port)], {});
    servers.push({ mode, url: `http://127.0.0.1:${port}`, child });
  }
  try {
    for (const s of servers) await waitHttp(`${s.url}/hello`, s.child);
    const rps = Object.fromEntries(MODES.map((m) => [m, []]));
    for (const s of servers) await autocannon({ url: `${s.url}/hello`, connections: CONNECTIONS, duration: 1 });
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const s of servers) {
        const result = await autocannon({ url: `${s.url}/hello`, connections: CONNECTIONS, duration: SECONDS });
        rps[s.mode].push(result.requests.total / result.duration);
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const express = median(rps.express);
    for (const mode of MODES) {
      const m = median(rps[mode]);
      const rounds = rps[mode].map((x) => Math.round(x)).join('/');
      process.stdout.write(`${mode.padEnd(11)} ${String(Math.round(m)).padStart(6)} req/s  ${(m / express).toFixed(2)}× express  rounds ${rounds}\n`);
    }
  } finally {
    for (const s of servers) await stopChild(s.child);
  }
}

if (process.argv[2] === '--serve') serve(process.argv[3], Number(process.argv[4]));
else main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
