import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { countByStatus, dayDigest, diffWithDay, MAX_DIFF_ITEMS, RECONCILIATION_KINDS, reconcileDay } from '../db/reconciliation-repository.js'
import { StringEnum } from '../schemas/common.js'
import type { AppDeps } from './app-deps.js'
import { errorResponses } from './common-schemas.js'

const DateField = Type.String({ 'x-check': 'date', description: '上海时间日期 YYYY-MM-DD / Asia/Shanghai date' })
const KindField = StringEnum(RECONCILIATION_KINDS, { description: 'referral 委派案件 / judicial_confirmation 司法确认申请' })
const CaseId = Type.String({ minLength: 1, maxLength: 64, description: '案件标识 / case id' })
const Version = Type.Integer({ minimum: 1, description: '案件版本号 / the case’s version' })

const DayQuery = Type.Object({ date: DateField, kind: KindField }, { additionalProperties: false })

const EXAMPLE_IDS = ['01937a4e-8c2b-7d1a-9f00-3b4c5d6e7f80', '01937a52-1d40-7e22-8a11-4c5d6e7f8091', '01937a60-77aa-7b33-b222-5d6e7f8091a2'] as const

/** A real day of three referrals, so the example's digest is the one the service would answer. */
const EXAMPLE_DAY = [
  { id: EXAMPLE_IDS[0], version: 4, status: 'mediating' },
  { id: EXAMPLE_IDS[1], version: 3, status: 'mediating' },
  { id: EXAMPLE_IDS[2], version: 2, status: 'referred' },
]

const DaySummaryView = Type.Object(
  {
    date: Type.String({ format: 'date' }),
    kind: KindField,
    count: Type.Integer({ minimum: 0, description: '当日最后变更的可读案件数 / cases the caller may read last changed that day' }),
    byStatus: Type.Record(Type.String(), Type.Integer({ minimum: 1 }), {
      description: '各状态案件数，按状态名排序，无案件的状态不列出 / count per status, alphabetical, statuses without a case left out',
    }),
    digest: Type.String({
      pattern: '^[0-9a-f]{64}$',
      description: '按 id 排序的各行 `<id>:<version>:<status>\\n` 的 SHA-256（小写十六进制）/ SHA-256 of the lines, sorted by id',
    }),
  },
  {
    examples: [{ date: '2026-12-06', kind: 'referral', count: EXAMPLE_DAY.length, byStatus: countByStatus(EXAMPLE_DAY), digest: dayDigest(EXAMPLE_DAY) }],
  },
)

const DiffBody = Type.Object(
  {
    date: DateField,
    kind: KindField,
    items: Type.Array(Type.Object({ id: CaseId, version: Version }, { additionalProperties: false }), {
      maxItems: MAX_DIFF_ITEMS,
      description: `调用方所持当日案件及其版本，至多 ${MAX_DIFF_ITEMS} 项，id 不得重复 / the caller's cases of the day, at most ${MAX_DIFF_ITEMS}, no id twice`,
    }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        date: '2026-12-06',
        kind: 'referral',
        items: [
          { id: EXAMPLE_IDS[0], version: 4 },
          { id: EXAMPLE_IDS[1], version: 1 },
          { id: '01937a70-0000-7000-8000-000000000000', version: 2 },
        ],
      },
    ],
  },
)

const DiffView = Type.Object(
  {
    missing: Type.Array(Type.Object({ id: Type.String(), version: Type.Integer({ description: '服务端当前版本 / the current version' }) }), {
      description: '当日案件中调用方未持有或版本不一致者，附当前版本，按 id 排序 / cases of the day the caller lacks or holds at another version, sorted by id',
    }),
    unknown: Type.Array(Type.String(), {
      description: '服务端无此案件或调用方无权读取的 id，按请求顺序 / ids the service does not have or the caller may not read, in request order',
    }),
    matched: Type.Integer({ minimum: 0, description: '版本一致的当日案件数 / cases of the day held at their current version' }),
  },
  {
    examples: [
      {
        missing: [
          { id: EXAMPLE_IDS[1], version: 3 },
          { id: EXAMPLE_IDS[2], version: 2 },
        ],
        unknown: ['01937a70-0000-7000-8000-000000000000'],
        matched: 1,
      },
    ],
  },
)

const SCOPE =
  '范围与列表相同：法院为本院案件，调解平台为其组织办理过（委派）或申请（司法确认）的案件，运维为全部。“最后变更”即案件的 updatedAt，按上海时间（Asia/Shanghai）归日：' +
  '00:00:00+08:00（含）至次日 00:00:00+08:00（不含）。'

const reconciliationPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  app.get(
    '/v1/reconciliation',
    {
      config: { roles: ['court', 'mediation', 'operator'] },
      schema: {
        tags: ['events'],
        summary: '日对账 / Daily reconciliation',
        description:
          `调用方可读、且最后变更落在 date 当日的 kind 类案件：数量、各状态数量与摘要。${SCOPE}` +
          'digest 为各案件一行 `<id>:<version>:<status>\\n`（id 为小写 UUID）按 id 升序拼接后的 SHA-256（小写十六进制）；当日无案件时为空串的 SHA-256。' +
          '对方以同样方法计算本地数据，摘要一致即当日数据一致；不一致时以 POST /v1/reconciliation/diff 找出差异。\n\n' +
          'The cases of `kind` the caller may read (the scope of the lists) whose last change (`updatedAt`) fell on `date` in Asia/Shanghai ' +
          '(from 00:00:00+08:00 inclusive to the next 00:00:00+08:00 exclusive): their count, count per status and `digest`, the lowercase hex ' +
          'SHA-256 of the lines `<id>:<version>:<status>\\n` sorted by id (the SHA-256 of the empty string for a day without cases). A peer ' +
          'computes the same over its own copy; equal digests prove the day complete, otherwise POST /v1/reconciliation/diff names the differences.',
        querystring: DayQuery,
        response: { 200: DaySummaryView, ...errorResponses() },
      },
    },
    async (req) => reconcileDay(deps.db, req.principal, req.query.kind, req.query.date),
  )

  app.post(
    '/v1/reconciliation/diff',
    {
      config: { roles: ['court', 'mediation', 'operator'] },
      schema: {
        tags: ['events'],
        summary: '日对账差异 / Reconciliation diff',
        description:
          `以调用方所持当日案件（id 与版本）与服务端比对。${SCOPE}` +
          'missing：当日案件中调用方未列出、或所列版本与当前版本不一致者（附当前版本，按 id 排序）；matched：版本一致的当日案件数，故 matched + missing 数 = 当日 count。' +
          'unknown：服务端无此 kind 的案件、或调用方无权读取的 id（按请求顺序，原样返回）。调用方可读、但最后变更在其他日期的案件既不计入 missing 也不计入 unknown、' +
          '亦不计入 matched：它在其最后变更之日对账。id 不区分大小写；同一 id 出现两次 → 400 validation_failed（duplicate_id）；items 超过 ' +
          `${MAX_DIFF_ITEMS} 项 → 400；当日案件更多时分批提交，某批 missing 中调用方在其他批次已按该版本持有的案件并非缺失。本接口只读、不改变任何数据，无需 Idempotency-Key。\n\n` +
          'Compares the caller’s `{ id, version }` list for the day with the service’s. `missing`: cases of that day the caller did not list or ' +
          'lists at a version other than the current one, with the current version, sorted by id; `matched`: cases of that day listed at their ' +
          'current version, so `matched + missing.length = count`. `unknown`: ids the service does not have (as a case of this kind) or the ' +
          'caller may not read, as sent, in request order. An id the caller may read whose last change fell on another day is in none of the ' +
          'three: it is reconciled on the day of its last change. Ids compare case-insensitively; an id listed twice → 400 validation_failed ' +
          `(duplicate_id); more than ${MAX_DIFF_ITEMS} items → 400: a longer day goes in parts, and a case one part reports missing that the ` +
          'caller holds at that version (listed in another part) is not missing. A read: it changes nothing, so it needs no Idempotency-Key.',
        body: DiffBody,
        response: { 200: DiffView, ...errorResponses() },
      },
    },
    async (req) => diffWithDay(deps.db, req.principal, req.body.kind, req.body.date, req.body.items),
  )
}

export default reconciliationPlugin
