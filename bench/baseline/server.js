'use strict';
/**
 * The naive baseline: token issuance and introspection as a documentation example would
 * write them with Express, jsonwebtoken and ioredis. The keys are PEM text handed to
 * jwt.sign / jwt.verify on every call (synchronous, on the event loop); an account is one
 * JSON string under one key (one GET); issuance is one SET; a check is one GET of the
 * account and one GET of the revocation key. No logging, no validation beyond the obvious.
 *
 * Env: PORT, HOST (127.0.0.1), REDIS_URL, PREFIX, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, ISSUER,
 * WORKERS (node:cluster, like the gateway, so that both use the same cores).
 * Seeding: POST /seed {apiKey, authToken} stores an account.
 */
const cluster = require('node:cluster');
const crypto = require('node:crypto');
const fs = require('node:fs');
const express = require('express');
const jwt = require('jsonwebtoken');
const Redis = require('ioredis');

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
  const prefix = process.env.PREFIX || 'baseline:';
  const issuer = process.env.ISSUER || 'https://baseline.test';
  const privateKey = fs.readFileSync(process.env.PRIVATE_KEY_FILE, 'utf8');
  const publicKey = fs.readFileSync(process.env.PUBLIC_KEY_FILE, 'utf8');
  const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
  const app = express();
  app.use(express.json());
  app.use(express.urlencoded({ extended: false }));

  app.post('/seed', async (req, res) => {
    await redis.set(`${prefix}account:${req.body.apiKey}`, JSON.stringify({ authToken: req.body.authToken }));
    res.json({ ok: true });
  });

  async function checkAccount(apiKey, authToken) {
    const raw = await redis.get(`${prefix}account:${apiKey}`);
    return raw !== null && JSON.parse(raw).authToken === authToken;
  }

  app.post('/token', async (req, res) => {
    const { apiKey, authToken, userId, userProperties = {}, expiresIn = 3600 } = req.body.data || {};
    if (!(await checkAccount(apiKey, authToken))) return res.status(401).json({ error: 'invalid_credentials' });
    const jti = crypto.randomBytes(16).toString('base64url');
    const token = jwt.sign(
      { userId, organizationId: userProperties.organizationId, email: userProperties.email, isAdmin: !!userProperties.isAdmin },
      privateKey,
      { algorithm: 'RS256', expiresIn, issuer, audience: apiKey, subject: userId, jwtid: jti },
    );
    await redis.set(`${prefix}token:${jti}`, userId, 'EX', expiresIn);
    res.json({ token, tokenId: jti, expiresIn });
  });

  app.post('/introspect', async (req, res) => {
    const [apiKey, authToken] = Buffer.from((req.headers.authorization || '').replace(/^Basic /, ''), 'base64')
      .toString()
      .split(':');
    if (!(await checkAccount(apiKey, authToken))) return res.status(401).json({ error: 'invalid_client' });
    let claims;
    try {
      claims = jwt.verify(req.body.token, publicKey, { algorithms: ['RS256'], issuer, audience: apiKey });
    } catch {
      return res.json({ active: false });
    }
    if (await redis.get(`${prefix}revoked:${claims.jti}`)) return res.json({ active: false });
    res.json({ active: true, client_id: apiKey, ...claims });
  });

  const server = app.listen(Number(process.env.PORT || 8090), process.env.HOST || '127.0.0.1');
  process.on('SIGTERM', () => {
    server.close();
    redis.disconnect();
    setTimeout(() => process.exit(0), 200).unref();
  });
}
