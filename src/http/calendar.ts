import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { completeRecomputation, resumeRecomputations } from '../cases/calendar-recompute.js'
import { validateArrangement } from '../domain/calendar.js'
import { validationFailed, type FieldError } from '../domain/errors.js'
import type { AppDeps } from './app-deps.js'
import { errorResponses } from './common-schemas.js'

/** No query parameters: an unknown one is a 400 (contract §1). */
const NoQuery = Type.Object({}, { additionalProperties: false })

/**
 * Exactly four digits, 2000–2100: a path segment is text, so `1e3` or `01999` must not be coerced into a year
 * (they answer 400 validation_failed at `/year`).
 */
const YearParam = Type.Object(
  { year: Type.String({ pattern: '^[0-9]{4}$', 'x-check': 'calendarYear', description: '公历年份，四位数字 2000–2100 / year, four digits, 2000–2100' }) },
  { additionalProperties: false },
)

const DateList = (description: string) => Type.Array(Type.String({ maxLength: 10 }), { maxItems: 366, description })

const ArrangementBody = Type.Object(
  {
    holidays: DateList('放假日（YYYY-MM-DD，均须在该年内）/ days off, all in that year'),
    workdays: DateList('调休上班日（周末上班）/ make-up working days'),
  },
  {
    additionalProperties: false,
    examples: [
      {
        holidays: ['2027-01-01', '2027-02-05', '2027-02-06', '2027-02-07', '2027-02-08', '2027-02-09', '2027-02-10', '2027-02-11', '2027-02-12'],
        workdays: ['2027-02-14', '2027-02-20'],
      },
    ],
  },
)

const YearView = Type.Object(
  {
    year: Type.Integer(),
    holidays: Type.Array(Type.String(), { description: '放假日，升序 / days off, sorted' }),
    workdays: Type.Array(Type.String(), { description: '调休上班日，升序 / make-up working days, sorted' }),
    provisional: Type.Boolean({ description: '尚无国务院安排、按《全国年节及纪念日放假办法》法定日推定 / statutory fallback, no published arrangement' }),
  },
  { examples: [{ year: 2026, holidays: ['2026-01-01', '2026-01-02', '2026-01-03'], workdays: ['2026-01-04'], provisional: false }] },
)

/**
 * `validateArrangement` problems → `errors[]` entries with a JSON-pointer path to the offending date and a code
 * per kind of problem.
 */
function toFieldErrors(problems: string[], body: { holidays: string[]; workdays: string[] }): FieldError[] {
  return problems.map((message) => {
    const at = /^(holidays|workdays)\[(\d+)\]:/.exec(message)
    if (at) {
      const code = message.includes('is not a YYYY-MM-DD date') ? 'invalid_date' : message.includes('is listed twice') ? 'duplicate_date' : 'wrong_year'
      return { path: `/${at[1]}/${at[2]}`, code, message }
    }
    const both = /^(\S+) is both a holiday and a make-up working day/.exec(message)
    if (both) return { path: `/workdays/${body.workdays.indexOf(both[1])}`, code: 'conflicting_date', message }
    return { path: '', code: 'invalid_value', message }
  })
}

/**
 * How long a PUT may stay silent while it recomputes open cases (the server's idle socket timeout is 60 s). A client
 * that gives up earlier loses nothing: the recomputation goes on, and the same PUT again waits for it.
 */
const RECOMPUTE_SOCKET_TIMEOUT_MS = 30 * 60_000

const calendarPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const recompute = { db: deps.db, calendar: deps.calendar, afterCommit: deps.afterCommit, logger: deps.logger.child({ component: 'calendar' }) }
  // A recomputation a crash or a shutdown left unfinished resumes once the service is up (not holding up its start),
  // and stops at the next batch when it closes.
  const closing = new AbortController()
  let resuming: Promise<void> | undefined
  app.addHook('onReady', async () => {
    resuming = resumeRecomputations(recompute, { signal: closing.signal }).catch((err: unknown) =>
      recompute.logger.warn({ err: { message: (err as Error).message } }, 'calendar recomputation not resumed; the next PUT of the year resumes it'),
    )
  })
  app.addHook('onClose', async () => {
    closing.abort()
    await resuming
  })

  app.get(
    '/v1/calendar/:year',
    {
      config: { roles: ['court', 'mediation', 'operator'] },
      schema: {
        tags: ['calendar'],
        summary: '查询法定节假日安排 / Get a year’s calendar',
        description:
          '期限计算所用的放假日与调休上班日。已公布年份取国务院安排（随服务发布，或经 PUT 更新）；其他年份按《全国年节及纪念日放假办法》法定假日推定，' +
          '含第六条补假（法定假日逢周六、周日的，在该假日之后第一个非放假的工作日补假），provisional 为 true，且无调休。' +
          '既无国务院安排、又超出法定节假日农历数据年份（至 2036 年）的年份无法推定，答 422 calendar_unavailable。' +
          '\n\nThe days off and make-up working days every deadline uses: the State Council arrangement where published (shipped or PUT), otherwise the ' +
          'statutory days with provisional: true, including 补假 (art. 6: each statutory day on a Saturday or Sunday adds a day off on the first working ' +
          'day after that holiday not already off). A year with neither an arrangement nor lunar data (after 2036) answers 422 calendar_unavailable.',
        querystring: NoQuery,
        params: YearParam,
        response: { 200: YearView, ...errorResponses(422) },
      },
    },
    async (req) => {
      const cal = await deps.calendar.get()
      return cal.yearInfo(Number(req.params.year))
    },
  )

  app.put(
    '/v1/calendar/:year',
    {
      config: { roles: ['operator'] },
      schema: {
        tags: ['calendar'],
        summary: '更新年度放假安排 / Publish a year’s arrangement',
        description:
          '运维录入国务院公布的该年放假与调休安排，整体替换该年已有安排，立即用于此后计算的期限。日期须为该年内的有效日期，不得重复，' +
          '同一日不能既放假又上班，否则 400 validation_failed 并逐项列出。' +
          '随后重算期限用到该年的全部未办结案件（待受理的受理期限、调解中或中止中的调解期限、审查中的司法确认审查期限及第 15 日审查目标日、已裁定的当事人异议期限）：期限只会推后，新日历算出更早的日期时原日期不变；' +
          '期限变动的案件版本号加一，各记一条 referral.deadlines_changed 或 confirmation.deadlines_changed 事件 { before, after, calendarYear }，定时器随之调整。' +
          '重算提交后才应答；中途中断的重算在服务下次启动或再次 PUT 时接续。PUT 本身幂等，无需 Idempotency-Key：同一安排再次 PUT 不再变动任何案件。\n\n' +
          'Operator only: replaces the year’s days off and make-up working days, effective at once for deadlines computed afterwards. Each bad date is named ' +
          'in errors[] (400 validation_failed). Then every open case whose running due date (acceptance, mediation, review and its day-15 target, a ruling’s objection window) used the year is ' +
          'recomputed: a date only moves later; each case that changes gets a new version and one *.deadlines_changed event { before, after, ' +
          'calendarYear }, and its timer follows. The PUT answers once that is committed; an interrupted recomputation resumes at the next start or PUT.',
        querystring: NoQuery,
        params: YearParam,
        body: ArrangementBody,
        response: { 200: YearView, ...errorResponses() },
      },
    },
    async (req) => {
      const year = Number(req.params.year)
      const arr = { holidays: req.body.holidays, workdays: req.body.workdays }
      const problems = validateArrangement(year, arr)
      if (problems.length) throw validationFailed(toFieldErrors(problems, arr), '放假安排未通过校验')
      const generation = await deps.calendar.put(year, arr)
      // (Injected requests have no real socket.)
      if (typeof req.raw.socket?.setTimeout === 'function') req.raw.socket.setTimeout(RECOMPUTE_SOCKET_TIMEOUT_MS)
      const summary = await completeRecomputation(recompute, year, generation, { concurrency: recomputeConcurrency(deps.config.databasePoolSize) })
      req.log.info({ recomputation: summary }, 'calendar year put')
      const cal = await deps.calendar.get()
      return cal.yearInfo(year)
    },
  )
}

/** Case transactions in flight during a recomputation: a few, leaving the pool room for the lock and the requests. */
function recomputeConcurrency(poolSize: number): number {
  return Math.max(1, Math.min(4, poolSize - 3))
}

export default calendarPlugin
