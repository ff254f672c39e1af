#!/usr/bin/env node
/**
 * `npm run openapi`: writes docs/openapi.json from the built generator (dist/http/openapi),
 * the same document the gateway serves at GET /openapi.json. `npm run openapi -- --check`
 * exits 1 when the committed file differs (test/openapi/document.test.ts checks the same).
 */
'use strict';
const { readFileSync, writeFileSync, existsSync } = require('node:fs');
const path = require('node:path');

const target = path.join(__dirname, '..', 'docs', 'openapi.json');
const { openApiJson } = require(path.join(__dirname, '..', 'dist', 'http', 'openapi'));
const text = openApiJson();

if (process.argv.includes('--check')) {
  const current = existsSync(target) ? readFileSync(target, 'utf8') : '';
  if (current !== text) {
    console.error('docs/openapi.json is out of date: run `npm run openapi`.');
    process.exit(1);
  }
  console.log('docs/openapi.json is current.');
} else {
  writeFileSync(target, text);
  console.log(`wrote docs/openapi.json (${Buffer.byteLength(text)} bytes)`);
}
