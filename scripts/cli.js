#!/usr/bin/env node
/**
 * `npm run cli -- <command>`: runs the built command-line tool, dist/cli.js. It compiles src/
 * first only when dist/cli.js is missing or older than a file under src/, so once built a
 * command starts at once instead of rebuilding every time.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const path = require('node:path');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** Why `built` must be rebuilt from `sourceDir`: 'missing', 'stale', or undefined when it is current. */
function rebuildReason(built, sourceDir) {
  if (!existsSync(built)) return 'missing';
  if (!existsSync(sourceDir)) return undefined; // an installed copy without sources: run what is there
  return newestMtime(sourceDir) > statSync(built).mtimeMs ? 'stale' : undefined;
}

module.exports = { rebuildReason };

if (require.main === module) {
  const root = path.resolve(__dirname, '..');
  const built = path.join(root, 'dist', 'cli.js');
  const reason = rebuildReason(built, path.join(root, 'src'));
  if (reason) {
    process.stderr.write(
      `dist/cli.js is ${reason === 'missing' ? 'missing' : 'older than src/'}: building it (npm run build), once.\n`,
    );
    let tsc;
    try {
      tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
    } catch {
      process.stderr.write('The TypeScript compiler is not installed: run "npm ci" first.\n');
      process.exit(1);
    }
    const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
    if (result.status !== 0 || !existsSync(built)) {
      process.stderr.write('The build failed: see the errors above.\n');
      process.exit(1);
    }
  }
  require(built).main(process.argv.slice(2));
}
