import { provinceCode } from './identifiers.js'

export const ORGANIZATION_KINDS = [
  'village_committee',
  'township_committee',
  'industry_committee',
  'enterprise_committee',
  'stationed_room',
  'centre',
  'other',
] as const
export type OrganizationKind = (typeof ORGANIZATION_KINDS)[number]

export interface Organization {
  id: string
  name: string
  kind: OrganizationKind
  regionCode: string
  uscc: string | null
  disputeTypes: string[]
  fullTimeMediators: number
  rosters: { ministry: boolean; courtSpecial: string[] }
  active: boolean
  version: number
  createdAt: Date
  updatedAt: Date
}

/**
 * 意见 四(一): industry committees need ≥ 3 full-time mediators; township committees and stationed rooms
 * (派驻调解工作室, in courts and other bodies) ≥ 2. Others have no floor.
 */
export function staffingCompliant(o: Pick<Organization, 'kind' | 'fullTimeMediators'>): boolean {
  if (o.kind === 'industry_committee') return o.fullTimeMediators >= 3
  if (o.kind === 'township_committee' || o.kind === 'stationed_room') return o.fullTimeMediators >= 2
  return true
}

/** The Supreme People's Court's 法院代字. */
export const SUPREME_COURT = '最高法'

/**
 * Municipalities directly under the central government: their intermediate courts' codes (京01, 京02, 京03 …) do not
 * follow from a basic court's digits (法〔2015〕137号), so none is derived.
 */
const MUNICIPALITIES = new Set(['京', '津', '沪', '渝'])

/**
 * The special rosters a court may designate from (特邀调解规定 art. 5; contract §2 v1.1): its own, then those of the
 * courts above it — its intermediate court where it follows from the code (a basic court of a province or autonomous
 * region: the first character and the first two digits, `粤0703` → `粤07`; not for the four municipalities, nor for
 * special courts, digits ≥ 71, nor for 军/兵), its high court (the first character) and the Supreme People's Court.
 * `粤0703` → `[粤0703, 粤07, 粤, 最高法]`; `京0105` → `[京0105, 京, 最高法]`; `最高法` → `[最高法]`.
 */
export function designatableRosters(courtCode: string): string[] {
  if (courtCode === SUPREME_COURT) return [SUPREME_COURT]
  const high = courtCode.slice(0, 1)
  const digits = courtCode.slice(1)
  const rosters = [courtCode]
  if (digits.length === 4 && provinceCode(high) !== undefined && !MUNICIPALITIES.has(high) && Number(digits.slice(0, 2)) < 71) {
    rosters.push(high + digits.slice(0, 2))
  }
  if (digits.length > 0) rosters.push(high)
  rosters.push(SUPREME_COURT)
  return rosters
}

export type DesignationProblem = { code: 'not_on_roster' | 'organization_inactive'; detail: string } | null

/** Contract §2 designation rules: party_selected → ministry roster; court_designated → a special roster the court may use. */
export function checkDesignation(mode: 'party_selected' | 'court_designated', courtCode: string, org: Organization | undefined): DesignationProblem {
  if (!org) return { code: 'not_on_roster', detail: '所指定的调解组织不存在或未入册' }
  if (!org.active) return { code: 'organization_inactive', detail: '所指定的调解组织已停用' }
  if (mode === 'party_selected' && !org.rosters.ministry) {
    return { code: 'not_on_roster', detail: '当事人选择的调解组织不在司法部人民调解组织名册中' }
  }
  if (mode === 'court_designated') {
    const allowed = designatableRosters(courtCode)
    if (!org.rosters.courtSpecial.some((c) => allowed.includes(c))) {
      return { code: 'not_on_roster', detail: '法院指定的调解组织不在本院或上级法院（中级、高级、最高人民法院）的特邀调解名册中' }
    }
  }
  return null
}
