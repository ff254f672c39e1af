#!/usr/bin/env node
/**
 * The image's HEALTHCHECK: asks GET /healthz where the gateway listens, by the same HOST and PORT
 * settings, and exits 0 only on a 200. A wildcard HOST (unset, 0.0.0.0, ::) listens on every
 * interface, so it is asked over loopback; any other HOST is asked as it is. Slim images have no
 * curl, so node itself asks.
 */
'use strict';
const http = require('node:http');

/** The address to ask for a gateway listening on `host`. */
function healthcheckHost(host) {
  const value = (host ?? '').trim().replace(/^\[(.*)\]$/, '$1');
  if (value === '' || value === '0.0.0.0') return '127.0.0.1';
  if (value === '::') return '::1';
  return value;
}

module.exports = { healthcheckHost };

if (require.main === module) {
  const port = Number((process.env.PORT ?? '').trim() || 8080);
  const done = (code) => process.exit(code);
  http
    .get({ host: healthcheckHost(process.env.HOST), port, path: '/healthz', timeout: 2000 }, (res) => {
      res.resume();
      done(res.statusCode === 200 ? 0 : 1);
    })
    .on('error', () => done(1))
    .on('timeout', () => done(1));
}
