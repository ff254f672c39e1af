/**
 * Builds the package twice from one source: CommonJS in dist/cjs and ES modules in dist/esm, each
 * with its own type declarations and a package.json marking its module kind, so that `require`
 * and `import` both get code and types of their own kind. `types: []` keeps Node's types out:
 * the package compiles against the DOM and ES2022 only, so it cannot use a Node-only API.
 */
'use strict';
const { execFileSync } = require('node:child_process');
const { mkdirSync, rmSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const tsc = require.resolve('typescript/bin/tsc');
const dist = path.join(__dirname, 'dist');
rmSync(dist, { recursive: true, force: true });
for (const [dir, moduleKind, type, resolution] of [
  ['cjs', 'commonjs', 'commonjs', 'node10'],
  ['esm', 'es2022', 'module', 'bundler'],
]) {
  const outDir = path.join(dist, dir);
  execFileSync(
    process.execPath,
    [tsc, '-p', path.join(__dirname, 'tsconfig.json'), '--outDir', outDir, '--module', moduleKind, '--moduleResolution', resolution],
    { stdio: 'inherit' },
  );
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify({ type }, null, 2)}\n`);
}
