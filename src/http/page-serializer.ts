import { SerializerSelector, type SerializerCompiler, type SerializerFactory } from '@fastify/fast-json-stringify-compiler'
import { SPLIT_AT } from '../json-bytes.js'

/**
 * Fastify's own response serializers (fast-json-stringify), except that a page (`listOf`: `{ items, nextCursor }`)
 * of {@link SPLIT_AT} items or more is serialized item by item into one Buffer: a page of 50 full referral views is
 * 88 KB of JSON with Chinese text, and as one string it would be a large two-byte string whose first use faults in
 * a fresh mapping page by page (json-bytes.ts). The bytes are those of the whole-page serializer: the page around the
 * items is that serializer's text of the page with no items, and each item is serialized by the compiled schema of
 * one item, as the page's serializer serializes each.
 */

const EMPTY_ITEMS = '"items":[]'
const COMMA = Buffer.from(',')

interface SchemaShape {
  type?: unknown
  properties?: Record<string, SchemaShape | undefined>
  items?: unknown
}

/** The schema of one item of a `listOf` page schema, or undefined for any other schema. */
export function pageItemSchema(schema: unknown): object | undefined {
  const s = schema as SchemaShape | undefined
  const items = s?.properties?.items
  if (s?.type !== 'object' || !s.properties || !('nextCursor' in s.properties)) return undefined
  if (items?.type !== 'array' || !items.items || typeof items.items !== 'object') return undefined
  return items.items
}

/** Wraps a serializer compiler: page schemas get the item-by-item serializer, every other schema its own. */
export function pagedCompiler(base: SerializerCompiler): SerializerCompiler {
  return (route) => {
    const whole = base(route)
    const itemSchema = pageItemSchema(route.schema)
    if (!itemSchema) return whole
    const one = base({ ...route, schema: itemSchema })
    return (page: unknown) => {
      const items = (page as { items?: unknown } | null)?.items
      if (!Array.isArray(items) || items.length < SPLIT_AT) return whole(page)
      const shell = whole({ ...(page as object), items: [] })
      const at = shell.indexOf(EMPTY_ITEMS)
      if (at < 0) return whole(page)
      const open = at + EMPTY_ITEMS.length - 1
      const parts: Buffer[] = [Buffer.from(shell.slice(0, open))]
      for (let i = 0; i < items.length; i++) {
        if (i) parts.push(COMMA)
        parts.push(Buffer.from(one(items[i])))
      }
      parts.push(Buffer.from(shell.slice(open)))
      // Fastify sends a Buffer as it is (the declared type says string).
      return Buffer.concat(parts) as unknown as string
    }
  }
}

/** The `schemaController.compilersFactory.buildSerializer` of the app: Fastify's default, wrapped by {@link pagedCompiler}. */
export function pagedSerializerFactory(): SerializerFactory {
  const build = SerializerSelector()
  return (externalSchemas, options) => pagedCompiler(build(externalSchemas, options))
}
