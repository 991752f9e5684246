import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { routingCandidates } from '../db/routing-repository.js'
import { businessRule, fieldInvalid } from '../domain/errors.js'
import { courtRegion } from '../domain/identifiers.js'
import { disputeCategory, rankOrganizations, REASON_CODES } from '../domain/routing.js'
import type { AppDeps } from './app-deps.js'
import { errorResponses } from './common-schemas.js'
import { Nullable, StringEnum } from '../schemas/common.js'
import { DISPUTE_TYPES } from '../schemas/referrals.js'

const ReasonView = Type.Object({
  code: StringEnum(REASON_CODES, { description: '稳定的理由代码 / stable reason code' }),
  text: Type.String({ description: '中文说明 / explanation (Chinese)' }),
})

const SuggestionView = Type.Object({
  organizationId: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  regionCode: Type.String(),
  staffingCompliant: Type.Boolean(),
  designationModes: Type.Array(StringEnum(['court_designated', 'party_selected'] as const), {
    description: '可用的委派方式：court_designated（本院或高院特邀名册）、party_selected（司法部名册）/ how it may be designated',
  }),
  rank: Type.Integer({ minimum: 1, description: '1 为最优 / 1 = best' }),
  reasons: Type.Array(ReasonView),
})

const SuggestionsView = Type.Object(
  {
    courtCode: Type.String(),
    disputeType: Type.String(),
    category: StringEnum(['specialised', 'basic', 'general'] as const, { description: '纠纷类别：行业专业性 / 基层常见 / 其他' }),
    regionCode: Nullable(Type.String({ description: '据以排序的区域（默认法院所在区域）/ the region ranked for (default: the court’s)' })),
    items: Type.Array(SuggestionView),
  },
  {
    examples: [
      {
        courtCode: '京0105',
        disputeType: 'medical',
        category: 'specialised',
        regionCode: '110105',
        items: [
          {
            organizationId: 'bj-medical',
            name: '北京市医疗纠纷人民调解委员会',
            kind: 'industry_committee',
            regionCode: '110000',
            staffingCompliant: true,
            designationModes: ['court_designated', 'party_selected'],
            rank: 1,
            reasons: [
              { code: 'industry_committee_for_type', text: '行业性专业性人民调解委员会，受理此类纠纷（medical）' },
              { code: 'region_level_covers', text: '省级调解组织（110000），辖区覆盖纠纷所在区域' },
            ],
          },
        ],
      },
    ],
  },
)

const routingPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  app.get(
    '/v1/routing/suggestions',
    {
      config: { roles: ['court', 'operator'] },
      schema: {
        tags: ['organizations'],
        summary: '在线分流：推荐调解组织 / Routing suggestions',
        description:
          '按纠纷类型与区域为法院排序推荐调解组织（意见 四(三) 在线分流）。仅含启用的、法院可指定（本院或所属高院特邀调解名册）或当事人可选择（司法部名册）的组织。' +
          '行业专业性纠纷（医疗、道路交通、劳动争议、物业、消费、金融、保险、知识产权、环境污染、旅游、新业态）：受理该类纠纷的行业性专业性调解委员会优先；' +
          '基层常见纠纷（婚姻家庭、邻里、房屋宅基地、山林土地）：纠纷所在地的乡镇（街道）、村（居）调解委员会优先；其他纠纷：登记受理该类纠纷的本地组织优先。' +
          '同一档次内专职调解员配备达标者（行业性 ≥ 3、乡镇 ≥ 2）优先，其后依次为是否登记该类纠纷、区域远近（区县、地市级、省级组织）、名称。' +
          '省级（PP0000）、地市级（PPCC00）组织覆盖其下辖区县；区域外的组织仅在列入本院或高院特邀名册时出现。regionCode 缺省为法院所在区域；' +
          'courtCode 须为调用方法院之一（否则 422 court_code_not_allowed），仅有一个法院代字的法院可省略。最多返回 limit 条（默认 50）。\n\n' +
          'Organizations ranked for a court, a dispute type and a region, each with stable reason codes. Only active organizations the court may ' +
          'designate (its own or its high court’s special roster) or the parties may choose (ministry roster). Specialised types: industry committees ' +
          'listing the type first; basic types: local township/village committees first; within a tier staffing-compliant ones first, then type listed, ' +
          'closeness, name. Out-of-region organizations appear only when on the court’s special roster.',
        querystring: Type.Object(
          {
            courtCode: Type.Optional(Type.String({ 'x-check': 'courtCode', description: '法院代字 / court code' })),
            disputeType: StringEnum(DISPUTE_TYPES),
            regionCode: Type.Optional(Type.String({ 'x-check': 'regionPrefix', description: '纠纷所在区域（2/4/6 位）/ where the dispute is' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50, description: '返回条数 1–200 / how many' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: SuggestionsView,
          ...errorResponses(422),
        },
      },
    },
    async (req) => {
      const q = req.query
      const p = req.principal
      let courtCode = q.courtCode
      if (courtCode === undefined) {
        if (p.role === 'court' && p.courtCodes.length === 1) courtCode = p.courtCodes[0]
        else throw fieldInvalid('/courtCode', 'required', '须指定 courtCode')
      }
      if (p.role === 'court' && !p.courtCodes.includes(courtCode)) {
        throw businessRule('court_code_not_allowed', '调用方无权以该法院代字查询分流建议')
      }
      const region = q.regionCode ?? courtRegion(courtCode)
      const candidates = await routingCandidates(deps.db, courtCode, region)
      const items = rankOrganizations({ courtCode, disputeType: q.disputeType, regionCode: region }, candidates).slice(0, q.limit ?? 50)
      return { courtCode, disputeType: q.disputeType, category: disputeCategory(q.disputeType), regionCode: region, items }
    },
  )
}

export default routingPlugin
