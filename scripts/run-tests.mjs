#!/usr/bin/env node
// Runs the tap suite, passes its TAP output through, and ends with the one line CI reads:
// `tests: N passed, N failed[, N skipped]`, counted by tap's own parser from the real results.
// A non-zero tap exit with no failing assertion (coverage, a runner crash) still counts as a failure.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Parser } from 'tap-parser'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const tapBin = path.join(root, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs')

let passed = 0
let failed = 0
let skipped = 0
const failures = []
const parser = new Parser()
parser.on('pass', () => passed++)
parser.on('fail', (a) => {
  failed++
  failures.push(a.fullname || a.name)
})
parser.on('skip', () => skipped++)
parser.on('todo', () => skipped++)

const child = spawn(process.execPath, [tapBin, '--reporter=tap', ...process.argv.slice(2)], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: process.env,
})
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk)
  parser.write(chunk)
})
child.on('close', (code, signal) => {
  parser.end()
  let exit = code ?? 1
  if (signal) exit = 1
  if (exit !== 0 && failed === 0) {
    failed = 1
    failures.push(`tap exited with ${signal ?? code} without a failing assertion (runner or coverage failure)`)
  }
  if (passed + failed === 0) {
    failed = 1
    failures.push('no test ran')
    exit = 1
  }
  if (failures.length) {
    process.stdout.write('\n# failures:\n')
    for (const f of failures.slice(0, 50)) process.stdout.write(`#   ${f}\n`)
  }
  process.stdout.write(`\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`)
  process.exit(exit === 0 && failed === 0 ? 0 : 1)
})
