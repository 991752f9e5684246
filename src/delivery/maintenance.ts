/**
 * Material storage upkeep (contract §6; reliability row 29): removes half-written uploads left by a crash, and
 * expires materials no case references. The worker runs it every few minutes; every process removes half-written
 * uploads once at start-up (src/boot.ts).
 *
 * Safe on several workers at once and idempotent: a half-written upload being removed by another process is waited
 * for and then skipped, expiry candidates are taken FOR UPDATE SKIP LOCKED, and a pass that finds nothing does nothing.
 */
import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Database } from '../db/database.js'
import { ABANDONED_UPLOAD_MINUTES, deleteAbandonedUploads, expireOrphanMaterials } from '../db/material-repository.js'

export interface MaterialMaintenanceContext {
  db: Kysely<Database>
  logger: Logger
}

export interface MaterialMaintenanceOptions {
  /** A complete material no case references is removed this many hours after its upload (MATERIAL_ORPHAN_TTL_HOURS). */
  orphanTtlHours: number
  /** An upload not complete after this many minutes is half-written. @defaultValue ABANDONED_UPLOAD_MINUTES */
  abandonedUploadMinutes?: number
}

export interface MaterialMaintenanceResult {
  /** Half-written uploads removed. */
  abandoned: number
  /** Unreferenced materials expired, and their bytes. */
  expired: number
  expiredBytes: number
}

/** Removes uploads left half-written (by a crash, or a client that vanished) longer ago than the grace. */
export async function removeHalfWrittenUploads(ctx: MaterialMaintenanceContext, graceMinutes = ABANDONED_UPLOAD_MINUTES): Promise<number> {
  const n = await deleteAbandonedUploads(ctx.db, graceMinutes)
  if (n) ctx.logger.info({ removed: n, graceMinutes }, 'removed half-written material uploads')
  return n
}

/** One maintenance pass: half-written uploads, then unreferenced materials past their time to live. */
export async function maintainMaterials(ctx: MaterialMaintenanceContext, opts: MaterialMaintenanceOptions): Promise<MaterialMaintenanceResult> {
  const abandoned = await removeHalfWrittenUploads(ctx, opts.abandonedUploadMinutes)
  const gone = await expireOrphanMaterials(ctx.db, opts.orphanTtlHours)
  const expiredBytes = gone.reduce((sum, m) => sum + m.sizeBytes, 0)
  if (gone.length) {
    const byClient: Record<string, number> = {}
    for (const m of gone) byClient[m.clientId] = (byClient[m.clientId] ?? 0) + 1
    ctx.logger.info(
      { expired: gone.length, expiredBytes, ttlHours: opts.orphanTtlHours, byClient, materialIds: gone.slice(0, 100).map((m) => m.id) },
      'expired materials no case references',
    )
  }
  return { abandoned, expired: gone.length, expiredBytes }
}
