import { createHash, timingSafeEqual } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createBullBoard } from '@bull-board/api'
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter'
import { FastifyAdapter } from '@bull-board/fastify'
import helmet from '@fastify/helmet'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../domain/errors.js'
import type { AppDeps } from './app-deps.js'
import { type KeyChecker, unauthorized } from './auth.js'

/**
 * The operator console (contract §6): static pages under /console that call the public API from the browser with
 * the operator key kept in the tab's sessionStorage, and Bull Board under /console/queues.
 *
 * The pages need no key (they hold no data); everything they show comes from /v1 with the key. Bull Board is
 * opened by navigation, which cannot send a Bearer header: the page first POSTs the key to /console/session,
 * which answers with a short-lived signed token in an HttpOnly, SameSite=Strict cookie scoped to /console/queues.
 * The token names the key (its key id, never the key), so revoking the key closes the board at once.
 */

export const CONSOLE_COOKIE = 'zdz_console'
/** How long a queues session lasts; the page asks for a fresh one each time the operator opens the board. */
export const SESSION_TTL_SECONDS = 30 * 60
const QUEUES_PATH = '/console/queues'

/** The strict policy of every console page: own scripts and styles only, no inline code, no framing. */
const STRICT_CSP = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    fontSrc: ["'self'"],
    connectSrc: ["'self'"],
    manifestSrc: ["'self'"],
    baseUri: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    objectSrc: ["'none'"],
  },
}

/**
 * Bull Board's page: the strict policy, plus the hash of the one inline <style> its bundle renders (inside the Redis
 * logo's SVG, fixed text in @bull-board/ui 9.10.1, pinned). Scripts stay 'self' only; the browser test fails if an
 * upgrade brings another inline style.
 */
export const REDIS_LOGO_STYLE_HASH = "'sha256-r2N1TB/gHbBtBZFKg7ejmq1acVSREzucTAEw6ga4hoU='"
const BOARD_CSP = { ...STRICT_CSP, directives: { ...STRICT_CSP.directives, styleSrc: ["'self'", REDIS_LOGO_STYLE_HASH] } }

const here = path.dirname(fileURLToPath(import.meta.url))

/** The console's files: `console/` at the repository root, reached from src/http (tests) and dist/src/http (npm start, Docker). */
export function consoleAssetsDir(): string {
  const candidates = [path.resolve(here, '../../console'), path.resolve(here, '../../../console')]
  const found = candidates.find((d) => existsSync(path.join(d, 'index.html')))
  if (!found) throw new Error(`console assets not found (looked in ${candidates.join(', ')})`)
  return found
}

interface Asset {
  body: Buffer
  type: string
  etag: string
}

function loadAssets(dir: string): Map<string, Asset> {
  const files: Array<[string, string]> = [
    ['index.html', 'text/html; charset=utf-8'],
    ['console.js', 'text/javascript; charset=utf-8'],
    ['console.css', 'text/css; charset=utf-8'],
  ]
  const out = new Map<string, Asset>()
  for (const [name, type] of files) {
    const body = readFileSync(path.join(dir, name))
    out.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` })
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Session tokens

interface SessionClaims {
  /** The operator's client id. */
  c: string
  /** The key id of the key that signed in; absent for the bootstrap key (OPERATOR_API_KEY). */
  k?: string
  /** Expiry, unix seconds. */
  e: number
}

/**
 * Signs with a key derived from the data key (FieldCipher's keyed hash under its own purpose), so every instance
 * of one deployment accepts the others' tokens and a token cannot be forged without the data key. The payload is
 * hex, which survives the keyed hash's case folding unchanged in meaning.
 */
export function sessionSigner(mac: (payload: string) => string) {
  return {
    sign(claims: SessionClaims): string {
      const payload = Buffer.from(JSON.stringify(claims), 'utf8').toString('hex')
      return `${payload}.${mac(payload)}`
    },
    verify(token: string | undefined, nowSeconds: number): SessionClaims | null {
      if (!token) return null
      const m = /^([0-9a-f]{2,2000})\.([0-9a-f]{64})$/.exec(token)
      if (!m) return null
      const expected = Buffer.from(mac(m[1]), 'hex')
      const given = Buffer.from(m[2], 'hex')
      if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null
      let claims: SessionClaims
      try {
        claims = JSON.parse(Buffer.from(m[1], 'hex').toString('utf8')) as SessionClaims
      } catch {
        return null
      }
      if (typeof claims.c !== 'string' || typeof claims.e !== 'number' || (claims.k !== undefined && typeof claims.k !== 'string')) return null
      return claims.e > nowSeconds ? claims : null
    },
  }
}

function cookieOf(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie
  if (!header) return undefined
  for (const part of header.split(';')) {
    const i = part.indexOf('=')
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim()
  }
  return undefined
}

function sessionCookie(req: FastifyRequest, value: string, maxAge: number): string {
  const secure = req.protocol === 'https' ? '; Secure' : ''
  return `${CONSOLE_COOKIE}=${value}; Path=${QUEUES_PATH}; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure}`
}

const refusalPage = (title: string, text: string) =>
  `<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>${title}</title><link rel="stylesheet" href="/console/assets/console.css"></head>` +
  `<body><main class="refusal"><h1>${title}</h1><p>${text}</p><p><a href="/console">/console</a></p></main></body></html>`

// ---------------------------------------------------------------------------------------------
// Bull Board's page, made to live under the strict policy

/**
 * Bull Board's entry page links Google Fonts and styles its loading placeholder inline. The console loads nothing
 * from outside the service and allows no inline style, so the page is served without the font link (the UI falls
 * back to system fonts), without inline style attributes and without the placeholder's <style> block (the
 * placeholder only shows until the bundle renders). Its scripts are files under /console/queues/static and its
 * configuration a JSON data block, which a CSP does not treat as script.
 */
export function sanitizeBoardPage(html: string): string {
  return html
    .replace(/<link[^>]*href="https?:\/\/[^"]*"[^>]*>/g, '')
    .replace(/\sstyle="[^"]*"/g, '')
    .replace(/<style>[\s\S]*?<\/style>/g, '')
}

export interface ConsoleOptions {
  deps: AppDeps
  keys: KeyChecker
}

export async function registerConsole(app: FastifyInstance, { deps, keys }: ConsoleOptions): Promise<void> {
  const assets = loadAssets(consoleAssetsDir())
  const signer = sessionSigner((payload) => deps.cipher.blindIndex(payload, 'console.session'))
  const now = () => Math.floor(Date.now() / 1000)

  await app.register(async (scope) => {
    await scope.register(helmet, { contentSecurityPolicy: STRICT_CSP, crossOriginEmbedderPolicy: false, referrerPolicy: { policy: 'no-referrer' } })
    scope.addHook('onSend', async (_req, reply) => {
      // The pages are small; no-store keeps an old page from outliving a deployment and keeps nothing on shared machines.
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
    })

    const serve = (name: string) => async (req: FastifyRequest, reply: FastifyReply) => {
      const a = assets.get(name) as Asset
      reply.header('etag', a.etag).type(a.type)
      if (req.headers['if-none-match'] === a.etag) return reply.code(304).send()
      return reply.send(a.body)
    }
    const hidden = { schema: { hide: true }, config: { public: true } }
    scope.get('/console', hidden, serve('index.html'))
    scope.get('/console/', hidden, async (_req, reply) => reply.redirect('/console', 301))
    scope.get('/console/assets/console.js', hidden, serve('console.js'))
    scope.get('/console/assets/console.css', hidden, serve('console.css'))

    // Signing in to the queues: the key comes as a Bearer header (a cross-site form cannot send one).
    scope.post('/console/session', hidden, async (req, reply) => {
      const found = await keys.authenticate(req.headers.authorization)
      if (!found) {
        if (keys.onBadKey && req.headers.authorization) await keys.onBadKey(req)
        throw unauthorized()
      }
      if (found.principal.role !== 'operator') throw new AppError(403, 'forbidden', `角色 ${found.principal.role} 无权调用此接口`)
      const token = signer.sign({ c: found.principal.clientId, ...(found.keyId ? { k: found.keyId } : {}), e: now() + SESSION_TTL_SECONDS })
      reply.header('set-cookie', sessionCookie(req, token, SESSION_TTL_SECONDS))
      return reply.code(204).send()
    })
    scope.delete('/console/session', hidden, async (req, reply) => {
      reply.header('set-cookie', sessionCookie(req, '', 0))
      return reply.code(204).send()
    })
  })

  // Bull Board, operators only: its own pages, API and static files, all behind the session cookie.
  await app.register(async (board) => {
    await board.register(helmet, { contentSecurityPolicy: BOARD_CSP, crossOriginEmbedderPolicy: false, referrerPolicy: { policy: 'no-referrer' } })
    board.addHook('onRequest', async (req, reply) => {
      const claims = signer.verify(cookieOf(req, CONSOLE_COOKIE), now())
      const live = claims !== null && (await keys.operatorKeyLive(claims.k))
      if (!live) {
        reply.header('cache-control', 'no-store')
        return reply
          .code(401)
          .type('text/html; charset=utf-8')
          .send(
            refusalPage(
              '未登录 / Not signed in',
              '请先在运维控制台用运维密钥登录，再从控制台打开队列。Sign in at the console with an operator key, then open the queues from there.',
            ),
          )
      }
    })
    board.addHook('onSend', async (req, reply, payload) => {
      reply.header('cache-control', 'no-store')
      const type = String(reply.getHeader('content-type') ?? '')
      if (type.startsWith('text/html') && typeof payload === 'string') return sanitizeBoardPage(payload)
      return payload
    })
    const adapter = new FastifyAdapter()
    adapter.setBasePath(QUEUES_PATH)
    createBullBoard({
      // Read-only: deliveries are retried through the API (audited, idempotent; PostgreSQL is the truth), and a paused
      // or emptied queue would only be refilled by the sweeper.
      queues: [deps.queues.deliveries, deps.queues.timers, deps.queues.jobs].map((q) => new BullMQAdapter(q, { readOnlyMode: true })),
      serverAdapter: adapter,
      options: { uiConfig: { boardTitle: '总对总 queues', hideRedisDetails: false } },
    })
    await board.register(adapter.registerPlugin() as never, { prefix: QUEUES_PATH })
  })
}
