export const ORGANIZATION_KINDS = ['village_committee', 'township_committee', 'industry_committee', 'enterprise_committee', 'centre', 'other'] as const
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

/** 意见 四(一): industry committees need ≥ 3 full-time mediators, township committees ≥ 2. Others have no floor. */
export function staffingCompliant(o: Pick<Organization, 'kind' | 'fullTimeMediators'>): boolean {
  if (o.kind === 'industry_committee') return o.fullTimeMediators >= 3
  if (o.kind === 'township_committee') return o.fullTimeMediators >= 2
  return true
}

/**
 * The special rosters a court may designate from: its own and its province's high court's (特邀调解规定 art. 5;
 * contract §2: `京0105` may use `京`).
 */
export function designatableRosters(courtCode: string): string[] {
  const high = [...courtCode][0]
  return high && high !== courtCode ? [courtCode, high] : [courtCode]
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
      return { code: 'not_on_roster', detail: '法院指定的调解组织不在本院或本省高级法院的特邀调解名册中' }
    }
  }
  return null
}
