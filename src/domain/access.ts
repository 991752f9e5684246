import { regionCovers } from './identifiers.js'
import type { Principal } from './principal.js'

/**
 * Who may read and do what: the one home of the access rules (contract §0, §1). Pure functions of the principal
 * and the facts of a case; their SQL twins, for lists and feeds, are in db/access-sql.ts and are checked against
 * these rules by test/domain/access-twins.test.ts.
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
