import t from 'tap'
import type { Role } from '../../src/domain/principal.js'
import { maskPersonalDataInText } from '../../src/domain/personal-data.js'
import {
  acknowledgementDue,
  decideWarning,
  overdueDue,
  type WarningAction,
  type WarningState,
  type WarningStatus,
  WARNING_STATUSES,
} from '../../src/domain/warning.js'

/**
 * The warning lifecycle of contract §5 v1.1, written out independently of the code: for every (status, action,
 * actor) with a warning raised by either side, the expected outcome. Anything not listed is refused; a refusal is
 * `forbidden` when the actor's side may never take the action, `illegal_transition` otherwise.
 */
type Side = 'raising' | 'other' | 'operator' | 'system'
const ALLOWED: Array<[WarningStatus, WarningAction, Side, WarningStatus, string]> = [
  ['raised', 'acknowledge', 'other', 'acknowledged', 'warning.acknowledged'],
  ['raised', 'follow_up', 'raising', 'raised', 'warning.followed_up'],
  ['raised', 'follow_up', 'other', 'raised', 'warning.followed_up'],
  ['acknowledged', 'follow_up', 'raising', 'acknowledged', 'warning.followed_up'],
  ['acknowledged', 'follow_up', 'other', 'acknowledged', 'warning.followed_up'],
  ['raised', 'close', 'raising', 'closed', 'warning.closed'],
  ['acknowledged', 'close', 'raising', 'closed', 'warning.closed'],
  ['raised', 'mark_overdue', 'system', 'raised', 'warning.overdue'],
]
/** Which side may ever take each action. */
const SIDES: Record<WarningAction, Side[]> = {
  acknowledge: ['other'],
  follow_up: ['raising', 'other'],
  close: ['raising'],
  mark_overdue: ['system'],
}
const ACTIONS: WarningAction[] = ['acknowledge', 'follow_up', 'close', 'mark_overdue']

const state = (status: WarningStatus, raiser: 'court' | 'mediation', over: Partial<WarningState> = {}): WarningState => ({
  status,
  raisedBy: { role: raiser },
  acknowledgementDueAt: new Date('2026-12-06T10:00:00Z'),
  overdueAt: null,
  ...over,
})
const actorOf = (side: Side, raiser: 'court' | 'mediation'): Role | 'system' =>
  side === 'raising' ? raiser : side === 'other' ? (raiser === 'court' ? 'mediation' : 'court') : side

t.test('every (status, action, side) pair, for warnings raised by either side', async (t) => {
  let allowed = 0
  for (const raiser of ['court', 'mediation'] as const) {
    for (const status of WARNING_STATUSES) {
      for (const action of ACTIONS) {
        for (const side of ['raising', 'other', 'operator', 'system'] as const) {
          const got = decideWarning(state(status, raiser), action, actorOf(side, raiser))
          const row = ALLOWED.find(([s, a, by]) => s === status && a === action && by === side)
          const label = `${raiser}'s warning, ${status}: ${action} by ${side}`
          if (row) {
            allowed++
            t.same(got, { ok: true, to: row[3], event: row[4] }, label)
          } else {
            t.same(got, { ok: false, reason: SIDES[action].includes(side) ? 'illegal_transition' : 'forbidden' }, label)
          }
        }
      }
    }
  }
  t.equal(allowed, ALLOWED.length * 2, 'every allowed row was met, for both raising roles')
  t.same(
    decideWarning(state('raised', 'court', { overdueAt: new Date() }), 'mark_overdue', 'system'),
    { ok: false, reason: 'illegal_transition' },
    'marked once',
  )
})

t.test('due times and the overdue test', async (t) => {
  const at = new Date('2026-12-06T00:00:00Z')
  t.equal(acknowledgementDue('red', at).toISOString(), '2026-12-06T02:00:00.000Z')
  t.equal(acknowledgementDue('orange', at).toISOString(), '2026-12-06T12:00:00.000Z')
  t.equal(acknowledgementDue('yellow', at).toISOString(), '2026-12-07T00:00:00.000Z')
  const w = state('raised', 'court')
  t.notOk(overdueDue(w, new Date('2026-12-06T09:59:59.999Z')), 'not before the due time')
  t.ok(overdueDue(w, new Date('2026-12-06T10:00:00Z')), 'at the due time')
  t.notOk(overdueDue(state('acknowledged', 'court'), new Date('2026-12-07T00:00:00Z')), 'acknowledged: never')
  t.notOk(overdueDue(state('closed', 'court'), new Date('2026-12-07T00:00:00Z')), 'closed: never')
  t.notOk(overdueDue(state('raised', 'court', { overdueAt: new Date() }), new Date('2026-12-07T00:00:00Z')), 'already marked: never again')
})

t.test('free text is masked for ID and mobile numbers only', async (t) => {
  t.equal(maskPersonalDataInText('身份证 110105198001010011，电话 13812345678。'), '身份证 110***********0011，电话 138****5678。')
  t.equal(maskPersonalDataInText('x 11010519800101001X y'), 'x 110***********001X y')
  const plain = '工资 12000 元，案号（2026）京0105民诉前调123号，id 0195f0c3-1234-7000-8000-138123456789'
  t.equal(maskPersonalDataInText(plain), plain, 'amounts, case numbers and UUIDs stay')
  t.equal(maskPersonalDataInText(''), '')
})
