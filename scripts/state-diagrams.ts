import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { CONFIRMATION_TRANSITIONS } from '../src/domain/confirmation.js'
import { TRANSITIONS } from '../src/domain/referral-machine.js'
import { stateMachinesDocument } from '../src/domain/state-diagram.js'
import { WARNING_TRANSITIONS } from '../src/domain/warning.js'

/** Writes docs/state-machines.md from the transition tables, or with --check fails when the committed file differs. */
export const renderStateMachines = (): string =>
  stateMachinesDocument([
    { title: 'Referrals (委派 / 委托), contract §2', rules: TRANSITIONS },
    { title: 'Judicial confirmation (司法确认), contract §3', rules: CONFIRMATION_TRANSITIONS },
    { title: 'Warnings (重大矛盾纠纷预警), contract §5', rules: WARNING_TRANSITIONS },
  ])

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), process.argv[1]?.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..')
const target = path.join(root, 'docs', 'state-machines.md')

// Run as a script (not when a test imports the renderer).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rendered = renderStateMachines()
  if (process.argv.includes('--check')) {
    if (readFileSync(target, 'utf8') !== rendered) {
      process.stderr.write('docs/state-machines.md differs from the transition tables: run `npm run docs:states` and commit it.\n')
      process.exit(1)
    }
  } else {
    writeFileSync(target, rendered)
  }
}
