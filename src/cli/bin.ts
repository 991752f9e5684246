import { run } from './main.js'

/** The process around {@link run}: `bin/zdz.js` imports this compiled file (dist/src/cli/bin.js). */
process.exitCode = await run({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
})
