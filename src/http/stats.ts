import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { computeStats, countOverdueConfirmations, hasConfirmations, readStatsRollup, STATS_GROUPINGS } from '../db/stats-repository.js'
import { addCalendarDays, daysBetween, endOfShanghaiDay, shanghaiDate, startOfShanghaiDay } from '../domain/calendar.js'
import { businessRule, fieldInvalid } from '../domain/errors.js'
import type { AppDeps } from './app-deps.js'
import { errorResponses } from './common-schemas.js'
import { Nullable, StringEnum } from '../schemas/common.js'

/** Contract §5: the default period is the last 30 days, today included. */
const DEFAULT_DAYS = 30
/** A longer period is refused: ten years of referrals is already the whole history of the 总对总 link. */
const MAX_DAYS = 3660

const Rate = Nullable(
  Type.Number({ minimum: 0, maximum: 1, description: '0–1，保留 4 位小数；分母为 0 时为 null / rounded to 4 decimals, null when undefined' }),
)
const Count = Type.Integer({ minimum: 0 })

const GroupView = Type.Object({
  key: Type.String({ description: '分组键：法院代字、组织标识、纠纷类型、6 位区划代码或 YYYY-MM / the group' }),
  referrals: Type.Integer({ minimum: 0, description: '期间内创建的委派案件数 / referrals created in the period' }),
  accepted: Type.Integer({ minimum: 0, description: '曾被受理 / reached accepted' }),
  declined: Type.Integer({ minimum: 0, description: '曾被不予接受（含超时）/ reached declined (timeouts included)' }),
  agreed: Type.Integer({ minimum: 0, description: '曾达成协议 / reached an agreement' }),
  terminated: Type.Integer({ minimum: 0, description: '曾调解终结（含超期）/ reached termination' }),
  successRate: Rate,
  performanceReported: Type.Integer({ minimum: 0, description: '有履行回访的协议数 / agreements with a performance report' }),
  performed: Type.Integer({ minimum: 0, description: '最新回访为已履行 / latest report: performed' }),
  autoPerformanceRate: Rate,
  medianDaysToOutcome: Nullable(Type.Number({ description: '受理至协议或终结的天数中位数 / median days acceptance → outcome' })),
  litigatedAfterFailure: Type.Integer({ minimum: 0, description: '调解不成后登记立案或恢复审理 / case_registered + trial_resumed' }),
  confirmationsApplied: Type.Integer({ minimum: 0, description: '申请司法确认 / confirmation applications' }),
  confirmationsRuledValid: Type.Integer({ minimum: 0, description: '裁定协议有效 / ruled valid' }),
  confirmationsOverdue: Type.Integer({ minimum: 0, description: '审查超期（今日）/ under review past the due date, today' }),
  openReferrals: Type.Integer({ minimum: 0, description: '尚未办结（今日）/ still open today' }),
  openReferralMedianAgeDays: Nullable(Type.Number({ description: '未办结案件自委派起的天数中位数 / median age of the open ones, days' })),
  openReferralMaxAgeDays: Nullable(Type.Integer({ description: '未办结案件的最长天数 / oldest open one, days' })),
})

const StatsView = Type.Object(
  {
    from: Type.String({ format: 'date' }),
    to: Type.String({ format: 'date' }),
    groupBy: StringEnum(STATS_GROUPINGS),
    asOf: Type.String({ format: 'date', description: '未办结与超期数据的截止日（今日）/ the day open and overdue figures refer to' }),
    groups: Type.Array(GroupView),
    overdueConfirmations: Count,
  },
  {
    examples: [
      {
        from: '2026-10-31',
        to: '2026-11-29',
        groupBy: 'court',
        asOf: '2026-11-29',
        groups: [
          {
            key: '京0105',
            referrals: 120,
            accepted: 110,
            declined: 12,
            agreed: 70,
            terminated: 30,
            successRate: 0.7,
            performanceReported: 40,
            performed: 36,
            autoPerformanceRate: 0.9,
            medianDaysToOutcome: 12.5,
            litigatedAfterFailure: 18,
            confirmationsApplied: 9,
            confirmationsRuledValid: 7,
            confirmationsOverdue: 1,
            openReferrals: 20,
            openReferralMedianAgeDays: 9,
            openReferralMaxAgeDays: 28,
          },
        ],
        overdueConfirmations: 1,
      },
    ],
  },
)

const statsPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  app.get(
    '/v1/stats',
    {
      config: { roles: ['court', 'mediation', 'operator'] },
      schema: {
        tags: ['stats'],
        summary: '统计 / Statistics',
        description:
          '统计对象为期间内（from–to，上海时间日期，含两端；缺省为今日起倒推 30 日）创建、且调用方可读的委派案件：法院为本院案件，调解平台为其组织办理过的案件，运维为全部。' +
          '各计数为曾达到该结果的案件数，不论其后如何（终结后又登记立案的仍计入终结）；超时不予接受计入 declined，超期终结计入 terminated。' +
          'successRate = agreed / (agreed + terminated)；autoPerformanceRate = performed / performanceReported（以最新一次回访为准）；' +
          'medianDaysToOutcome 为受理日至协议或终结日（上海时间日期）的天数中位数；litigatedAfterFailure = case_registered + trial_resumed；' +
          'confirmationsApplied / RuledValid 为这些案件的司法确认申请数 / 裁定有效数。比率取 0–1、四舍五入保留 4 位小数，分母为 0 时为 null。' +
          'groupBy：court（法院代字）、disputeType、month（创建月份，上海时间）、organization、region（调解组织 6 位区划代码）；缺省 court。' +
          '按 organization 或 region 分组时，案件按办理过它的每个组织各计一次，各结果计入达到该结果时办理该案的组织（或其区域），故各组之和可能大于案件总数。' +
          'regionCode 按调解组织所在区域筛选（2、4、6 位前缀）；courtCode 对法院须为本院代字（否则 422 court_code_not_allowed）。' +
          '另附今日快照：各组未办结案件数及其自委派起的天数（中位数、最大），审查超期的司法确认数；overdueConfirmations 为调用方范围内全部超期审查的申请数（含非委派案件的申请，不受期间限制）。\n\n' +
          'Counts referrals created in the period (Asia/Shanghai dates, both ends included; default the last 30 days) that the caller may read, by whether they ' +
          'ever reached each outcome. Rates are rounded to 4 decimals, null when the denominator is 0. organization/region groups count a referral once per ' +
          'organization that held it, each outcome for the organization holding the case when it was reached. Also: open referrals and their age, overdue reviews.',
        querystring: Type.Object(
          {
            from: Type.Optional(Type.String({ 'x-check': 'date', description: '起始日（含）YYYY-MM-DD' })),
            to: Type.Optional(Type.String({ 'x-check': 'date', description: '截止日（含）YYYY-MM-DD' })),
            groupBy: Type.Optional(StringEnum(STATS_GROUPINGS, { default: 'court' })),
            courtCode: Type.Optional(Type.String({ 'x-check': 'courtCode' })),
            regionCode: Type.Optional(Type.String({ 'x-check': 'regionPrefix', description: '调解组织所在区域 / region of the mediation organization' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: StatsView, ...errorResponses(422) },
      },
    },
    async (req) => {
      const q = req.query
      const p = req.principal
      const today = shanghaiDate(new Date())
      const to = q.to ?? today
      const from = q.from ?? addCalendarDays(to, -(DEFAULT_DAYS - 1))
      if (daysBetween(from, to) < 0) throw fieldInvalid('/from', 'invalid_range', 'from 不能晚于 to')
      if (daysBetween(from, to) >= MAX_DAYS) throw fieldInvalid('/from', 'invalid_range', `统计期间不能超过 ${MAX_DAYS} 日`)
      if (q.courtCode && p.role === 'court' && !p.courtCodes.includes(q.courtCode)) {
        throw businessRule('court_code_not_allowed', '调用方无权查询该法院的统计')
      }
      const groupBy = q.groupBy ?? 'court'
      const withConfirmations = await hasConfirmations(deps.db)
      const query = { start: startOfShanghaiDay(from), end: endOfShanghaiDay(to), today, groupBy, courtCode: q.courtCode, regionCode: q.regionCode }
      // The rollup answers every whole-day period (all of them here); the direct count stays as the reference.
      const groups = (await readStatsRollup(deps.db, p, query)) ?? (await computeStats(deps.db, p, query, withConfirmations))
      const overdueConfirmations = withConfirmations
        ? await countOverdueConfirmations(deps.db, p, today, { courtCode: q.courtCode, regionCode: q.regionCode })
        : 0
      return { from, to, groupBy, asOf: today, groups, overdueConfirmations }
    },
  )
}

export default statsPlugin
