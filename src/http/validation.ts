import { Ajv, type ErrorObject } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'
import type { FieldError } from '../domain/errors.js'

/**
 * A semantic check attached to a schema node with `x-check: "<name>"`. It sees the value and its parent object
 * (e.g. an ID number next to its `idType`) and returns an error code such as `invalid_id_number`, or null.
 * Identifier checks thereby run inside schema validation, so one 400 lists every failing path.
 */
export type SemanticCheck = (value: unknown, parent: Record<string, unknown> | undefined, root: unknown) => { code: string; message: string } | null

// ajv-formats is CommonJS with a default export.
type AddFormats = (ajv: Ajv) => Ajv
const addFormats: AddFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats

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
  ajv.addKeyword({
    keyword: 'x-check',
    schemaType: 'string',
    errors: true,
    validate: function check(this: unknown, name: string, data: unknown, _parent: unknown, cxt?: { parentData?: unknown; rootData?: unknown }) {
      const fn = checks[name]
      if (!fn) throw new Error(`unknown x-check ${name}`)
      const result = fn(data, cxt?.parentData as Record<string, unknown> | undefined, cxt?.rootData)
      if (!result) return true
      ;(check as unknown as { errors: Partial<ErrorObject>[] }).errors = [{ keyword: 'x-check', message: result.message, params: { code: result.code } }]
      return false
    },
  })
  return ajv
}

/**
 * Bodies are validated strictly: no coercion, no stripping of unknown properties (contract §1 "Strict input").
 * Query strings and path parameters are text by nature, so they are coerced to the declared types.
 */
export function createValidatorCompiler(checks: Record<string, SemanticCheck>): FastifySchemaCompiler<unknown> {
  const strict = newAjv(false, checks)
  const lenient = newAjv(true, checks)
  return ({ schema, httpPart }) => (httpPart === 'body' ? strict : lenient).compile(schema as object) as never
}

const MAX_FIELD_ERRORS = 100

const KEYWORD_CODES: Record<string, string> = {
  required: 'required',
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
}

/** Ajv errors → the contract's `errors[]`: one entry per offending path, the path as a JSON pointer. */
export function toFieldErrors(errors: ErrorObject[], prefix = ''): FieldError[] {
  const out: FieldError[] = []
  const seen = new Set<string>()
  for (const e of errors) {
    let path = e.instancePath
    if (e.keyword === 'required') path += `/${String((e.params as { missingProperty?: string }).missingProperty)}`
    if (e.keyword === 'additionalProperties') path += `/${String((e.params as { additionalProperty?: string }).additionalProperty)}`
    const code = e.keyword === 'x-check' ? String((e.params as { code?: string }).code) : (KEYWORD_CODES[e.keyword] ?? 'invalid_value')
    const key = `${path}|${code}`
    if (seen.has(key)) continue
    seen.add(key)
    const message = e.keyword === 'x-check' ? (e.message ?? code) : `${MESSAGES[code] ?? '取值无效'}（${e.message ?? e.keyword}）`
    out.push({ path: prefix + path, code, message })
    if (out.length >= MAX_FIELD_ERRORS) break
  }
  return out
}
