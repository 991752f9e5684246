import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import ts from 'typescript'

/** Where a code literal was found: file:line and how it is used (a problem `code` or a field `errors[].code`). */
export interface CodeUse {
  code: string
  kind: 'problem' | 'field' | 'either'
  at: string
}

/** Helpers of src/domain/errors.ts (and the HTTP layer's) whose first string argument is a problem code. */
const PROBLEM_CALLS = new Set(['businessRule', 'conflict', 'problemOf', 'problem'])
/** Helpers whose second argument is a field code. */
const FIELD_CALLS = new Set(['fieldInvalid'])

function files(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...files(p))
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p)
  }
  return out
}

const literal = (n: ts.Node | undefined): string | undefined =>
  n && (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) && /^[a-z][a-z0-9_]*$/.test(n.text) ? n.text : undefined

/** Every string literal of a conditional such as `x ? 'a' : 'b'`. */
function literals(n: ts.Node | undefined): string[] {
  if (!n) return []
  const one = literal(n)
  if (one) return [one]
  if (ts.isConditionalExpression(n)) return [...literals(n.whenTrue), ...literals(n.whenFalse)]
  if (ts.isParenthesizedExpression(n)) return literals(n.expression)
  return []
}

/**
 * Scans src/ (TypeScript AST) for every error code literal: the first argument of `businessRule`, `conflict`,
 * `problemOf`; the second of `new AppError(status, code, …)`; the field code of `fieldInvalid(path, code, …)`; and
 * every `code: '…'` in an object literal that also has `detail` (a domain problem: a problem code) or `message`
 * (a field error or a check failure: a field code, or a problem code when it carries `status`), also when `code` is a
 * variable of the same function set from literals. The code type (`ErrorCode`) makes the compiler refuse an unlisted literal too; this scan also
 * proves every listed code is used.
 */
export function scanErrorCodes(root: string): CodeUse[] {
  const out: CodeUse[] = []
  for (const file of files(root)) {
    const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
    const at = (n: ts.Node) => `${path.relative(process.cwd(), file)}:${src.getLineAndCharacterOfPosition(n.getStart()).line + 1}`
    const visit = (n: ts.Node): void => {
      if (ts.isCallExpression(n) || ts.isNewExpression(n)) {
        const callee = n.expression
        const name = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : ''
        const args = n.arguments ?? ts.factory.createNodeArray()
        if (ts.isNewExpression(n) && name === 'AppError') for (const c of literals(args[1])) out.push({ code: c, kind: 'problem', at: at(n) })
        if (ts.isCallExpression(n) && PROBLEM_CALLS.has(name)) {
          // problemOf(status, code, …) takes the status first.
          const arg = name === 'problemOf' ? args[1] : args[0]
          for (const c of literals(arg)) out.push({ code: c, kind: 'problem', at: at(n) })
        }
        if (ts.isCallExpression(n) && FIELD_CALLS.has(name)) for (const c of literals(args[1])) out.push({ code: c, kind: 'field', at: at(n) })
      }
      if (ts.isObjectLiteralExpression(n)) {
        const props = new Map<string, ts.Expression>()
        for (const p of n.properties) {
          if (ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) props.set(p.name.text, p.initializer)
          if (ts.isShorthandPropertyAssignment(p)) props.set(p.name.text, p.name)
        }
        const code = props.get('code')
        if (code && ts.isIdentifier(code) && (props.has('message') || props.has('detail'))) {
          // `const code = cond ? 'a' : 'b'` earlier in the same function, then `{ path, code, message }`.
          let fn: ts.Node | undefined = n.parent
          while (fn && !ts.isFunctionLike(fn)) fn = fn.parent
          const findDecl = (m: ts.Node): void => {
            if (ts.isVariableDeclaration(m) && ts.isIdentifier(m.name) && m.name.text === code.text) {
              for (const c of literals(m.initializer)) out.push({ code: c, kind: 'either', at: at(m) })
            }
            ts.forEachChild(m, findDecl)
          }
          if (fn) findDecl(fn)
        } else if (code) {
          const kind = props.has('detail') ? 'problem' : props.has('message') ? (props.has('status') ? 'problem' : 'field') : undefined
          if (kind) for (const c of literals(code)) out.push({ code: c, kind, at: at(n) })
        }
      }
      ts.forEachChild(n, visit)
    }
    visit(src)
  }
  return out
}
