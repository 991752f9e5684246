import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { setOnCourtRoster } from '../db/organization-repository.js'
import { mayManageCourtRoster } from '../domain/access.js'
import { notFound, outOfScope } from '../domain/errors.js'
import type { AppDeps } from './app-deps.js'
import { errorResponses } from './common-schemas.js'

const NoQuery = Type.Object({}, { additionalProperties: false })

const RosterParams = Type.Object(
  {
    courtCode: Type.String({ 'x-check': 'courtCode', description: '法院代字（URL 编码）/ the court’s code, URL-encoded, e.g. %E4%BA%AC0105 for 京0105' }),
    organizationId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: '调解组织标识 / the organization’s id' }),
  },
  { additionalProperties: false },
)

const RULES =
  '特邀调解名册由法院维护（contract §5）：法院（代字相符）或运维可调用，其他法院 → 403 out_of_scope，调解平台 → 403 forbidden；组织不存在 → 404；' +
  '法院代字格式不正确 → 400 invalid_court_code。PUT/DELETE 本身幂等，无需 Idempotency-Key；名册确有变化时组织的 version 与 updatedAt 随之更新，' +
  '结果见该组织的 rosters.courtSpecial。\n\n' +
  'The special roster is the court’s: the court with that code, or an operator (another court → 403 out_of_scope, mediation → 403 forbidden); ' +
  'unknown organization → 404; malformed court code → 400 invalid_court_code. Idempotent by nature, no Idempotency-Key; when the roster changes ' +
  'the organization’s version and updatedAt move, and its rosters.courtSpecial shows the result.'

/** A court's special roster (特邀调解名册): the court puts organizations on it and takes them off (contract §5 v1.1). */
const courtRostersPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  for (const method of ['PUT', 'DELETE'] as const) {
    const on = method === 'PUT'
    app.route({
      method,
      url: '/v1/courts/:courtCode/special-roster/:organizationId',
      config: { roles: ['court', 'operator'] },
      schema: {
        tags: ['organizations'],
        summary: on
          ? '将调解组织列入本院特邀调解名册 / Put an organization on the court’s special roster'
          : '将调解组织移出本院特邀调解名册 / Take an organization off the court’s special roster',
        description: RULES,
        querystring: NoQuery,
        params: RosterParams,
        response: {
          204: Type.Null({ description: on ? '已列入（或已在名册中）/ on the roster' : '已移出（或本不在名册中）/ off the roster' }),
          ...errorResponses(404),
        },
      },
      handler: async (req, reply) => {
        const { courtCode, organizationId } = req.params
        if (!mayManageCourtRoster(req.principal, courtCode)) throw outOfScope('只能维护本院的特邀调解名册')
        const org = await setOnCourtRoster(deps.db, organizationId, courtCode, on)
        if (!org) throw notFound('调解组织')
        return reply.code(204).send(null)
      },
    })
  }
}

export default courtRostersPlugin
