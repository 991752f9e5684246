import { residentIdCheckChar } from '../../src/domain/identifiers.js'
import { idemKey, type Harness } from './harness.js'

let seq = 0

/** A valid resident ID number born on `birth` (YYYYMMDD), with a computed check character. */
export function residentId(area = '110105', birth = '19800101', order = 1 + (seq++ % 900)): string {
  const first17 = `${area}${birth}${String(order).padStart(3, '0')}`
  return first17 + residentIdCheckChar(first17)
}

/**
 * The body of `PUT /v1/organizations/{id}` as a platform sends it: no `rosters.courtSpecial`, which the courts grant
 * (see {@link grantSpecialRoster}).
 */
export function organizationBody(over: Record<string, unknown> = {}) {
  return {
    name: '八里庄街道人民调解委员会',
    kind: 'township_committee',
    regionCode: '110105',
    disputeTypes: ['neighbor', 'marriage_family'],
    fullTimeMediators: 2,
    rosters: { ministry: true },
    active: true,
    ...over,
  }
}

let caseSeq = 1000 + Math.floor(Math.random() * 100000)
export function caseNumber(court = '京0105', type = '民诉前调', year = new Date().getFullYear()): string {
  return `（${year}）${court}${type}${caseSeq++}号`
}

export function referralBody(over: Record<string, unknown> = {}) {
  return {
    referralType: 'pre_filing',
    courtCode: '京0105',
    caseNumber: caseNumber(),
    disputeType: 'neighbor',
    claimSummary: '请求被申请人停止漏水侵害并赔偿损失',
    claimAmount: '12000.00',
    parties: [
      {
        role: 'applicant',
        kind: 'natural_person',
        name: '张三',
        idType: 'resident_id',
        idNumber: residentId(),
        phone: '13800138000',
        address: '北京市朝阳区八里庄街道1号',
      },
      { role: 'respondent', kind: 'natural_person', name: '李四', idType: 'resident_id', idNumber: residentId('440524') },
    ],
    consent: [
      { partyIndex: 0, consentedAt: '2026-11-27T09:00:00+08:00', method: 'written' },
      { partyIndex: 1, consentedAt: '2026-11-27T09:30:00+08:00', method: 'online' },
    ],
    designation: { mode: 'court_designated', organizationId: 'bj-cy-blz' },
    materials: [],
    ...over,
  }
}

/** `PUT` (on) or `DELETE` (off) `/v1/courts/{courtCode}/special-roster/{organizationId}` with `key`. */
export function specialRoster(h: Harness, key: string, courtCode: string, organizationId: string, on = true) {
  return h.call(key, { method: on ? 'PUT' : 'DELETE', url: `/v1/courts/${encodeURIComponent(courtCode)}/special-roster/${organizationId}` })
}

/**
 * Puts an organization on the special rosters of `courtCodes`, as each court does (by default through the operator
 * key, which may act for any court); throws unless each answers 204.
 */
export async function grantSpecialRoster(h: Harness, organizationId: string, courtCodes: readonly string[], key = h.operatorKey): Promise<void> {
  for (const c of courtCodes) {
    const res = await specialRoster(h, key, c, organizationId)
    if (res.statusCode !== 204) throw new Error(`special roster ${c} ← ${organizationId}: ${res.statusCode} ${res.body}`)
  }
}

/** A court (京0105) and a Beijing platform with one organization on the court's special roster, ready for referrals. */
export async function standardWorld(h: Harness) {
  const court = await h.client('court', { courtCodes: ['京0105'] })
  const platform = await h.client('mediation', { regionCodes: ['11'] })
  const otherCourt = await h.client('court', { courtCodes: ['粤0604'] })
  const otherPlatform = await h.client('mediation', { regionCodes: ['44'] })
  const org = await h.call(platform.key, { method: 'PUT', url: '/v1/organizations/bj-cy-blz', payload: organizationBody() })
  if (org.statusCode !== 201) throw new Error(`org: ${org.statusCode} ${org.body}`)
  await grantSpecialRoster(h, 'bj-cy-blz', ['京0105'], court.key)
  return { court, platform, otherCourt, otherPlatform }
}

export async function post(h: Harness, key: string, url: string, payload: unknown, headers: Record<string, string> = {}) {
  return h.call(key, { method: 'POST', url, payload: payload as object, headers: { 'idempotency-key': idemKey(), ...headers } })
}
