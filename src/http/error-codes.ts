import type { FastifyInstance } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { ERROR_CATALOGUE, ERROR_CODES, type ErrorCode, type ErrorScope } from '../domain/error-catalogue.js'
import { StringEnum } from '../schemas/common.js'
import type { AppDeps } from './app-deps.js'
import { errorResponses } from './common-schemas.js'

const Bilingual = Type.Object({ zh: Type.String({ minLength: 1 }), en: Type.String({ minLength: 1 }) })

const ErrorCodeItem = Type.Object({
  code: Type.String({ description: '稳定的错误码 / the stable code' }),
  status: Type.Integer({ description: '应答的 HTTP 状态；字段错误码为承载它的问题的状态 / HTTP status (for field codes: of the problem carrying them)' }),
  scope: StringEnum(['problem', 'field', 'both'] as const, {
    description:
      'problem：问题的 code；field：仅出现在 errors[].code；both：两者皆可 / problem: the top-level code; field: only in errors[].code; both: either',
  }),
  title: Bilingual,
  description: Bilingual,
})

/** The catalogue as `GET /v1/error-codes` answers it: every code once, in the table's order. */
export function errorCodeItems(): Array<{
  code: ErrorCode
  status: number
  scope: ErrorScope
  title: { zh: string; en: string }
  description: { zh: string; en: string }
}> {
  return ERROR_CODES.map((code) => {
    const entry = ERROR_CATALOGUE[code]
    return { code, status: entry.status, scope: entry.scope, title: { ...entry.title }, description: { ...entry.description } }
  })
}

const EXAMPLE = { items: errorCodeItems().filter((i) => ['consent_required', 'invalid_id_number'].includes(i.code)) }

const errorCodesPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app) => {
  app.get(
    '/v1/error-codes',
    {
      config: { roles: ['court', 'mediation', 'operator'] },
      schema: {
        tags: ['errors'],
        summary: '错误码目录 / Error catalogue',
        description:
          '本服务可能应答的每一个错误码，各出现一次：HTTP 状态、适用范围（问题 code 或 errors[].code）及中英文标题与说明。问题的 type 为 /docs/errors#<code>，' +
          '该页面以 HTML 列出同一目录。\n\nEvery code the service can answer, each once: its HTTP status, where it appears (the problem’s code or ' +
          'errors[].code) and its title and description in Chinese and English. A problem’s type is /docs/errors#<code>, the same catalogue as an HTML page.',
        querystring: Type.Object({}, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(ErrorCodeItem) }, { examples: [EXAMPLE] }), ...errorResponses() },
      },
    },
    async () => ({ items: errorCodeItems() }),
  )
}

export default errorCodesPlugin

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string)

/** The catalogue page: one row per code with the anchor `id="<code>"` a problem's `type` points at. No scripts, no external resources. */
export function errorCataloguePage(): string {
  const rows = errorCodeItems()
    .map(
      (i) =>
        `<tr id="${escapeHtml(i.code)}"><td><a href="#${escapeHtml(i.code)}"><code>${escapeHtml(i.code)}</code></a></td><td>${i.status}</td><td>${i.scope}</td>` +
        `<td lang="zh">${escapeHtml(i.title.zh)}<br><span lang="en">${escapeHtml(i.title.en)}</span></td>` +
        `<td lang="zh">${escapeHtml(i.description.zh)}<br><span lang="en">${escapeHtml(i.description.en)}</span></td></tr>`,
    )
    .join('\n')
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>错误码目录 / Error catalogue</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;vertical-align:top}tr:target{background:#ffc}span[lang=en]{color:#555}</style>
</head>
<body>
<h1>错误码目录 / Error catalogue</h1>
<p>错误应答为 <code>application/problem+json</code>（RFC 9457），其 <code>type</code> 指向本页对应的条目（<code>/docs/errors#&lt;code&gt;</code>）。
范围 problem：问题的 <code>code</code>；field：<code>errors[].code</code>；both：两者皆可。机器可读版本：<code>GET /v1/error-codes</code>。</p>
<p lang="en">Errors are <code>application/problem+json</code> (RFC 9457); their <code>type</code> points at the entry on this page
(<code>/docs/errors#&lt;code&gt;</code>). Scope problem: the problem’s <code>code</code>; field: <code>errors[].code</code>; both: either.
Machine-readable: <code>GET /v1/error-codes</code>.</p>
<table>
<thead><tr><th>code</th><th>status</th><th>scope</th><th>标题 / title</th><th>说明 / description</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</body>
</html>
`
}

/** `GET /docs/errors`, registered inside the documentation's context so it gets the same security headers as /docs. */
export function registerErrorCataloguePage(docs: FastifyInstance): void {
  const page = errorCataloguePage()
  docs.get('/docs/errors', { schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(page))
}
