/**
 * One referral with its history, in the shape the service writes: the `referrals` row (doc with sealed parties,
 * deadlines from the legal calendar, status fields as each action route sets them), its hash-chained `events`
 * (masked referral view in data, read-scope columns of the holder at the time) and its `party_index` rows.
 *
 * The timeline follows the contract's state machine and is cut at "now": a case still open has its deadline in
 * the future, as it would in a live system whose timers had run (so the service's deadline sweep finds nothing).
 */
import { createHash } from 'node:crypto'
import { UUID } from 'uuidv7'
import { acceptanceDueOn, endOfShanghaiDay, mediationDueOn, shanghaiDate } from '../../dist/src/domain/calendar.js'
import { chainHash, GENESIS_HASH } from '../../dist/src/domain/event-chain.js'
import { maskedReferralView as maskedView } from '../../dist/src/domain/referral.js'
import { intakeDoc } from './shape.mjs'

const HOUR = 3600_000
const DAY = 24 * HOUR

/** Courts with their share of the cases and the organizations on their special roster. */
export const SCALE_COURTS = [
  { code: '京0105', weight: 0.22, region: '110105', prefix: 'bj-cy', orgs: 8 },
  { code: '京0101', weight: 0.08, region: '110101', prefix: 'bj-dc', orgs: 4 },
  { code: '京0102', weight: 0.08, region: '110102', prefix: 'bj-xc', orgs: 4 },
  { code: '京0106', weight: 0.1, region: '110106', prefix: 'bj-ft', orgs: 5 },
  { code: '京0108', weight: 0.14, region: '110108', prefix: 'bj-hd', orgs: 6 },
  { code: '沪0115', weight: 0.16, region: '310115', prefix: 'sh-pd', orgs: 7 },
  { code: '粤0604', weight: 0.07, region: '440604', prefix: 'gd-cc', orgs: 4 },
  { code: '粤0106', weight: 0.15, region: '440106', prefix: 'gd-th', orgs: 6 },
]

export function scaleOrganizations() {
  const out = []
  for (const c of SCALE_COURTS) {
    for (let i = 1; i <= c.orgs; i++) {
      out.push({
        id: `${c.prefix}-${String(i).padStart(2, '0')}`,
        name: `${c.code}特邀调解组织${i}号`,
        kind: i === 1 ? 'centre' : i % 3 === 0 ? 'industry_committee' : 'township_committee',
        regionCode: c.region,
        uscc: null,
        disputeTypes: ['neighbor', 'property_management', 'labor', 'contract', 'traffic', 'marriage_family', 'consumer', 'finance'],
        fullTimeMediators: 1 + (i % 4),
        rosters: { ministry: true, courtSpecial: [c.code] },
        active: true,
      })
    }
  }
  return out
}

/** Fixed client ids the seeded events name as actors (the scale run creates its real clients separately). */
export const SEED_ACTORS = {
  court: { clientId: '00000000-0000-7000-8000-00000000c001', role: 'court' },
  mediation: { clientId: '00000000-0000-7000-8000-00000000a001', role: 'mediation' },
}

const MEDIATORS = ['王调解', '李明', '张桂兰', '陈建国', '刘芳', '赵志强']

/**
 * A generator of referrals with history. `r` is a PRNG, `factory` a bodies factory (parties, claims),
 * `cal` a LegalCalendar, `cipher` the bench FieldCipher. Cases are created in time order between `from` and `to`.
 */
export function historyGenerator({ r, factory, cal, cipher, from, to, count }) {
  const orgsByCourt = new Map(SCALE_COURTS.map((c) => [c.code, scaleOrganizations().filter((o) => o.rosters.courtSpecial[0] === c.code)]))
  const regionOf = new Map(scaleOrganizations().map((o) => [o.id, o.regionCode]))
  const cumulative = []
  let acc = 0
  for (const c of SCALE_COURTS) cumulative.push([(acc += c.weight), c])
  const seqs = new Map()
  const now = to
  const span = to - from
  let i = 0

  const pickCourt = () => {
    const x = r() * acc
    return cumulative.find(([w]) => x < w)?.[1] ?? SCALE_COURTS[0]
  }
  const uuidAt = (ms) => UUID.fromFieldsV7(Math.floor(ms), Math.floor(r() * 0x1000), Math.floor(r() * 0x40000000), Math.floor(r() * 0x100000000)).toString()

  return function next() {
    const createdMs = from + (span * i++) / count + r() * (span / count)
    const created = new Date(createdMs)
    const court = pickCourt()
    const orgs = orgsByCourt.get(court.code)
    const inLitigation = r() < 0.2
    const procedure = inLitigation ? (r() < 0.6 ? 'ordinary' : 'summary') : undefined
    const year = Number(shanghaiDate(created).slice(0, 4))
    const type = inLitigation ? '民初' : '民诉前调'
    const key = `${court.code}|${year}|${type}`
    const seq = (seqs.get(key) ?? 0) + 1
    seqs.set(key, seq)
    const body = factory.next()
    let org = orgs[Math.floor(r() * orgs.length)].id
    const designation = { mode: r() < 0.85 ? 'court_designated' : 'party_selected', organizationId: org }
    const caseBody = {
      ...body,
      referralType: inLitigation ? 'in_litigation' : 'pre_filing',
      ...(procedure ? { procedure } : {}),
      courtCode: court.code,
      caseNumber: `（${year}）${court.code}${type}${seq}号`,
      designation,
    }
    const due = acceptanceDueOn(cal, shanghaiDate(created))
    const { doc, hashes } = intakeDoc(cipher, caseBody, { acceptanceDueOn: due.date, mediationDueOn: null, provisional: due.provisional })
    const id = uuidAt(createdMs)
    const ref = {
      id,
      version: 1,
      status: 'referred',
      referralType: caseBody.referralType,
      courtCode: court.code,
      caseNumber: caseBody.caseNumber,
      disputeType: caseBody.disputeType,
      organizationId: org,
      heldBy: [org],
      chainHead: GENESIS_HASH,
      doc,
      createdAt: created,
      updatedAt: created,
    }
    const events = []
    const emit = (type, at, actor) => {
      const version = ref.version + (events.length ? 1 : 0)
      if (events.length) ref.version = version
      ref.updatedAt = at
      const envelope = {
        id: uuidAt(at.getTime()),
        type,
        occurredAt: at.toISOString(),
        sequence: version,
        subject: { kind: 'referral', id },
        caseVersion: version,
        actor,
        data: { referral: maskedView(ref) },
      }
      const hash = chainHash(ref.chainHead, envelope)
      events.push({
        id: envelope.id,
        type,
        occurred_at: envelope.occurredAt,
        subject_kind: 'referral',
        subject_id: id,
        sequence: version,
        case_version: version,
        actor,
        data: envelope.data,
        court_code: court.code,
        organization_id: ref.organizationId,
        region_code: regionOf.get(ref.organizationId) ?? null,
        audience: 'case',
        prev_hash: ref.chainHead,
        hash,
      })
      ref.chainHead = hash
    }
    const court_ = SEED_ACTORS.court
    const med = SEED_ACTORS.mediation
    emit('referral.created', created, court_)

    // Acceptance or decline, within the acceptance deadline.
    const between = (a, b) => new Date(a.getTime() + r() * Math.max(0, b.getTime() - a.getTime()))
    let t = between(new Date(created.getTime() + HOUR / 2), new Date(endOfShanghaiDay(ref.doc.deadlines.acceptanceDueOn).getTime() - HOUR))
    const finish = () => ({ ref, events, hashes })
    if (t.getTime() > now) return finish()
    const decision = r()
    if (decision < 0.12) {
      const bySystem = decision < 0.04
      const at = bySystem ? endOfShanghaiDay(ref.doc.deadlines.acceptanceDueOn) : t
      if (at.getTime() > now) return finish()
      ref.status = 'declined'
      ref.doc = {
        ...ref.doc,
        decline: {
          reason: bySystem ? 'acceptance_timeout' : '本组织调解员不足，建议另行指定',
          declinedAt: at.toISOString(),
          by: bySystem ? 'system' : 'organization',
        },
      }
      emit('referral.declined', at, bySystem ? 'system' : med)
      // A third of the declined cases are redesignated to another organization of the same roster.
      if (r() < 0.67) return finish()
      const again = new Date(at.getTime() + DAY * (0.5 + r() * 2))
      if (again.getTime() > now) return finish()
      const other = orgs.filter((o) => o.id !== org)[Math.floor(r() * (orgs.length - 1))]?.id ?? org
      const due2 = acceptanceDueOn(cal, shanghaiDate(again))
      const { decline: _d, ...rest } = ref.doc
      void _d
      org = other
      ref.status = 'referred'
      ref.organizationId = other
      ref.heldBy = ref.heldBy.includes(other) ? ref.heldBy : [...ref.heldBy, other]
      ref.doc = {
        ...rest,
        designation: { mode: 'court_designated', organizationId: other },
        deadlines: { acceptanceDueOn: due2.date, mediationDueOn: null, provisional: due2.provisional },
      }
      emit('referral.redesignated', again, court_)
      t = between(new Date(again.getTime() + HOUR), new Date(endOfShanghaiDay(due2.date).getTime() - HOUR))
      if (t.getTime() > now) return finish()
    }

    // Accepted: the mediation clock starts.
    const mdue = mediationDueOn(cal, shanghaiDate(t), ref.referralType, procedure)
    ref.status = 'mediating'
    ref.doc = {
      ...ref.doc,
      mediator: { name: MEDIATORS[Math.floor(r() * MEDIATORS.length)], id: `M-${Math.floor(r() * 900) + 100}` },
      acceptedAt: t.toISOString(),
      deadlines: { acceptanceDueOn: ref.doc.deadlines.acceptanceDueOn, mediationDueOn: mdue.date, provisional: mdue.provisional },
    }
    emit('referral.accepted', t, med)
    const dueEnd = endOfShanghaiDay(mdue.date)
    const outcomeAt = between(new Date(t.getTime() + DAY), new Date(dueEnd.getTime() - HOUR))
    if (outcomeAt.getTime() > now) {
      // Still mediating; a few are suspended for an appraisal.
      if (r() < 0.03) {
        const s = between(new Date(t.getTime() + HOUR), new Date(now))
        ref.status = 'suspended'
        ref.doc = { ...ref.doc, suspension: { reason: 'appraisal', suspendedOn: shanghaiDate(s), suspendedAt: s.toISOString() } }
        emit('referral.suspended', s, med)
      }
      return finish()
    }
    const outcome = r()
    if (outcome < 0.62) {
      const terms = `双方当事人自愿达成如下协议：被申请人于${shanghaiDate(new Date(outcomeAt.getTime() + 15 * DAY))}前支付申请人${caseBody.claimAmount ?? '5000.00'}元，双方再无其他争议。`
      ref.status = 'agreed'
      ref.doc = {
        ...ref.doc,
        agreement: {
          form: 'written',
          terms,
          ...(caseBody.claimAmount ? { amount: caseBody.claimAmount } : {}),
          signatures: caseBody.parties.map((_, k) => ({ partyIndex: k, signedAt: outcomeAt.toISOString() })),
          effectiveAt: outcomeAt.toISOString(),
          performance: { method: r() < 0.7 ? 'immediate' : 'installments' },
          sha256: createHash('sha256').update(terms, 'utf8').digest('hex'),
          recordedAt: outcomeAt.toISOString(),
        },
      }
      emit('referral.agreement_recorded', outcomeAt, med)
      const closeAt = new Date(outcomeAt.getTime() + DAY * (1 + r() * 9))
      if (closeAt.getTime() <= now && r() < 0.85) {
        const disposition = ref.referralType === 'pre_filing' ? 'agreement_filed' : r() < 0.7 ? 'mediation_document_issued' : 'suit_withdrawn'
        ref.status = 'closed'
        ref.doc = { ...ref.doc, closure: { disposition, closedAt: closeAt.toISOString() } }
        emit('referral.closed', closeAt, court_)
      }
      const perfAt = new Date(outcomeAt.getTime() + DAY * (15 + r() * 45))
      if (perfAt.getTime() <= now && r() < 0.5) {
        ref.doc = {
          ...ref.doc,
          performance: { status: r() < 0.85 ? 'performed' : 'partially_performed', reportedOn: shanghaiDate(perfAt), reportedAt: perfAt.toISOString() },
        }
        emit('referral.performance_reported', perfAt, med)
      }
      return finish()
    }
    const bySystem = outcome > 0.95
    const endAt = bySystem ? dueEnd : outcomeAt
    if (endAt.getTime() > now) return finish()
    const { suspension: _s, ...rest } = ref.doc
    void _s
    ref.status = 'terminated'
    ref.doc = {
      ...rest,
      termination: bySystem
        ? { reason: 'deadline_expired', terminatedAt: endAt.toISOString(), by: 'system' }
        : { reason: 'gap_too_large', report: '双方分歧较大，经多次调解未能达成一致。', terminatedAt: endAt.toISOString(), by: 'organization' },
    }
    emit('referral.terminated', endAt, bySystem ? 'system' : med)
    const returnAt = new Date(endAt.getTime() + DAY * (1 + r() * 4))
    if (returnAt.getTime() > now) return finish()
    ref.status = 'materials_returned'
    ref.doc = { ...ref.doc, materialReturn: { materials: [], report: '调解终结报告（书面）已随卷退回。', returnedAt: returnAt.toISOString() } }
    emit('referral.materials_returned', returnAt, med)
    const fileAt = new Date(returnAt.getTime() + DAY * (1 + r() * 9))
    if (fileAt.getTime() > now || r() > 0.85) return finish()
    if (ref.referralType === 'pre_filing') {
      const y = Number(shanghaiDate(fileAt).slice(0, 4))
      const k = `${court.code}|${y}|民初`
      const s = (seqs.get(k) ?? 0) + 1
      seqs.set(k, s)
      ref.status = 'case_registered'
      ref.doc = { ...ref.doc, courtFiling: { action: 'case_registered', caseNumber: `（${y}）${court.code}民初${s}号`, filedOn: shanghaiDate(fileAt) } }
      emit('referral.case_registered', fileAt, court_)
    } else {
      ref.status = 'trial_resumed'
      ref.doc = { ...ref.doc, courtFiling: { action: 'trial_resumed', resumedOn: shanghaiDate(fileAt) } }
      emit('referral.trial_resumed', fileAt, court_)
    }
    return finish()
  }
}

/** The `referrals` row of a generated referral (column names as in migrations/0002). */
export function referralRow(ref) {
  return {
    id: ref.id,
    version: ref.version,
    status: ref.status,
    referral_type: ref.referralType,
    court_code: ref.courtCode,
    case_number: ref.caseNumber,
    dispute_type: ref.disputeType,
    organization_id: ref.organizationId,
    held_by: ref.heldBy,
    acceptance_due_on: ref.doc.deadlines.acceptanceDueOn,
    mediation_due_on: ref.doc.deadlines.mediationDueOn,
    chain_head: ref.chainHead,
    doc: ref.doc,
    created_at: ref.createdAt.toISOString(),
    updated_at: ref.updatedAt.toISOString(),
  }
}
