import { regionCovers } from './identifiers.js'
import { designatableRosters, staffingCompliant, SUPREME_COURT, type Organization } from './organization.js'

/**
 * Routing suggestions (在线分流, contract §5): which organizations a court may send a dispute to, best first, each
 * with the reasons for its place. Pure: the caller fetches candidate organizations (a superset is fine, the
 * eligibility rules are applied here again) and this module decides.
 */

/**
 * Dispute types best handled by industry / professional committees (行业性专业性调解组织, 意见 四(一)): the contract
 * names 医疗, 道路交通, 劳动争议, 物业, 消费, 金融, 保险, 知识产权; 环境污染, 旅游 and 新业态 are added because the
 * 2023 opinion and MoJ practice set up dedicated committees for them too.
 */
export const SPECIALISED_DISPUTE_TYPES: readonly string[] = [
  'medical',
  'traffic',
  'labor',
  'property_management',
  'consumer',
  'finance',
  'insurance',
  'intellectual_property',
  'environment',
  'tourism',
  'new_employment',
]

/** Everyday disputes (矛盾纠纷) that township and village committees handle where the parties live. */
export const BASIC_DISPUTE_TYPES: readonly string[] = ['marriage_family', 'neighbor', 'housing_homestead', 'land_forest']

export type DisputeCategory = 'specialised' | 'basic' | 'general'

/** Specialised, basic, or neither (contract, production, compensation, land acquisition, other, and new codes). */
export function disputeCategory(disputeType: string): DisputeCategory {
  if (SPECIALISED_DISPUTE_TYPES.includes(disputeType)) return 'specialised'
  if (BASIC_DISPUTE_TYPES.includes(disputeType)) return 'basic'
  return 'general'
}

export type RoutingCandidate = Pick<Organization, 'id' | 'name' | 'kind' | 'regionCode' | 'disputeTypes' | 'fullTimeMediators' | 'rosters' | 'active'>

export interface RoutingRequest {
  /** The court asking; decides which special rosters count (its own and its high court's). */
  courtCode: string
  disputeType: string
  /** Where the dispute is: a 6-digit code or a 2/4-digit prefix; null when unknown (no regional preference). */
  regionCode: string | null
}

export const REASON_CODES = [
  'industry_committee_for_type',
  'covers_dispute_type',
  'centre_dispatch',
  'local_committee',
  'dispute_type_not_listed',
  'in_region',
  'region_level_covers',
  'outside_region',
  'staffing_compliant',
  'staffing_below_standard',
  'court_special_roster',
  'ministry_roster',
] as const
export type ReasonCode = (typeof REASON_CODES)[number]

export interface Reason {
  code: ReasonCode
  text: string
}

export type DesignationMode = 'court_designated' | 'party_selected'

export interface Suggestion {
  organizationId: string
  name: string
  kind: string
  regionCode: string
  staffingCompliant: boolean
  /** How the organization may receive the referral: designated by this court, chosen by the parties, or both. */
  designationModes: DesignationMode[]
  /** 1 = best. */
  rank: number
  reasons: Reason[]
}

const LOCAL_KINDS: readonly string[] = ['township_committee', 'village_committee']

/**
 * How close the organization sits to the dispute: 0 inside the dispute's region, 1 a prefecture-level committee
 * (`PPCC00`) covering it, 2 a province-level one (`PP0000`), 3 elsewhere. Without a dispute region all are 0.
 */
function proximity(orgRegion: string, disputeRegion: string | null): { level: number; reason?: Reason } {
  if (disputeRegion === null) return { level: 0 }
  if (regionCovers(disputeRegion, orgRegion)) return { level: 0, reason: { code: 'in_region', text: `位于纠纷所在区域（${disputeRegion}）` } }
  if (regionCovers(orgRegion, disputeRegion)) {
    const province = /^\d{2}0000$/.test(orgRegion)
    return {
      level: province ? 2 : 1,
      reason: { code: 'region_level_covers', text: `${province ? '省级' : '市级'}调解组织（${orgRegion}），辖区覆盖纠纷所在区域` },
    }
  }
  return { level: 3, reason: { code: 'outside_region', text: `不在纠纷所在区域（组织所在 ${orgRegion}）` } }
}

/** How a court names a roster it may designate from: its own, or the court above it at that level. */
export function rosterCourtLabel(courtCode: string, roster: string): string {
  if (roster === courtCode) return `本院（${courtCode}）`
  if (roster === SUPREME_COURT) return '最高人民法院'
  if (roster.length === 1) return `高级人民法院（${roster}）`
  return `中级人民法院（${roster}）`
}

function modesFor(courtCode: string, org: RoutingCandidate): { modes: DesignationMode[]; rosterReasons: Reason[] } {
  const rosters = designatableRosters(courtCode)
  const modes: DesignationMode[] = []
  const rosterReasons: Reason[] = []
  const special = org.rosters.courtSpecial.filter((c) => rosters.includes(c))
  if (special.length) {
    modes.push('court_designated')
    // The nearest roster names the reason: own court first, then the intermediate, high and Supreme courts (特邀调解规定 art. 5).
    const nearest = rosters.find((c) => special.includes(c)) as string
    rosterReasons.push({ code: 'court_special_roster', text: `列入${rosterCourtLabel(courtCode, nearest)}特邀调解名册，可由法院指定` })
  }
  if (org.rosters.ministry) {
    modes.push('party_selected')
    rosterReasons.push({ code: 'ministry_roster', text: '列入司法部人民调解组织名册，当事人可选择' })
  }
  return { modes, rosterReasons }
}

interface Scored {
  org: RoutingCandidate
  tier: number
  covers: boolean
  compliant: boolean
  proximity: number
  modes: DesignationMode[]
  reasons: Reason[]
}

/**
 * The tier an organization falls in, by the kind of dispute (the first sort key), and the reason naming it.
 * - specialised: industry committees listing the type; then others listing it and centres (which receive
 *   everything and dispatch, 意见 三(二)); then the rest.
 * - basic: local township / village committees; then local centres; then other local organizations; then
 *   organizations elsewhere (only those on the court's own special roster get this far).
 * - general: local organizations listing the type or centres; the same elsewhere; local others; the rest.
 */
function tierOf(category: DisputeCategory, org: RoutingCandidate, covers: boolean, local: boolean, disputeType: string): { tier: number; reason: Reason } {
  const listed: Reason = { code: 'covers_dispute_type', text: `登记受理此类纠纷（${disputeType}）` }
  const notListed: Reason = { code: 'dispute_type_not_listed', text: `未登记受理此类纠纷（${disputeType}）` }
  const centre: Reason = { code: 'centre_dispatch', text: '非诉讼纠纷化解中心，可统一接收并分派至辖区调解组织' }
  switch (category) {
    case 'specialised':
      if (org.kind === 'industry_committee' && covers)
        return { tier: 0, reason: { code: 'industry_committee_for_type', text: `行业性专业性人民调解委员会，受理此类纠纷（${disputeType}）` } }
      if (covers) return { tier: 1, reason: listed }
      if (org.kind === 'centre') return { tier: 1, reason: centre }
      return { tier: 2, reason: notListed }
    case 'basic':
      if (local && LOCAL_KINDS.includes(org.kind)) {
        return {
          tier: 0,
          reason: {
            code: 'local_committee',
            text: org.kind === 'village_committee' ? '纠纷发生地的村（居）民委员会人民调解委员会' : '纠纷发生地的乡镇（街道）人民调解委员会',
          },
        }
      }
      if (local && org.kind === 'centre') return { tier: 1, reason: centre }
      if (local) return { tier: 2, reason: covers ? listed : notListed }
      return { tier: 3, reason: covers ? listed : notListed }
    case 'general':
      if (covers || org.kind === 'centre') return { tier: local ? 0 : 1, reason: covers ? listed : centre }
      return { tier: local ? 2 : 3, reason: notListed }
  }
}

function compare(a: Scored, b: Scored): number {
  return (
    a.tier - b.tier ||
    // 意见 四(一): staffing-compliant organizations before non-compliant ones of the same standing.
    Number(!a.compliant) - Number(!b.compliant) ||
    Number(!a.covers) - Number(!b.covers) ||
    a.proximity - b.proximity ||
    (a.org.name < b.org.name ? -1 : a.org.name > b.org.name ? 1 : 0) ||
    (a.org.id < b.org.id ? -1 : a.org.id > b.org.id ? 1 : 0)
  )
}

/**
 * Ranks the organizations for a dispute (contract §5). Only active organizations the court may designate (its own
 * or its high court's special roster) or the parties may choose (ministry roster) are suggested; of those, ones
 * outside the dispute's region are left out unless the court's special roster lists them (the court chose them,
 * wherever they sit). A region-level committee (`PP0000`, `PPCC00`) counts as local to the districts under it.
 *
 * Sort order: the tier for the dispute category (see {@link tierOf}); staffing compliance (industry ≥ 3,
 * township ≥ 2 full-time mediators); whether the type is listed; closeness; name; id — so equal inputs always
 * give the same order.
 */
export function rankOrganizations(req: RoutingRequest, candidates: readonly RoutingCandidate[]): Suggestion[] {
  const category = disputeCategory(req.disputeType)
  const scored: Scored[] = []
  for (const org of candidates) {
    if (!org.active) continue
    const { modes, rosterReasons } = modesFor(req.courtCode, org)
    if (!modes.length) continue
    const near = proximity(org.regionCode, req.regionCode)
    if (near.level === 3 && !modes.includes('court_designated')) continue
    const covers = org.disputeTypes.includes(req.disputeType)
    const compliant = staffingCompliant(org)
    const { tier, reason } = tierOf(category, org, covers, near.level < 3, req.disputeType)
    const reasons: Reason[] = [reason]
    if (near.reason) reasons.push(near.reason)
    if (org.kind === 'industry_committee' || org.kind === 'township_committee') {
      const floor = org.kind === 'industry_committee' ? 3 : 2
      reasons.push(
        compliant
          ? { code: 'staffing_compliant', text: `专职调解员 ${org.fullTimeMediators} 名，达到配备要求（不少于 ${floor} 名）` }
          : { code: 'staffing_below_standard', text: `专职调解员 ${org.fullTimeMediators} 名，未达到配备要求（不少于 ${floor} 名）` },
      )
    }
    reasons.push(...rosterReasons)
    scored.push({ org, tier, covers, compliant, proximity: near.level, modes, reasons })
  }
  scored.sort(compare)
  return scored.map((s, i) => ({
    organizationId: s.org.id,
    name: s.org.name,
    kind: s.org.kind,
    regionCode: s.org.regionCode,
    staffingCompliant: s.compliant,
    designationModes: s.modes,
    rank: i + 1,
    reasons: s.reasons,
  }))
}

/**
 * The 6-digit region codes whose organizations count as covering `region` (the region-level committees above it),
 * for narrowing the candidate query: `110105` → `110105`, `110100`, `110000`; `1101` → `110100`, `110000`.
 */
export function coveringRegionCodes(region: string): string[] {
  const out = new Set<string>()
  out.add(`${region.slice(0, 2)}0000`)
  if (region.length >= 4) out.add(`${region.slice(0, 4)}00`)
  if (region.length === 6) out.add(region)
  return [...out]
}
