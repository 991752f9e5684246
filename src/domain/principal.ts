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
