#!/usr/bin/env node
// `npx zdz …`: the operator CLI (src/cli/), run from the compiled dist/.
import { existsSync } from 'node:fs'

const entry = new URL('../dist/src/cli/bin.js', import.meta.url)
if (!existsSync(entry)) {
  process.stderr.write('zdz: dist/src/cli/bin.js is missing: run npm run build first\n')
  process.exit(2)
}
await import(entry.href)
