import { courtRegion, isValidRegionPrefix, regionCovers, regionsOnOneBranch } from './identifiers.js'
import type { Principal, Role } from './principal.js'

/**
 * Who may read and do what: the one home of the access rules (contract §0, §1). Pure functions of the principal
 * and the facts of a case; their SQL twins, for lists and feeds, are in db/access-sql.ts and are checked against
 * these rules by test/db/access-twins.test.ts.
 */

/** An organization as the access rules see it. */
export interface OrgRef {
  id: string
  regionCode: string
}

/** A national mediation client: region code `*` covers every organization. */
export function isNational(p: Principal): boolean {
  return p.role === 'mediation' && p.regionCodes.includes('*')
}

/** A court principal may act for a court code only when it is one of its own. */
export function courtInScope(p: Principal, courtCode: string): boolean {
  return p.role === 'court' && p.courtCodes.includes(courtCode)
}

/**
 * An organization is in a mediation client's scope when its id is listed or its region code falls under one of
 * the client's region codes (`*` = national).
 */
export function organizationInScope(p: Principal, org: OrgRef): boolean {
  if (p.role !== 'mediation') return false
  if (p.organizationIds.includes(org.id)) return true
  return p.regionCodes.some((r) => regionCovers(r, org.regionCode))
}

/** How a principal stands to a referral: may it read it, see personal data in full, act as the holder. */
export interface Standing {
  read: boolean
  full: boolean
  holder: boolean
}

/**
 * A referral: its court reads, sees and acts on it in full; a mediation client reads it when any organization that
 * ever held it is in scope, and sees it in full and acts only when the current holder is; operators read it masked.
 * `holders` are the organizations of `heldBy` with their regions.
 */
export function referralStanding(p: Principal, r: { courtCode: string; organizationId: string }, holders: OrgRef[]): Standing {
  if (p.role === 'operator') return { read: true, full: false, holder: false }
  if (p.role === 'court') {
    const mine = courtInScope(p, r.courtCode)
    return { read: mine, full: mine, holder: mine }
  }
  const read = holders.some((h) => organizationInScope(p, h))
  const current = holders.find((h) => h.id === r.organizationId)
  const holder = !!current && organizationInScope(p, current)
  return { read, full: holder, holder }
}

/**
 * A judicial confirmation application: the court concerned and the applying organization's clients read it in
 * full; operators read it masked. `org` is the applying organization (undefined when unknown).
 */
export function confirmationStanding(p: Principal, c: { courtCode: string }, org: OrgRef | undefined): Omit<Standing, 'holder'> {
  if (p.role === 'operator') return { read: true, full: false }
  if (p.role === 'court') {
    const mine = courtInScope(p, c.courtCode)
    return { read: mine, full: mine }
  }
  const mine = !!org && organizationInScope(p, org)
  return { read: mine, full: mine }
}

/**
 * The regions a principal is matched on for warnings: a court's regions derived from its court codes, a mediation
 * client's region codes. Malformed ones (and `*`, which {@link isNational} answers for) match nothing and are left out.
 */
export function regionsOf(p: Principal): string[] {
  const raw = p.role === 'court' ? p.courtCodes.map(courtRegion).filter((r): r is string => r !== null) : p.role === 'mediation' ? p.regionCodes : []
  return raw.filter(isValidRegionPrefix)
}

/**
 * Who may read an event: the rule the fan-out relay applies to each subscription's client, and the pull feed as
 * SQL (eventScopeSql in db/access-sql.ts).
 *
 * The columns are those written on every event (contract §4 read scope):
 * - `case`: the court of `court_code`, and mediation clients whose scope covers `organization_id` (listed) or
 *   `region_code` (one of their region codes covers it; `*` covers everything);
 * - `court` (warnings raised by the mediation side): courts whose region is on one branch with `region_code`;
 * - `mediation` (warnings raised by courts): mediation clients whose region codes are on one branch with
 *   `region_code`, or national ones;
 * - `warning` (the lifecycle events of a warning, contract §5 v1.1): both sides — courts whose region is on one
 *   branch with `region_code`, and mediation clients whose region codes are on one branch with it, or national ones;
 * - `operator` (operational events such as `delivery.exhausted`): operators only.
 * Operators read everything. An unknown audience is readable by operators only (fail closed).
 */
export interface EventScope {
  audience: string
  courtCode: string | null
  organizationId: string | null
  regionCode: string | null
}

/** Whether the principal may read an event with this scope (see {@link EventScope}). */
export function mayReadEvent(p: Principal, e: EventScope): boolean {
  if (p.role === 'operator') return true
  switch (e.audience) {
    case 'case':
      if (p.role === 'court') return e.courtCode !== null && courtInScope(p, e.courtCode)
      if (isNational(p)) return true
      if (e.organizationId !== null && p.organizationIds.includes(e.organizationId)) return true
      return e.regionCode !== null && p.regionCodes.some((r) => regionCovers(r, e.regionCode as string))
    case 'court':
      if (p.role !== 'court' || e.regionCode === null) return false
      return regionsOf(p).some((r) => regionsOnOneBranch(r, e.regionCode as string))
    case 'mediation':
      if (p.role !== 'mediation') return false
      if (isNational(p)) return true
      return e.regionCode !== null && regionsOf(p).some((r) => regionsOnOneBranch(r, e.regionCode as string))
    case 'warning':
      if (isNational(p)) return true
      return e.regionCode !== null && regionsOf(p).some((r) => regionsOnOneBranch(r, e.regionCode as string))
    default:
      return false
  }
}

/** A warning as the access rule sees it: where the dispute is and who raised it. */
export interface WarningRef {
  regionCode: string
  raisedBy: { clientId: string; role: Role }
}

/**
 * Who may read a warning (contract §5, the same rule the delivery engine applies to `warning.raised`): the client
 * that raised it; on the other side, courts whose region and the warning's are on one branch (one covers the
 * other), and mediation clients whose region codes are on one branch with it, or national ones; operators all.
 * Other clients of the raiser's own side do not see it: it is addressed to the other side.
 */
export function mayReadWarning(p: Principal, w: WarningRef): boolean {
  if (p.role === 'operator' || w.raisedBy.clientId === p.clientId) return true
  if (p.role === w.raisedBy.role) return false
  if (isNational(p)) return true
  return regionsOf(p).some((r) => regionsOnOneBranch(r, w.regionCode))
}

/**
 * Who may move an organization from region `from` to region `to` (contract §5 v1.1, reliability row 25): the region
 * decides which platform's clients receive its cases, so a mediation client may move one only when its region codes
 * cover both the old and the new region; being bound to the organization by id alone is not enough. Operators may.
 * Staying in the same region is no move.
 */
export function mayMoveOrganization(p: Principal, from: string, to: string): boolean {
  if (p.role === 'operator') return true
  if (p.role !== 'mediation') return false
  if (from === to) return true
  const covered = (code: string) => p.regionCodes.some((r) => regionCovers(r, code))
  return covered(from) && covered(to)
}

/**
 * Who may put an organization on court `courtCode`'s special roster (特邀调解名册) or take it off: that court, or an
 * operator (contract §5 v1.1). The roster is granted by the court side, never self-declared.
 */
export function mayManageCourtRoster(p: Principal, courtCode: string): boolean {
  return p.role === 'operator' || courtInScope(p, courtCode)
}

/** Who may set an organization's `rosters.courtSpecial` directly through `PUT /v1/organizations/{id}`: operators. */
export function maySetCourtSpecial(p: Principal): boolean {
  return p.role === 'operator'
}

/** An organization as it stands, for the rules on changing it. */
export interface OrgState extends OrgRef {
  courtSpecial: readonly string[]
}

/** Whether two lists of court codes hold the same codes, whatever their order. */
export function sameCourtCodes(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a)
  return set.size === new Set(b).size && b.every((c) => set.has(c))
}

/** Why a change to an organization is refused: the problem's code and its (Chinese) detail. */
export interface OrganizationChangeProblem {
  code: 'forbidden' | 'out_of_scope' | 'roster_managed_by_court'
  detail: string
}

/**
 * Why `PUT /v1/organizations/{id}` by `p` is refused, or null when it may go ahead (contract §5, reliability row 25).
 * `current` is the organization as stored (undefined on create); `next` what the body asks for, `courtSpecial`
 * undefined when the body omits it. Operators may do anything. A mediation client needs the organization in scope
 * as it stands and as it would be (else `out_of_scope`), may move it only within its region codes
 * ({@link mayMoveOrganization}, else `out_of_scope`), and may not change its special rosters: it may omit them or
 * repeat them unchanged; on create they start empty, so any court code is a change (`roster_managed_by_court`).
 */
export function organizationPutProblem(
  p: Principal,
  current: OrgState | undefined,
  next: OrgRef & { courtSpecial?: readonly string[] },
): OrganizationChangeProblem | null {
  if (p.role === 'operator') return null
  if (p.role !== 'mediation') return { code: 'forbidden', detail: '当前角色无权维护调解组织' }
  if (!organizationInScope(p, next) || (current && !organizationInScope(p, current))) {
    return { code: 'out_of_scope', detail: '该组织不在调用方的管辖范围内' }
  }
  if (current && !mayMoveOrganization(p, current.regionCode, next.regionCode)) {
    return { code: 'out_of_scope', detail: '变更组织的行政区划须由 regionCodes 同时覆盖原区划与新区划的调用方进行' }
  }
  if (next.courtSpecial !== undefined && !maySetCourtSpecial(p) && !sameCourtCodes(next.courtSpecial, current?.courtSpecial ?? [])) {
    return {
      code: 'roster_managed_by_court',
      detail: '特邀调解名册由法院维护，调解平台不能自行变更；请由法院通过 PUT /v1/courts/{courtCode}/special-roster/{organizationId} 登记',
    }
  }
  return null
}
