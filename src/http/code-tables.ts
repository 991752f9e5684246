import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { notFound } from '../domain/errors.js'
import { CODE_TABLE_NAMES, CODE_TABLES, codeTable } from '../schemas/code-tables.js'
import { StringEnum } from '../schemas/common.js'
import type { AppDeps } from './app-deps.js'
import { errorResponses } from './common-schemas.js'

/** No query parameters: an unknown one is a 400 (contract §1). */
const NoQuery = Type.Object({}, { additionalProperties: false })

const NameParam = Type.Object(
  { name: Type.String({ minLength: 1, description: `代码表名称：${CODE_TABLE_NAMES.join('、')} / table name; any other answers 404` }) },
  { additionalProperties: false },
)

const Entry = Type.Object({
  code: Type.String({ description: '接口中使用的代码 / the code the API uses' }),
  zh: Type.String({ minLength: 1, description: '中文名称 / Chinese label' }),
  en: Type.String({ minLength: 1, description: '英文名称 / English label' }),
})

/** The examples are the real tables, so the document shows real versions. */
const TABLE_EXAMPLE = codeTable('suspension-reasons')

const Table = Type.Object({
  name: StringEnum(CODE_TABLE_NAMES),
  version: Type.String({
    pattern: '^[0-9a-f]{16}$',
    description: '条目的 SHA-256 摘要前 16 位十六进制，条目变化时随之变化 / first 16 hex digits of SHA-256 over the entries; changes exactly when they do',
  }),
  entries: Type.Array(Entry, { description: '按枚举定义顺序 / in the enumeration’s order' }),
})

const TableView = Type.Object(Table.properties, { examples: [TABLE_EXAMPLE] })
const TableList = Type.Object({ items: Type.Array(Table) }, { examples: [{ items: [TABLE_EXAMPLE] }] })

const DESCRIPTION =
  '本契约的各枚举及其中英文名称，供对接方同步字典：dispute-types 纠纷类型、termination-reasons 调解终结事由（含系统在期限届满时写入的 deadline_expired）、' +
  'organization-kinds 调解组织类型、suspension-reasons 中止调解事由、referral-statuses 委派案件状态、confirmation-statuses 司法确认申请状态、' +
  'warning-levels 预警等级、event-types 事件类型、id-types 证件类型。代码即接口校验所用的枚举本身；不予接受的理由为自由文本（超时为 acceptance_timeout），不设代码表。' +
  'version 为条目规范 JSON（[{code, zh, en}]，按表内顺序）的 SHA-256 前 16 位十六进制：条目或名称变化时 version 随之变化，对接方比较 version 即知是否需要更新。\n\n' +
  'Every enumeration of the contract with its Chinese and English labels, for peers to keep their dictionaries in step. The codes are the very ' +
  'enumerations the API validates with; termination-reasons includes the timer’s deadline_expired. Decline reasons are free text, so there is no table ' +
  'for them. version is the first 16 hex digits of SHA-256 over the canonical JSON of the entries ([{code, zh, en}] in table order): it changes exactly ' +
  'when a code or a label does.'

const codeTablesPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app) => {
  app.get(
    '/v1/code-tables',
    {
      config: { roles: ['court', 'mediation', 'operator'] },
      schema: {
        tags: ['code-tables'],
        summary: '代码表 / Code tables',
        description: DESCRIPTION,
        querystring: NoQuery,
        response: { 200: TableList, ...errorResponses() },
      },
    },
    async () => ({ items: [...CODE_TABLES] }),
  )

  app.get(
    '/v1/code-tables/:name',
    {
      config: { roles: ['court', 'mediation', 'operator'] },
      schema: {
        tags: ['code-tables'],
        summary: '查询一张代码表 / Get one code table',
        description: `${DESCRIPTION}\n\n未知的表名 → 404 not_found. An unknown name answers 404 not_found.`,
        querystring: NoQuery,
        params: NameParam,
        response: { 200: TableView, ...errorResponses(404) },
      },
    },
    async (req) => {
      const table = codeTable(req.params.name)
      if (!table) throw notFound('代码表')
      return table
    },
  )
}

export default codeTablesPlugin
