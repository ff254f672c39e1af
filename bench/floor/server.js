'use strict';
/**
 * The floor: a bare Express hello server with as many workers as the gateway. Whatever the
 * machine and the load generator allow for an Express answer, no gateway route can beat.
 * Env: PORT, HOST (127.0.0.1), WORKERS.
 */
const cluster = require('node:cluster');
const express = require('express');

const workers = Math.max(1, Number(process.env.WORKERS || 1));

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i += 1) cluster.fork();
  let stopping = false;
  process.on('SIGTERM', () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
  });
  cluster.on('exit', () => {
    if (stopping && Object.keys(cluster.workers).length === 0) process.exit(0);
  });
} else {
  const app = express();
  app.all('/hello', (_req, res) => res.json({ status: 'ok' }));
  const server = app.listen(Number(process.env.PORT || 8091), process.env.HOST || '127.0.0.1');
  process.on('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 100).unref();
  });
}
