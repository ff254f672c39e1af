#!/usr/bin/env node
/**
 * `npm run openapi`: writes docs/openapi.json from the built generator (dist/http/openapi),
 * the same document the gateway serves at GET /openapi.json, and the TypeScript types
 * openapi-typescript makes of it (test/openapi/openapi-types.ts, against which the type checker
 * holds the client package's types). `npm run openapi -- --check` exits 1 when either
 * committed file differs (test/openapi/document.test.ts and sdk-types.test.ts check the same).
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { readFileSync, writeFileSync, existsSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const DOCUMENT = path.join(ROOT, 'docs', 'openapi.json');
const TYPES = path.join(ROOT, 'test', 'openapi', 'openapi-types.ts');

/** openapi-typescript's output for the document at `file`. */
function typesOf(file) {
  const cli = path.join(path.dirname(require.resolve('openapi-typescript/package.json')), 'bin', 'cli.js');
  const run = spawnSync(process.execPath, [cli, file], { cwd: ROOT, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`openapi-typescript failed: ${run.stderr}`);
  return run.stdout;
}

const { openApiJson } = require(path.join(ROOT, 'dist', 'http', 'openapi'));
const text = openApiJson();
const read = (file) => (existsSync(file) ? readFileSync(file, 'utf8') : '');

if (process.argv.includes('--check')) {
  const stale = [];
  if (read(DOCUMENT) !== text) stale.push('docs/openapi.json');
  else if (read(TYPES) !== typesOf(DOCUMENT)) stale.push('test/openapi/openapi-types.ts');
  if (stale.length > 0) {
    console.error(`${stale.join(', ')} out of date: run \`npm run openapi\`.`);
    process.exit(1);
  }
  console.log('docs/openapi.json and its types are current.');
} else {
  writeFileSync(DOCUMENT, text);
  writeFileSync(TYPES, typesOf(DOCUMENT));
  console.log(`wrote docs/openapi.json (${Buffer.byteLength(text)} bytes) and test/openapi/openapi-types.ts`);
}
