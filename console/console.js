/* global document, window, sessionStorage, fetch, crypto, location, URLSearchParams */
// 总对总 operator console. Plain browser JavaScript, no build step: it calls the public API (/v1) with the operator
// key held in this tab's sessionStorage, builds every element with the DOM API (never innerHTML with data), and
// attaches every handler here (the page's CSP allows no inline script).
'use strict'

const KEY = 'zdz.operatorKey'
const $ = (id) => document.getElementById(id)

function el(tag, attrs, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') e.className = v
    else if (k === 'text') e.textContent = v
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v)
    else if (k.startsWith('data-')) e.setAttribute(k, v)
    else e[k] = v
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c instanceof window.Node ? c : String(c))
  return e
}

const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString('zh-CN', { hour12: false }) : '—')
function fmtAge(seconds) {
  if (seconds === null || seconds === undefined) return '—'
  if (seconds < 60) return `${seconds} s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h`
  return `${(seconds / 86400).toFixed(1)} d`
}

// ---------------------------------------------------------------------------------------------
// API

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`)
    this.status = status
    this.code = problem && problem.code
  }
}

async function api(method, path, body) {
  const key = sessionStorage.getItem(KEY)
  const headers = { authorization: `Bearer ${key}`, accept: 'application/json', 'accept-language': navigatorLanguage() }
  // Every creating or changing POST needs an Idempotency-Key: one per user action.
  if (method === 'POST') headers['idempotency-key'] = crypto.randomUUID()
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' })
  if (res.status === 401 && path.startsWith('/v1/')) signOut('密钥无效或已吊销，请重新登录。The key is not valid (any more): sign in again.')
  const text = await res.text()
  const data = text ? JSON.parse(text) : null
  if (!res.ok) throw new ApiError(res.status, data)
  return data
}

const navigatorLanguage = () => ((window.navigator.language || 'zh-CN').toLowerCase().startsWith('zh') ? 'zh-CN' : 'en')

function flash(text, isError) {
  const f = $('flash')
  f.textContent = text
  f.className = isError ? 'flash error' : 'flash'
  f.hidden = false
}
const clearFlash = () => ($('flash').hidden = true)
const failed = (err) => flash(err.code ? `${err.message} (${err.code})` : err.message, true)

/** Runs an action from a button: disables it while it runs and reports a failure. */
function action(button, run) {
  return async (ev) => {
    if (ev) ev.preventDefault()
    if (button) button.disabled = true
    try {
      await run()
    } catch (err) {
      failed(err)
    } finally {
      if (button) button.disabled = false
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sign-in

/** Asks the service for the queues cookie (HttpOnly, Path=/console/queues); the key itself stays here. */
async function openQueuesSession() {
  const res = await fetch('/console/session', { method: 'POST', headers: { authorization: `Bearer ${sessionStorage.getItem(KEY)}` }, cache: 'no-store' })
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null))
}

async function signIn(key) {
  sessionStorage.setItem(KEY, key)
  try {
    await api('GET', '/v1/sync/status')
    await openQueuesSession()
  } catch (err) {
    sessionStorage.removeItem(KEY)
    if (err.status === 403) throw new Error('这不是运维密钥。This is not an operator key.', { cause: err })
    throw err
  }
  showApp()
}

function signOut(message) {
  sessionStorage.removeItem(KEY)
  fetch('/console/session', { method: 'DELETE' }).catch(() => undefined)
  $('app').hidden = true
  $('nav').hidden = true
  $('signin').hidden = false
  if (message) flash(message, true)
  else clearFlash()
}

function showApp() {
  $('signin').hidden = true
  $('signin-key').value = ''
  $('app').hidden = false
  $('nav').hidden = false
  clearFlash()
  show(location.hash.slice(1) || 'deliveries')
}

const loaders = {}
function show(view) {
  if (!loaders[view]) view = 'deliveries'
  for (const b of document.querySelectorAll('#nav button[data-view]')) b.classList.toggle('active', b.dataset.view === view)
  for (const s of document.querySelectorAll('main .view')) s.hidden = s.id !== `view-${view}`
  if (location.hash !== `#${view}`) window.history.replaceState(null, '', `#${view}`)
  loaders[view]().catch(failed)
}

// ---------------------------------------------------------------------------------------------
// Delivery health

let currentSubscription = null

loaders.deliveries = async () => {
  const [status, subs] = await Promise.all([api('GET', '/v1/sync/status'), listAll('/v1/subscriptions')])
  const byId = new Map(subs.map((s) => [s.id, s]))
  const body = $('sync-table').tBodies[0]
  body.replaceChildren(
    ...status.items.map((s) => {
      const sub = byId.get(s.subscriptionId) || {}
      return el(
        'tr',
        { 'data-subscription': s.subscriptionId },
        el('td', {}, el('code', { text: s.subscriptionId }), sub.enabled === false ? el('span', { class: 'badge bad', text: '已停用 disabled' }) : null),
        el('td', {}, el('code', { text: sub.clientId || '' }), sub.description ? el('div', { class: 'hint', text: sub.description }) : null),
        el('td', { text: sub.url || '' }),
        el('td', { class: 'num', text: s.pending }),
        el('td', { class: 'num', text: fmtAge(s.oldestPendingAgeSeconds) }),
        el('td', { class: s.dead ? 'num dead' : 'num', text: s.dead }),
        el('td', { text: fmtTime(s.lastDeliveredAt) }),
        el(
          'td',
          {},
          el('button', { type: 'button', class: 'secondary', text: '死信与恢复 Dead / recovery', onclick: () => openDead(s.subscriptionId).catch(failed) }),
        ),
      )
    }),
  )
  if (!status.items.length) body.append(el('tr', {}, el('td', { colSpan: 8, class: 'hint', text: '没有订阅。No subscriptions.' })))
  if (currentSubscription) await openDead(currentSubscription)
}

async function listAll(path) {
  const items = []
  let cursor = null
  for (let i = 0; i < 20; i++) {
    const q = new URLSearchParams({ limit: '200' })
    if (cursor) q.set('cursor', cursor)
    const page = await api('GET', `${path}?${q}`)
    items.push(...page.items)
    cursor = page.nextCursor
    if (!cursor) break
  }
  return items
}

async function openDead(subscriptionId) {
  currentSubscription = subscriptionId
  $('dead-panel').hidden = false
  $('dead-sub').textContent = subscriptionId
  const q = new URLSearchParams({ status: 'dead', subscriptionId, limit: '200' })
  const page = await api('GET', `/v1/deliveries?${q}`)
  const body = $('dead-table').tBodies[0]
  body.replaceChildren(
    ...page.items.map((d) => {
      const retry = el('button', { type: 'button', text: '重试 Retry', 'data-delivery': d.id })
      retry.addEventListener(
        'click',
        action(retry, async () => {
          const after = await api('POST', `/v1/deliveries/${encodeURIComponent(d.id)}/retry`)
          flash(`已重新排队 Re-queued: ${d.eventType} → ${after.status}`)
          await loaders.deliveries()
        }),
      )
      return el(
        'tr',
        { 'data-delivery': d.id },
        el('td', {}, el('div', { text: d.eventType }), el('code', { class: 'hint', text: d.eventId })),
        el('td', {}, `${d.subject.kind} `, el('code', { text: d.subject.id }), ` #${d.sequence}`),
        el('td', { class: 'num', text: d.attempts }),
        el('td', { text: d.lastStatus ? `HTTP ${d.lastStatus}` : d.lastError || '—' }),
        el('td', { text: fmtTime(d.deadAt) }),
        el('td', {}, retry),
      )
    }),
  )
  if (!page.items.length) body.append(el('tr', {}, el('td', { colSpan: 6, class: 'hint', text: '没有死信。No dead deliveries.' })))
}

function localInputToIso(value) {
  // datetime-local has no zone: read it in the browser's zone and send RFC 3339 with offset.
  return value ? new Date(value).toISOString() : undefined
}

// ---------------------------------------------------------------------------------------------
// Case lookup

loaders.cases = async () => {
  $('case-query').focus()
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const KINDS = { referral: '/v1/referrals', judicial_confirmation: '/v1/judicial-confirmations' }

async function lookUpCase(query) {
  $('case-detail').hidden = true
  const matches = $('case-matches')
  matches.replaceChildren()
  const found = []
  if (UUID.test(query)) {
    for (const [kind, base] of Object.entries(KINDS)) {
      try {
        found.push({ kind, value: await api('GET', `${base}/${query.toLowerCase()}`) })
      } catch (err) {
        if (err.status !== 404) throw err
      }
    }
  } else {
    const q = new URLSearchParams({ caseNumber: query, limit: '50' })
    for (const [kind, base] of Object.entries(KINDS)) {
      const page = await api('GET', `${base}?${q}`)
      for (const value of page.items) found.push({ kind, value })
    }
  }
  if (!found.length) return flash(`未找到 Nothing found: ${query}`, true)
  clearFlash()
  if (found.length > 1) {
    matches.append(
      ...found.map((f) =>
        el(
          'li',
          {},
          `${f.kind} `,
          el('code', { text: f.value.id }),
          ` ${f.value.status} · ${fmtTime(f.value.createdAt)}`,
          el('button', { type: 'button', class: 'secondary', text: '查看 Show', onclick: () => showCase(f.kind, f.value).catch(failed) }),
        ),
      ),
    )
  }
  await showCase(found[0].kind, found[0].value)
}

async function showCase(kind, c) {
  const base = `${KINDS[kind]}/${c.id}`
  $('case-title').textContent = `${kind === 'referral' ? '委派/委托调解 Referral' : '司法确认 Judicial confirmation'} ${c.caseNumber || ''}`
  const fields = [
    ['id', c.id],
    ['案号 caseNumber', c.caseNumber],
    ['状态 status', c.status],
    ['类型 type', c.referralType || c.procedure],
    ['法院 courtCode', c.courtCode],
    ['组织 organizationId', c.organizationId],
    ['纠纷 disputeType', c.disputeType],
    ['委派案件 referralId', c.referralId],
    ['版本 version', c.version],
    ['创建 createdAt', fmtTime(c.createdAt)],
    ['更新 updatedAt', fmtTime(c.updatedAt)],
  ].filter(([, v]) => v !== undefined && v !== null)
  $('case-fields').replaceChildren(...fields.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: String(v) })]))
  $('case-parties').tBodies[0].replaceChildren(
    ...(c.parties || []).map((p) =>
      el(
        'tr',
        {},
        el('td', { text: p.role }),
        el('td', { text: p.name }),
        el('td', {}, el('code', { text: p.idNumber || '—' })),
        el('td', { text: p.phone || '—' }),
      ),
    ),
  )
  $('case-raw').textContent = JSON.stringify(c, null, 2)
  const badge = $('case-integrity')
  badge.className = 'badge'
  badge.textContent = '校验中 checking…'
  $('case-detail').hidden = false

  const [events, integrity] = await Promise.all([listAll(`${base}/events`), api('GET', `${base}/integrity`)])
  $('case-events').tBodies[0].replaceChildren(
    ...events.map((e) =>
      el(
        'tr',
        {},
        el('td', { class: 'num', text: e.sequence }),
        el('td', { text: e.type }),
        el('td', { text: fmtTime(e.occurredAt) }),
        el('td', { text: typeof e.actor === 'string' ? e.actor : `${e.actor.role} ${e.actor.clientId}` }),
        el('td', { class: 'num', text: e.caseVersion }),
      ),
    ),
  )
  if (integrity.valid) {
    badge.className = 'badge good'
    badge.textContent = `完整性 valid · ${integrity.length} events · ${String(integrity.head).slice(0, 12)}…`
  } else {
    badge.className = 'badge bad'
    badge.textContent = `完整性校验失败 broken at #${integrity.brokenAtSequence}`
  }
  badge.dataset.valid = String(integrity.valid)
}

// ---------------------------------------------------------------------------------------------
// Clients

let clientsCursor = null

loaders.clients = async (more) => {
  const q = new URLSearchParams({ limit: '100' })
  if (more && clientsCursor) q.set('cursor', clientsCursor)
  const page = await api('GET', `/v1/clients?${q}`)
  clientsCursor = page.nextCursor
  $('clients-more').hidden = !clientsCursor
  const rows = page.items.map(clientRow)
  const body = $('clients-table').tBodies[0]
  if (more) body.append(...rows)
  else body.replaceChildren(...rows)
}

function clientRow(c) {
  const scope = [
    c.courtCodes.length ? `法院 ${c.courtCodes.join(', ')}` : null,
    c.organizationIds.length ? `组织 ${c.organizationIds.join(', ')}` : null,
    c.regionCodes.length ? `区划 ${c.regionCodes.join(', ')}` : null,
  ].filter(Boolean)
  const keys = el(
    'ul',
    { class: 'keys' },
    c.keys.map((k) => {
      const item = el(
        'li',
        { 'data-key': k.keyId },
        el('code', { class: k.revokedAt ? 'revoked' : '', text: k.keyId }),
        el('span', { class: 'hint', text: k.revokedAt ? `吊销 revoked ${fmtTime(k.revokedAt)}` : `最近使用 last used ${fmtTime(k.lastUsedAt)}` }),
      )
      if (!k.revokedAt) {
        // Two clicks: the first arms the button, the second revokes (no modal dialog).
        const revoke = el('button', { type: 'button', class: 'danger', text: '吊销 Revoke', 'data-revoke': k.keyId })
        revoke.addEventListener(
          'click',
          action(revoke, async () => {
            if (!revoke.classList.contains('armed')) {
              revoke.classList.add('armed')
              revoke.textContent = '确认吊销 Confirm revoke'
              return
            }
            await api('DELETE', `/v1/clients/${encodeURIComponent(c.id)}/keys/${encodeURIComponent(k.keyId)}`)
            flash(`已吊销 Revoked ${k.keyId}`)
            await loaders.clients()
          }),
        )
        item.append(revoke)
      }
      return item
    }),
  )
  const issue = el('button', { type: 'button', class: 'secondary', text: '签发新密钥 Issue key' })
  issue.addEventListener(
    'click',
    action(issue, async () => {
      const created = await api('POST', `/v1/clients/${encodeURIComponent(c.id)}/keys`)
      showSecret(created.apiKey, created.keyId)
      await loaders.clients()
    }),
  )
  return el(
    'tr',
    { 'data-client': c.id },
    el('td', {}, el('div', { text: c.name }), el('code', { class: 'hint', text: c.id })),
    el('td', { text: c.role }),
    el('td', { text: scope.join('; ') || '—' }),
    el('td', {}, keys),
    el('td', {}, issue),
  )
}

function showSecret(apiKey, keyId) {
  $('secret-value').textContent = apiKey || '（重放的请求不再返回密钥 a replayed request does not show the key again）'
  $('secret-value').dataset.keyId = keyId || ''
  $('secret-box').hidden = false
}

const splitList = (v) =>
  v
    .split(/[,，\s]+/)
    .map((s) => s.trim())
    .filter(Boolean)

// ---------------------------------------------------------------------------------------------
// Calendar

loaders.calendar = async () => {
  const now = new Date().getFullYear()
  const years = [now - 1, now, now + 1, now + 2]
  const rows = await Promise.all(years.map((y) => api('GET', `/v1/calendar/${y}`)))
  $('years-table').tBodies[0].replaceChildren(
    ...rows.map((c) =>
      el(
        'tr',
        { 'data-year': c.year },
        el('td', { text: c.year }),
        el('td', {}, el('span', { class: c.provisional ? 'badge warn' : 'badge good', text: c.provisional ? '推定 provisional' : '已发布 published' })),
        el('td', { class: 'num', text: c.holidays.length }),
        el('td', { class: 'num', text: c.workdays.length }),
        el('td', {}, el('button', { type: 'button', class: 'secondary', text: '编辑 Edit', onclick: () => openYear(c.year).catch(failed) })),
      ),
    ),
  )
}

async function openYear(year) {
  const c = await api('GET', `/v1/calendar/${year}`)
  $('calendar-year').textContent = String(c.year)
  $('calendar-form').dataset.year = String(c.year)
  const state = $('calendar-state')
  state.className = c.provisional ? 'badge warn' : 'badge good'
  state.textContent = c.provisional ? '推定 provisional' : '已发布 published'
  $('calendar-holidays').value = c.holidays.join('\n')
  $('calendar-workdays').value = c.workdays.join('\n')
  $('calendar-form').hidden = false
}

// ---------------------------------------------------------------------------------------------
// Wiring

document.addEventListener('DOMContentLoaded', () => {
  $('signin-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    const button = ev.target.querySelector('button')
    action(button, () => signIn($('signin-key').value.trim()))()
  })
  $('sign-out').addEventListener('click', () => signOut())
  for (const b of document.querySelectorAll('#nav button[data-view]')) b.addEventListener('click', () => show(b.dataset.view))
  $('queues-link').addEventListener('click', (ev) => {
    // A fresh queues session each time the board is opened (the cookie lives 30 minutes).
    ev.preventDefault()
    openQueuesSession()
      .then(() => location.assign('/console/queues/'))
      .catch(failed)
  })

  $('deliveries-refresh').addEventListener('click', () => loaders.deliveries().catch(failed))
  $('recovery-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    const button = ev.target.querySelector('button')
    action(button, async () => {
      const body = { since: localInputToIso($('recovery-since').value) }
      const until = localInputToIso($('recovery-until').value)
      if (until) body.until = until
      const job = await api('POST', `/v1/subscriptions/${encodeURIComponent(currentSubscription)}/recovery`, body)
      flash(`恢复任务已排队 Recovery queued: ${job.jobId} (${job.status})`)
    })()
  })

  $('case-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    action(ev.target.querySelector('button'), () => lookUpCase($('case-query').value.trim()))()
  })

  $('clients-refresh').addEventListener('click', () => loaders.clients().catch(failed))
  $('clients-more').addEventListener('click', () => loaders.clients(true).catch(failed))
  $('secret-dismiss').addEventListener('click', () => {
    $('secret-value').textContent = ''
    $('secret-box').hidden = true
  })
  $('client-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    action(ev.target.querySelector('button[type=submit]'), async () => {
      const body = { name: $('client-name').value.trim(), role: $('client-role').value }
      const courts = splitList($('client-courts').value)
      const orgs = splitList($('client-orgs').value)
      const regions = splitList($('client-regions').value)
      if (courts.length) body.courtCodes = courts
      if (orgs.length) body.organizationIds = orgs
      if (regions.length) body.regionCodes = regions
      const created = await api('POST', '/v1/clients', body)
      showSecret(created.apiKey, created.keyId)
      ev.target.reset()
      await loaders.clients()
    })()
  })

  $('year-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    openYear(Number($('year-other').value)).catch(failed)
  })
  $('calendar-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    action(ev.target.querySelector('button'), async () => {
      const year = ev.target.dataset.year
      const saved = await api('PUT', `/v1/calendar/${year}`, {
        holidays: splitList($('calendar-holidays').value),
        workdays: splitList($('calendar-workdays').value),
      })
      flash(`${saved.year} 已发布 published (${saved.holidays.length} / ${saved.workdays.length})`)
      await openYear(saved.year)
      await loaders.calendar()
    })()
  })

  if (sessionStorage.getItem(KEY)) showApp()
})
