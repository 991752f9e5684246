import { Ajv, type ErrorObject, type KeywordDefinition } from 'ajv'
import dependentRequiredModule from 'ajv/dist/vocabularies/validation/dependentRequired.js'
import addFormatsModule from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'
import type { ErrorCode } from '../domain/error-catalogue.js'
import { fieldInvalid, type FieldError } from '../domain/errors.js'

/** What a semantic check reports: an error code such as `invalid_id_number`, and, for a business rule, status 422. */
export interface CheckFailure {
  code: ErrorCode
  message: string
  /** The message in English, when `message` is Chinese only (else the code's catalogue title is used). */
  messageEn?: string
  /**
   * 422 for a business rule judged at validation (a timestamp ahead of the clock: `timestamp_in_future`). Such a
   * failure answers 422 with its own code when it is the only kind in the request; any 400 failure answers first.
   */
  status?: 422
}

/**
 * A semantic check attached to a schema node with `x-check: "<name>"`. It sees the value and its parent object
 * (e.g. an ID number next to its `idType`) and returns an error code such as `invalid_id_number`, or null.
 * Identifier checks thereby run inside schema validation, so one 400 lists every failing path.
 */
export type SemanticCheck = (value: unknown, parent: Record<string, unknown> | undefined, root: unknown) => CheckFailure | null

// ajv-formats and Ajv's vocabulary modules are CommonJS with a default export.
type AddFormats = (ajv: Ajv) => Ajv
const addFormats: AddFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats
const dependentRequired: KeywordDefinition = ((dependentRequiredModule as unknown as { default?: KeywordDefinition }).default ??
  dependentRequiredModule) as unknown as KeywordDefinition

// ---------------------------------------------------------------------------------------------
// Hostile characters (contract §1 v1.1, reliability row 26)

/**
 * How a string may use line breaks, set on a schema node with `x-text`. Every string the service accepts (body,
 * query, path and header alike) is `line` unless its schema says `multiline`: free text such as a claim summary or
 * a report, where tab, CR and LF are allowed.
 */
export type TextKind = 'line' | 'multiline'

/** C0 controls, DEL and C1 controls: never in a single line of text. */
// eslint-disable-next-line no-control-regex
const CONTROL_LINE = /[\u0000-\u001f\u007f-\u009f]/
/** The same, less tab, LF and CR: never in multi-line text. */
// eslint-disable-next-line no-control-regex
const CONTROL_MULTILINE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/
/** A UTF-16 surrogate without its partner: not a character, and PostgreSQL refuses it in jsonb. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
/** Bidirectional embeddings, overrides and isolates (LRE … RLO, LRI … PDI): they make text display other than it reads. */
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/
/**
 * A string with nothing visible in it: white space, format characters (zero-width space and joiners, BOM, marks,
 * soft hyphen), controls and the filler characters that render blank.
 */
const BLANK = /^[\p{White_Space}\p{Cf}\p{Cc}\u034f\u115f\u1160\u2800\u3164\uffa0]*$/u

const codePoint = (s: string, at: number) => `U+${(s.codePointAt(at) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`
/** The 1-based position, in code points (as lengths are counted, contract §1), of the UTF-16 unit at `at`. */
const position = (s: string, at: number) => [...s.slice(0, at)].length + 1

/**
 * The problem with a string's characters, or null: NUL and other C0 controls (tab, CR and LF allowed in `multiline`
 * text), DEL and C1 controls, lone surrogates and bidirectional overrides → `invalid_characters`; a `required`
 * string with nothing visible in it (only spaces or zero-width characters) → `blank`. The message names the first
 * offending code point and its position, never the value.
 */
export function textProblem(s: string, kind: TextKind = 'line', required = false): { code: ErrorCode; message: string } | null {
  for (const re of [kind === 'multiline' ? CONTROL_MULTILINE : CONTROL_LINE, LONE_SURROGATE, BIDI_CONTROL]) {
    const m = re.exec(s)
    if (m) {
      const what = re === LONE_SURROGATE ? '孤立的代理项' : re === BIDI_CONTROL ? '双向文本控制符' : '控制字符'
      return {
        code: 'invalid_characters',
        message: `第 ${position(s, m.index)} 个字符是不允许的${what} ${codePoint(s, m.index)} / forbidden character ${codePoint(s, m.index)} at position ${position(s, m.index)}`,
      }
    }
  }
  // An empty string is the length rule's to report; a non-empty one must show something.
  if (required && s !== '' && BLANK.test(s)) return { code: 'blank', message: '不能只包含空白或不可见字符 / must hold a visible character' }
  return null
}

/**
 * For a value the schema cannot see as it arrives (a percent-encoded header, decoded by its route): throws 400
 * validation_failed naming `path` with `invalid_characters` (or `blank`) when {@link textProblem} finds one; returns
 * false otherwise, so it reads as one more condition of the route's own check.
 */
export function refuseHostileText(value: string, path: string, kind: TextKind = 'line'): false {
  const problem = textProblem(value, kind, true)
  if (problem) throw fieldInvalid(path, problem.code, problem.message)
  return false
}

/** Keywords whose value is a schema, or an array of schemas. */
const SUBSCHEMA = new Set([
  'items',
  'additionalItems',
  'additionalProperties',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'propertyNames',
  'allOf',
  'anyOf',
  'oneOf',
  'prefixItems',
])
/** Keywords whose value maps names to schemas. */
const SCHEMA_MAP = new Set(['properties', 'patternProperties', 'dependentSchemas', '$defs', 'definitions'])

/**
 * A copy of `schema` in which every node that accepts a string carries `x-text` (`line` where the schema does not say
 * `multiline`), so the character check runs on every string a request can carry. The route's own schema object is
 * left as it is (it also renders the OpenAPI document).
 */
function withTextChecks(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withTextChecks)
  if (schema === null || typeof schema !== 'object') return schema
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(schema)) {
    if (SUBSCHEMA.has(k)) out[k] = withTextChecks(v)
    else if (SCHEMA_MAP.has(k) && v !== null && typeof v === 'object') {
      out[k] = Object.fromEntries(Object.entries(v).map(([name, sub]) => [name, withTextChecks(sub)]))
    } else out[k] = v
  }
  const type = out.type
  if ((type === 'string' || (Array.isArray(type) && type.includes('string'))) && out['x-text'] === undefined) out['x-text'] = 'line'
  return out
}

function newAjv(coerce: boolean, checks: Record<string, SemanticCheck>): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    coerceTypes: coerce ? 'array' : false,
    removeAdditional: false,
    useDefaults: coerce,
    strict: false,
    // minLength/maxLength count Unicode code points (Ajv's default), as contract §1 requires.
  })
  addFormats(ajv)
  ajv.addKeyword(dependentRequired)
  ajv.addKeyword({
    keyword: 'x-check',
    schemaType: 'string',
    errors: true,
    validate: function check(this: unknown, name: string, data: unknown, _parent: unknown, cxt?: { parentData?: unknown; rootData?: unknown }) {
      const fn = checks[name]
      if (!fn) throw new Error(`unknown x-check ${name}`)
      const result = fn(data, cxt?.parentData as Record<string, unknown> | undefined, cxt?.rootData)
      if (!result) return true
      ;(check as unknown as { errors: Partial<ErrorObject>[] }).errors = [
        {
          keyword: 'x-check',
          message: result.message,
          params: { code: result.code, ...(result.messageEn ? { messageEn: result.messageEn } : {}), ...(result.status ? { status: result.status } : {}) },
        },
      ]
      return false
    },
  })
  ajv.addKeyword({
    keyword: 'x-text',
    type: 'string',
    schemaType: 'string',
    errors: true,
    validate: function text(this: unknown, kind: TextKind, data: string, parentSchema?: Record<string, unknown>) {
      const result = textProblem(data, kind, Number(parentSchema?.minLength ?? 0) >= 1)
      if (!result) return true
      ;(text as unknown as { errors: Partial<ErrorObject>[] }).errors = [{ keyword: 'x-text', message: result.message, params: { code: result.code } }]
      return false
    },
  })
  return ajv
}

/**
 * Bodies are validated strictly: no coercion, no stripping of unknown properties (contract §1 "Strict input").
 * Query strings and path parameters are text by nature, so they are coerced to the declared types.
 * Every string of every part is checked for hostile characters (`x-text`, see {@link textProblem}).
 */
export function createValidatorCompiler(checks: Record<string, SemanticCheck>): FastifySchemaCompiler<unknown> {
  const strict = newAjv(false, checks)
  const lenient = newAjv(true, checks)
  // One copy per schema object, so a schema shared by routes (or carrying an $id) is compiled once per Ajv.
  const prepared = new WeakMap<object, object>()
  return ({ schema, httpPart }) => {
    let copy = prepared.get(schema as object)
    if (!copy) {
      copy = withTextChecks(schema) as object
      prepared.set(schema as object, copy)
    }
    return (httpPart === 'body' ? strict : lenient).compile(copy) as never
  }
}

const MAX_FIELD_ERRORS = 100

export const KEYWORD_CODES: Record<string, ErrorCode> = {
  required: 'required',
  dependentRequired: 'required',
  dependencies: 'required',
  additionalProperties: 'unknown_property',
  type: 'invalid_type',
  enum: 'invalid_value',
  const: 'invalid_value',
  anyOf: 'invalid_value',
  oneOf: 'invalid_value',
  minLength: 'too_short',
  maxLength: 'too_long',
  minItems: 'too_few_items',
  maxItems: 'too_many_items',
  minimum: 'out_of_range',
  maximum: 'out_of_range',
  exclusiveMinimum: 'out_of_range',
  exclusiveMaximum: 'out_of_range',
  pattern: 'invalid_format',
  format: 'invalid_format',
  uniqueItems: 'duplicate_items',
  minProperties: 'too_few_properties',
  maxProperties: 'too_many_properties',
}

const MESSAGES: Record<string, string> = {
  required: '缺少必填字段',
  unknown_property: '不允许的字段',
  invalid_type: '类型不正确',
  invalid_value: '取值不在允许范围内',
  too_short: '长度过短',
  too_long: '长度超过上限',
  too_few_items: '条目过少',
  too_many_items: '条目过多',
  out_of_range: '数值超出范围',
  invalid_format: '格式不正确',
  duplicate_items: '存在重复条目',
  too_few_properties: '属性过少',
  too_many_properties: '属性过多',
}

const MESSAGES_EN: Record<string, string> = {
  required: 'is required',
  unknown_property: 'is not allowed',
  invalid_type: 'has the wrong type',
  invalid_value: 'is not an allowed value',
  too_short: 'is too short',
  too_long: 'is too long',
  too_few_items: 'has too few items',
  too_many_items: 'has too many items',
  out_of_range: 'is out of range',
  invalid_format: 'has the wrong format',
  duplicate_items: 'holds duplicate items',
  too_few_properties: 'has too few properties',
  too_many_properties: 'has too many properties',
}

/** The values an enum or a set of `const` alternatives allows at each instance path. */
function allowedValuesByPath(errors: ErrorObject[]): Map<string, unknown[]> {
  const out = new Map<string, unknown[]>()
  for (const e of errors) {
    const params = e.params as { allowedValues?: unknown[]; allowedValue?: unknown }
    const values = e.keyword === 'enum' ? params.allowedValues : e.keyword === 'const' ? [params.allowedValue] : undefined
    if (!values) continue
    const list = out.get(e.instancePath) ?? []
    for (const v of values) if (!list.some((x) => x === v)) list.push(v)
    out.set(e.instancePath, list)
  }
  return out
}

const listValues = (values: unknown[]) => values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')

/** Keywords whose errors carry their own code and message. */
const OWN_CODE = new Set(['x-check', 'x-text'])

/**
 * Ajv errors → the contract's `errors[]`: one entry per offending path, the path as a JSON pointer, the message in
 * Chinese with its English beside it (`messageEn`). A value outside an enumeration names the allowed values in both.
 */
export function toFieldErrors(errors: ErrorObject[], prefix = ''): FieldError[] {
  const out: FieldError[] = []
  const seen = new Set<string>()
  const allowed = allowedValuesByPath(errors)
  for (const e of errors) {
    let path = e.instancePath
    if (e.keyword === 'required' || e.keyword === 'dependentRequired' || e.keyword === 'dependencies') {
      path += `/${String((e.params as { missingProperty?: string }).missingProperty)}`
    }
    if (e.keyword === 'additionalProperties') path += `/${String((e.params as { additionalProperty?: string }).additionalProperty)}`
    const own = OWN_CODE.has(e.keyword)
    const code = own ? (e.params as { code: ErrorCode }).code : (KEYWORD_CODES[e.keyword] ?? 'invalid_value')
    const key = `${path}|${code}`
    if (seen.has(key)) continue
    seen.add(key)
    let message: string
    let messageEn: string | undefined
    const values = (e.keyword === 'enum' || e.keyword === 'const') && allowed.get(e.instancePath)
    if (own) {
      message = e.message ?? code
      messageEn = (e.params as { messageEn?: string }).messageEn
    } else if (values) {
      message = `取值不在允许范围内，允许的取值：${listValues(values)}`
      messageEn = `must be one of: ${listValues(values)}`
    } else {
      message = `${MESSAGES[code] ?? '取值无效'}（${e.message ?? e.keyword}）`
      messageEn = `${MESSAGES_EN[code] ?? 'is invalid'} (${e.message ?? e.keyword})`
    }
    out.push({ path: prefix + path, code, message, ...(messageEn ? { messageEn } : {}) })
    if (out.length >= MAX_FIELD_ERRORS) break
  }
  return out
}

/**
 * Splits a failed validation into what it answers: the 400 field errors when there are any, else the first
 * business rule a check judged (status 422, e.g. `timestamp_in_future`), with its path in the domain's form
 * (`signatures/0/signedAt`).
 */
export function classifyValidation(
  errors: ErrorObject[],
): { fieldErrors: FieldError[] } | { rule: { code: ErrorCode; detail: string; detailEn?: string; path: string } } {
  const rules = errors.filter((e) => e.keyword === 'x-check' && (e.params as { status?: number }).status === 422)
  const rest = errors.filter((e) => !rules.includes(e))
  if (rest.length || !rules.length) return { fieldErrors: toFieldErrors(rest) }
  const first = rules[0]
  const params = first.params as { code: ErrorCode; messageEn?: string }
  return { rule: { code: params.code, detail: first.message ?? '', detailEn: params.messageEn, path: first.instancePath.replace(/^\//, '') } }
}
