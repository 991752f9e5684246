const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Ids are UUIDv7; anything else cannot name a resource (and must not reach a uuid column as a 500). */
export const isUuid = (s: string): boolean => UUID_RE.test(s)
