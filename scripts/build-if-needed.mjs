#!/usr/bin/env node
// Runs before the npm scripts that execute compiled code (start, migrate, rotate-keys, keygen):
// - in a checkout with TypeScript installed, compiles src/, scripts/ and migrations/ into dist/ (as `npm run build`);
// - in the container image (dev dependencies pruned, no tsc), uses the dist/ built into the image;
// - with neither, stops with a message (exit 1).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
let tsc
try {
  tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc')
} catch {
  tsc = undefined
}
if (tsc) {
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
  process.exit(r.status ?? 1)
}
if (existsSync(path.join(root, 'dist', 'src', 'server.js'))) process.exit(0)
process.stderr.write('dist/ is missing and TypeScript is not installed: run npm ci && npm run build\n')
process.exit(1)
