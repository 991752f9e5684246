import { regionCovers } from './identifiers.js'

export type Role = 'court' | 'mediation' | 'operator'

/** Who is calling, decided from the credential alone (contract §0). */
export interface Principal {
  clientId: string
  role: Role
  name: string
  courtCodes: string[]
  organizationIds: string[]
  regionCodes: string[]
}

/** A court principal may act for a court code only when it is one of its own. */
export function courtInScope(p: Principal, courtCode: string): boolean {
  return p.role === 'court' && p.courtCodes.includes(courtCode)
}

/**
 * An organization is in a mediation client's scope when its id is listed or its region code falls under one of
 * the client's region codes (`*` = national).
 */
export function organizationInScope(p: Principal, org: { id: string; regionCode: string }): boolean {
  if (p.role !== 'mediation') return false
  if (p.organizationIds.includes(org.id)) return true
  return p.regionCodes.some((r) => regionCovers(r, org.regionCode))
}

export function isNational(p: Principal): boolean {
  return p.regionCodes.includes('*')
}
