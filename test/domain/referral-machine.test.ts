import t from 'tap'
import { type Actor, decideTransition, REFERRAL_STATUSES, type ReferralAction, type ReferralStatus, TRANSITIONS } from '../../src/domain/referral-machine.js'

/**
 * The whole table of contract §2, written out independently of TRANSITIONS: for every (state, action, actor,
 * referral type) the expected outcome. Anything not listed here must be refused.
 */
const ALLOWED: Array<[ReferralStatus | 'none', ReferralAction, Actor, ReferralStatus, ('pre_filing' | 'in_litigation')?]> = [
  ['none', 'create', 'court', 'referred'],
  ['referred', 'accept', 'mediation', 'mediating'],
  ['referred', 'decline', 'mediation', 'declined'],
  ['referred', 'acceptance_timeout', 'system', 'declined'],
  ['declined', 'redesignate', 'court', 'referred'],
  ['referred', 'recall', 'court', 'recalled'],
  ['declined', 'recall', 'court', 'recalled'],
  ['referred', 'assign', 'mediation', 'referred'],
  ['mediating', 'suspend', 'mediation', 'suspended'],
  ['suspended', 'resume', 'mediation', 'mediating'],
  ['mediating', 'extend', 'mediation', 'mediating'],
  ['mediating', 'record_agreement', 'mediation', 'agreed'],
  ['mediating', 'terminate', 'mediation', 'terminated'],
  ['suspended', 'terminate', 'mediation', 'terminated'],
  ['mediating', 'mediation_timeout', 'system', 'terminated'],
  ['terminated', 'return_materials', 'mediation', 'materials_returned'],
  ['materials_returned', 'register_case', 'court', 'case_registered', 'pre_filing'],
  ['materials_returned', 'resume_trial', 'court', 'trial_resumed', 'in_litigation'],
  ['declined', 'register_case', 'court', 'case_registered', 'pre_filing'],
  ['declined', 'resume_trial', 'court', 'trial_resumed', 'in_litigation'],
  ['recalled', 'register_case', 'court', 'case_registered', 'pre_filing'],
  ['recalled', 'resume_trial', 'court', 'trial_resumed', 'in_litigation'],
  ['agreed', 'close', 'court', 'closed'],
  ['agreed', 'report_performance', 'mediation', 'agreed'],
  ['closed', 'report_performance', 'mediation', 'closed'],
]

const ACTIONS = [...new Set(TRANSITIONS.map((r) => r.action))]
const ACTORS: Actor[] = ['court', 'mediation', 'operator', 'system']
const STATES: Array<ReferralStatus | 'none'> = ['none', ...REFERRAL_STATUSES]

t.test('every (state, action, actor, type) pair', async (t) => {
  let rows = 0
  for (const type of ['pre_filing', 'in_litigation'] as const) {
    for (const status of STATES) {
      for (const action of ACTIONS) {
        for (const by of ACTORS) {
          rows++
          const allowed = ALLOWED.find(([s, a, b, , onlyType]) => s === status && a === action && b === by && (!onlyType || onlyType === type))
          const d = decideTransition(status, action, by, type)
          if (allowed) {
            t.same(d, { ok: true, to: allowed[3], event: d.ok ? d.event : '' }, `${type} ${status} ${action} by ${by} → ${allowed[3]}`)
          } else {
            const mayEver = ALLOWED.some(([, a, b]) => a === action && b === by)
            t.same(d, { ok: false, reason: mayEver ? 'illegal_transition' : 'forbidden' }, `${type} ${status} ${action} by ${by} refused`)
          }
        }
      }
    }
  }
  t.equal(rows, 2 * STATES.length * ACTIONS.length * ACTORS.length)
})

t.test('event types follow contract §4', async (t) => {
  const events = new Set(TRANSITIONS.map((r) => r.event))
  for (const e of events)
    t.match(
      e,
      /^referral\.(created|accepted|declined|redesignated|assigned|suspended|resumed|extended|agreement_recorded|terminated|materials_returned|case_registered|trial_resumed|closed|performance_reported|recalled)$/,
    )
  t.equal(events.size, 16, 'all sixteen referral event types are produced')
})
