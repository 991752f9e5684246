import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type, { type Static } from 'typebox'
import { toEnvelope } from '../db/event-repository.js'
import { FEED_START, readFeed, type FeedCursor } from '../db/event-scope.js'
import { fieldInvalid } from '../domain/errors.js'
import type { AppDeps } from './app-deps.js'
import { errorResponses } from './common-schemas.js'
import { CursorQuery, LimitQuery } from '../schemas/common.js'
import { EventEnvelopeSchema } from '../schemas/events.js'
import { decodeCursor, DEFAULT_LIMIT, encodeCursor } from './pagination.js'
import { EVENT_TYPES } from '../schemas/events.js'

const READERS = ['court', 'mediation', 'operator'] as const

const FeedPage = Type.Object({
  items: Type.Array(EventEnvelopeSchema),
  nextCursor: Type.String({
    description: '总是字符串：末尾时 items 为空，游标即续读位置 / always a string: at the end items is empty and the cursor is the resume point',
  }),
})

/** `after` absent → the start of the feed. Its transaction id (xid8) could exceed a bigint only after ~2³¹ wraparounds. */
function parseAfter(after: string | undefined): FeedCursor {
  const c = decodeCursor(after, { t: 'decimalString', p: 'decimalString' }, 'after')
  return c ? { txid: c.t, pos: c.p } : FEED_START
}

function parseTypes(types: string | undefined): string[] | undefined {
  if (types === undefined) return undefined
  const list = types
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  const unknown = list.filter((t) => !(EVENT_TYPES as readonly string[]).includes(t))
  if (!list.length || unknown.length) throw fieldInvalid('/types', 'unknown_event_type', `未知的事件类型：${unknown.join(', ') || '(空)'}`)
  return list
}

const eventsPlugin: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  app.get(
    '/v1/events',
    {
      config: { roles: READERS },
      schema: {
        tags: ['events'],
        summary: '事件拉取（对账）/ Pull feed of events (reconciliation)',
        description:
          '调用方可读的全部事件；无 after 时从第一条开始。游标不会跳过晚提交的事务写入的事件：只返回早于当前快照 xmin 的事务写入的事件，按（事务号，位置）排序，' +
          '因此仍在进行中的事务之后的事件会稍后出现，但绝不会被越过。nextCursor 总是字符串；到末尾时 items 为空，游标保持为续读位置。types 为逗号分隔的事件类型。' +
          ' Every event the caller may read, from the first when `after` is absent. Only events of transactions older than every running one are served, ordered by ' +
          '(transaction id, position), so an event whose transaction commits late appears later but is never skipped. nextCursor is always a string; at the end items ' +
          'is empty and the cursor stays the resume point. `types` is a comma-separated list.',
        querystring: Type.Object(
          {
            after: Type.Optional(CursorQuery),
            types: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, examples: ['referral.accepted,referral.closed'] })),
            limit: Type.Optional(LimitQuery),
          },
          { additionalProperties: false },
        ),
        response: { 200: FeedPage, ...errorResponses() },
      },
    },
    async (req) => {
      const after = parseAfter(req.query.after)
      const types = parseTypes(req.query.types)
      const limit = req.query.limit ?? DEFAULT_LIMIT
      const rows = await readFeed(deps.db, req.principal, after, types, limit)
      const last = rows[rows.length - 1]
      const next = last ? { t: String(last.txid), p: String(last.pos) } : { t: after.txid, p: after.pos }
      return { items: rows.map(toEnvelope) as Array<Static<typeof EventEnvelopeSchema>>, nextCursor: encodeCursor(next) }
    },
  )
}

export default eventsPlugin
