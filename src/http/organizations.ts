import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import {
  getOrganization,
  insertOrganization,
  listOrganizations,
  lockOrganization,
  type OrganizationInput,
  updateOrganization,
} from '../db/organization-repository.js'
import { AppError, notFound } from '../domain/errors.js'
import { ORGANIZATION_KINDS, type Organization, staffingCompliant } from '../domain/organization.js'
import { maySetCourtSpecial, organizationInScope, organizationPutProblem } from '../domain/access.js'
import type { AppDeps } from './app-deps.js'
import { errorResponses } from './common-schemas.js'
import { CursorQuery, LimitQuery, listOf, StringEnum, Timestamp } from '../schemas/common.js'
import { DISPUTE_TYPES } from '../schemas/referrals.js'
import { listPage } from './pagination.js'

const OrgId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: '平台自有的组织标识 / the platform’s own id' })

export const OrganizationBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    kind: StringEnum(ORGANIZATION_KINDS),
    regionCode: Type.String({ 'x-check': 'regionCode', description: '6 位行政区划代码 / 6-digit region code' }),
    uscc: Type.Optional(Type.String({ 'x-check': 'uscc', description: '统一社会信用代码 / USCC' })),
    disputeTypes: Type.Array(StringEnum(DISPUTE_TYPES), { maxItems: 50, uniqueItems: true }),
    fullTimeMediators: Type.Integer({ minimum: 0, maximum: 100000 }),
    rosters: Type.Object(
      {
        ministry: Type.Boolean({ description: '司法部人民调解组织名册 / on the ministry roster' }),
        courtSpecial: Type.Optional(
          Type.Array(Type.String({ 'x-check': 'courtCode' }), {
            maxItems: 200,
            uniqueItems: true,
            description:
              '特邀调解名册所属法院代字，由法院通过 PUT /v1/courts/{courtCode}/special-roster/{organizationId} 登记；调解平台可省略或原样重复，变更 → 403 roster_managed_by_court；运维可设置。' +
              'Courts whose special roster lists it, granted by the court; a mediation client omits it or repeats it unchanged (any change → 403 roster_managed_by_court); operators may set it.',
          }),
        ),
      },
      { additionalProperties: false },
    ),
    active: Type.Boolean(),
  },
  {
    additionalProperties: false,
    examples: [
      {
        name: '朝阳区八里庄街道人民调解委员会',
        kind: 'township_committee',
        regionCode: '110105',
        disputeTypes: ['neighbor', 'marriage_family'],
        fullTimeMediators: 2,
        rosters: { ministry: true },
        active: true,
      },
    ],
  },
)

export const OrganizationView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  regionCode: Type.String(),
  uscc: Type.Union([Type.String(), Type.Null()]),
  disputeTypes: Type.Array(Type.String()),
  fullTimeMediators: Type.Integer(),
  staffingCompliant: Type.Boolean({ description: '派生：行业性 ≥ 3、乡镇 ≥ 2 名专职调解员 / derived staffing rule' }),
  rosters: Type.Object({ ministry: Type.Boolean(), courtSpecial: Type.Array(Type.String()) }),
  active: Type.Boolean(),
  version: Type.Integer(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
})

export function organizationView(o: Organization) {
  return {
    id: o.id,
    name: o.name,
    kind: o.kind,
    regionCode: o.regionCode,
    uscc: o.uscc,
    disputeTypes: o.disputeTypes,
    fullTimeMediators: o.fullTimeMediators,
    staffingCompliant: staffingCompliant(o),
    rosters: o.rosters,
    active: o.active,
    version: o.version,
    createdAt: o.createdAt.toISOString(),
    updatedAt: o.updatedAt.toISOString(),
  }
}

const organizationsPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  app.put(
    '/v1/organizations/:id',
    {
      config: { roles: ['mediation', 'operator'] },
      schema: {
        tags: ['organizations'],
        summary: '登记或更新调解组织 / Create or replace an organization on the roster',
        description:
          '调解平台只能维护其范围内的组织（organizationIds 或 regionCodes 前缀），否则 403 out_of_scope；变更 regionCode 须由 regionCodes 同时覆盖原区划与新区划的调用方进行' +
          '（仅以 organizationIds 绑定的调用方不可），否则 403 out_of_scope。rosters.courtSpecial 由法院登记（PUT/DELETE /v1/courts/{courtCode}/special-roster/{organizationId}）：' +
          '调解平台可省略或原样重复（保持不变），任何变更 → 403 roster_managed_by_court；新建时为空。运维可维护任何组织并设置 courtSpecial。\n\n' +
          'Mediation clients keep organizations in their scope (403 out_of_scope). Changing regionCode needs regionCodes covering both the old and the new region ' +
          '(a client bound by organizationIds alone may not; 403 out_of_scope). rosters.courtSpecial is granted by the courts: a mediation client may omit it or repeat it ' +
          'unchanged (kept; empty on create), any change → 403 roster_managed_by_court. Operators may change anything, courtSpecial included.',
        params: Type.Object({ id: OrgId }, { additionalProperties: false }),
        body: OrganizationBody,
        response: { 200: OrganizationView, 201: OrganizationView, ...errorResponses(422) },
      },
    },
    async (req, reply) => {
      const b = req.body
      const id = req.params.id
      const p = req.principal
      /** What the body makes of the organization as it stands (undefined: none yet), or the refusal. */
      const decide = (current: Organization | undefined): OrganizationInput => {
        const problem = organizationPutProblem(p, current && { id, regionCode: current.regionCode, courtSpecial: current.rosters.courtSpecial }, {
          id,
          regionCode: b.regionCode,
          courtSpecial: b.rosters.courtSpecial,
        })
        if (problem) throw new AppError(403, problem.code, problem.detail)
        const kept = current?.rosters.courtSpecial ?? []
        return {
          id,
          name: b.name,
          kind: b.kind,
          regionCode: b.regionCode,
          uscc: b.uscc ?? null,
          disputeTypes: b.disputeTypes,
          fullTimeMediators: b.fullTimeMediators,
          rosters: { ministry: b.rosters.ministry, courtSpecial: b.rosters.courtSpecial && maySetCourtSpecial(p) ? b.rosters.courtSpecial : kept },
          active: b.active,
        }
      }
      // The rules are decided on the locked row, so a concurrent create or roster grant cannot slip between the check and the write.
      const { org, created } = await deps.db.transaction().execute(async (trx) => {
        let current = await lockOrganization(trx, id)
        if (!current) {
          const inserted = await insertOrganization(trx, decide(undefined))
          if (inserted) return { org: inserted, created: true }
          // Another request created it meanwhile: decide again, against that one.
          current = await lockOrganization(trx, id)
          if (!current) throw new Error(`organization ${id} neither inserted nor found`)
        }
        return { org: await updateOrganization(trx, decide(current)), created: false }
      })
      return reply.code(created ? 201 : 200).send(organizationView(org))
    },
  )

  app.get(
    '/v1/organizations/:id',
    {
      config: { roles: ['court', 'mediation', 'operator'] },
      schema: {
        tags: ['organizations'],
        summary: '查询调解组织 / Get an organization',
        params: Type.Object({ id: OrgId }, { additionalProperties: false }),
        response: { 200: OrganizationView, ...errorResponses(404) },
      },
    },
    async (req) => {
      const org = await getOrganization(deps.db, req.params.id)
      if (!org || (req.principal.role === 'mediation' && !organizationInScope(req.principal, org))) {
        throw notFound('调解组织')
      }
      return organizationView(org)
    },
  )

  app.get(
    '/v1/organizations',
    {
      config: { roles: ['court', 'mediation', 'operator'] },
      schema: {
        tags: ['organizations'],
        summary: '调解组织名册 / List the roster',
        description: '调解平台仅见其范围内的组织。Mediation clients see the organizations in their scope.',
        querystring: Type.Object(
          {
            regionCode: Type.Optional(Type.String({ 'x-check': 'regionPrefix' })),
            disputeType: Type.Optional(StringEnum(DISPUTE_TYPES)),
            courtCode: Type.Optional(Type.String({ 'x-check': 'courtCode', description: '可由该法院指定（本院或高院特邀名册）/ designatable by this court' })),
            roster: Type.Optional(StringEnum(['ministry', 'court_special'] as const)),
            limit: Type.Optional(LimitQuery),
            cursor: Type.Optional(CursorQuery),
          },
          { additionalProperties: false },
        ),
        response: { 200: listOf(OrganizationView), ...errorResponses() },
      },
    },
    async (req) => {
      const q = req.query
      const { items, nextCursor } = await listPage(
        q,
        { id: 'slug' },
        (after, take) =>
          listOrganizations(
            deps.db,
            { regionCode: q.regionCode, disputeType: q.disputeType, courtCode: q.courtCode, roster: q.roster, afterId: after?.id, limit: take },
            req.principal,
          ),
        (o) => ({ id: o.id }),
      )
      return { items: items.map(organizationView), nextCursor }
    },
  )
}

export default organizationsPlugin
