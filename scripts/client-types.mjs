/**
 * Writes src/client/openapi-types.ts (the typed client's `paths`) from openapi/openapi.json with openapi-typescript,
 * formatted with the repository's Prettier settings. With --check it writes nothing and fails when the committed file
 * is out of date: after regenerating openapi/openapi.json (`npm run openapi`), run `npm run client:types`.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import openapiTS, { astToString } from 'openapi-typescript'
import prettier from 'prettier'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const TYPES_FILE = path.join(root, 'src', 'client', 'openapi-types.ts')
const SOURCE = path.join(root, 'openapi', 'openapi.json')

const HEADER = `/**
 * Generated from openapi/openapi.json by \`npm run client:types\` (openapi-typescript). Do not edit by hand.
 */

`

/** The file's content as the generator makes it from the given document (default: the committed openapi.json). */
export async function renderClientTypes(document = JSON.parse(readFileSync(SOURCE, 'utf8'))) {
  const ast = await openapiTS(document, { alphabetize: false, exportType: true })
  const options = { ...(await prettier.resolveConfig(TYPES_FILE)), filepath: TYPES_FILE }
  return prettier.format(HEADER + astToString(ast), options)
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const rendered = await renderClientTypes()
  if (process.argv.includes('--check')) {
    let committed = ''
    try {
      committed = readFileSync(TYPES_FILE, 'utf8')
    } catch {
      // missing counts as different
    }
    if (committed !== rendered) {
      process.stderr.write('src/client/openapi-types.ts is out of date with openapi/openapi.json: run `npm run client:types` and commit it.\n')
      process.exit(1)
    }
    process.stdout.write('src/client/openapi-types.ts matches openapi/openapi.json.\n')
  } else {
    writeFileSync(TYPES_FILE, rendered)
    process.stdout.write(`wrote ${path.relative(process.cwd(), TYPES_FILE)}\n`)
  }
}
