import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { LookupAddress, LookupAllOptions } from 'node:dns'
import t from 'tap'
import {
  checkUrl,
  checkUrlSyntax,
  classifyAddress,
  guardedLookup,
  isAddressAllowed,
  resolveAndCheck,
  URL_NOT_ALLOWED,
  UrlNotAllowedError,
  type AddressClass,
  type ResolveAll,
} from '../../src/delivery/url-guard.js'

/** A resolver answering from a fixed table, so tests never depend on real DNS. */
function fakeResolver(table: Record<string, string[]>, calls: string[] = []): ResolveAll {
  return async (hostname: string, _options: LookupAllOptions): Promise<LookupAddress[]> => {
    calls.push(hostname)
    const addresses = table[hostname]
    if (!addresses) {
      const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`)
      err.code = 'ENOTFOUND'
      throw err
    }
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
  }
}

t.test('classifyAddress', async (t) => {
  const cases: Array<[string, AddressClass]> = [
    // IPv4
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['93.184.216.34', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.15.255.255', 'public'],
    ['172.32.0.0', 'public'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['100.127.255.255', 'private'],
    ['100.128.0.0', 'public'],
    ['169.254.0.1', 'link_local'],
    ['169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'other_reserved'],
    ['224.0.0.1', 'other_reserved'],
    ['239.255.255.250', 'other_reserved'],
    ['255.255.255.255', 'other_reserved'],
    ['240.0.0.1', 'other_reserved'],
    ['192.0.2.1', 'other_reserved'],
    ['198.18.0.1', 'other_reserved'],
    ['198.51.100.7', 'other_reserved'],
    ['203.0.113.9', 'other_reserved'],
    // IPv6
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link_local'],
    ['fe80::1%eth0', 'link_local'],
    ['febf::1', 'link_local'],
    ['fc00::1', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fd00:ec2::254', 'metadata'],
    ['FD00:EC2:0:0:0:0:0:254', 'metadata'],
    ['ff02::1', 'other_reserved'],
    ['2001:db8::1', 'other_reserved'],
    ['2002:7f00:1::', 'other_reserved'],
    ['2001::1', 'other_reserved'],
    ['::127.0.0.1', 'other_reserved'],
    ['fec0::1', 'other_reserved'],
    ['4000::1', 'other_reserved'],
    ['2606:4700:4700::1111', 'public'],
    ['2404:6800:4008:c01::64', 'public'],
    // IPv4 carried in IPv6 is classified by its IPv4 address
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['[::ffff:127.0.0.1]', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['::ffff:0.0.0.0', 'unspecified'],
    ['::ffff:8.8.8.8', 'public'],
    ['0:0:0:0:0:ffff:808:808', 'public'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b::8.8.8.8', 'public'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
  ]
  for (const [ip, expected] of cases) {
    t.equal(classifyAddress(ip), expected, ip)
  }
  for (const bad of ['', 'localhost', '1.2.3', '256.1.1.1', '::ffff:1.2.3', '12345::', 'example.com']) {
    t.throws(() => classifyAddress(bad), TypeError, JSON.stringify(bad))
  }
})

t.test('isAddressAllowed', async (t) => {
  const cases: Array<[string, boolean, boolean]> = [
    // ip, allowed without opt-in, allowed with allowPrivateNetwork
    ['8.8.8.8', true, true],
    ['2606:4700:4700::1111', true, true],
    ['127.0.0.1', false, true],
    ['::1', false, true],
    ['::ffff:127.0.0.1', false, true],
    ['10.0.0.1', false, true],
    ['172.16.5.4', false, true],
    ['192.168.0.10', false, true],
    ['100.64.0.1', false, true],
    ['fd12::1', false, true],
    ['169.254.1.1', false, false],
    ['fe80::1', false, false],
    ['169.254.169.254', false, false],
    ['::ffff:169.254.169.254', false, false],
    ['fd00:ec2::254', false, false],
    ['100.100.100.200', false, false],
    ['0.0.0.0', false, false],
    ['::', false, false],
    ['224.0.0.1', false, false],
    ['255.255.255.255', false, false],
    ['not an ip', false, false],
  ]
  for (const [ip, strict, relaxed] of cases) {
    t.equal(isAddressAllowed(ip, false), strict, `${ip} without opt-in`)
    t.equal(isAddressAllowed(ip, true), relaxed, `${ip} with allowPrivateNetwork`)
  }
})

t.test('checkUrlSyntax', async (t) => {
  const ok = ['https://example.com/hook', 'http://example.com:8080/a?b=c', 'https://[2606:4700::1]/x', 'http://127.0.0.1:3000/']
  for (const url of ok) {
    const result = checkUrlSyntax(url)
    t.ok(result.ok, url)
    if (result.ok) t.type(result.url, URL)
  }
  const refused: Array<[string, string]> = [
    ['not a url', 'invalid_url'],
    ['/relative/path', 'invalid_url'],
    ['', 'invalid_url'],
    ['ftp://example.com/', 'unsupported_scheme'],
    ['file:///etc/passwd', 'unsupported_scheme'],
    ['gopher://example.com/', 'unsupported_scheme'],
    ['javascript:alert(1)', 'unsupported_scheme'],
    ['https://user:pass@example.com/', 'credentials_in_url'],
    ['https://user@example.com/', 'credentials_in_url'],
    ['https://:pass@example.com/', 'credentials_in_url'],
    ['http://', 'invalid_url'],
    ['https://[::1/', 'invalid_url'],
    [`https://example.com/${'a'.repeat(2100)}`, 'url_too_long'],
  ]
  for (const [url, reason] of refused) {
    const result = checkUrlSyntax(url)
    t.equal(result.ok, false, url)
    if (!result.ok) t.equal(result.reason, reason, url.slice(0, 60))
  }
  // Exotic IPv4 spellings are normalised by the WHATWG parser, so later checks see the real address.
  for (const spelling of ['http://0x7f.1/', 'http://2130706433/', 'http://0177.0.0.1/', 'http://127.1/']) {
    const result = checkUrlSyntax(spelling)
    t.ok(result.ok && result.url.hostname === '127.0.0.1', spelling)
  }
})

t.test('resolveAndCheck', async (t) => {
  const resolve = fakeResolver({
    'public.test': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    'loopback.test': ['127.0.0.1'],
    'mixed.test': ['93.184.216.34', '127.0.0.1'],
    'private.test': ['10.1.2.3'],
    'metadata.test': ['169.254.169.254'],
    'mapped.test': ['::ffff:127.0.0.1'],
    'empty.test': [],
  })
  const check = (url: string, allow: boolean) => resolveAndCheck(new URL(url), allow, resolve)

  t.same(await check('https://public.test/hook', false), { ok: true, address: '93.184.216.34', family: 4 })
  t.same(await check('http://[2606:4700::1]/', false), { ok: true, address: '2606:4700::1', family: 6 })
  t.same(await check('http://8.8.8.8/', false), { ok: true, address: '8.8.8.8', family: 4 })

  const refused: Array<[string, boolean, string]> = [
    ['http://127.0.0.1/', false, 'address_not_allowed'],
    ['http://[::1]:8080/', false, 'address_not_allowed'],
    ['http://[::ffff:127.0.0.1]/', false, 'address_not_allowed'],
    ['http://0x7f.1/', false, 'address_not_allowed'],
    ['http://169.254.169.254/latest/meta-data/', false, 'address_not_allowed'],
    ['http://169.254.169.254/latest/meta-data/', true, 'address_not_allowed'],
    ['http://[fd00:ec2::254]/', true, 'address_not_allowed'],
    ['http://100.100.100.200/', true, 'address_not_allowed'],
    ['http://10.0.0.1/', false, 'address_not_allowed'],
    ['http://0.0.0.0/', true, 'address_not_allowed'],
    ['http://loopback.test/', false, 'address_not_allowed'],
    ['http://mixed.test/', false, 'address_not_allowed'],
    ['http://private.test/', false, 'address_not_allowed'],
    ['http://metadata.test/', true, 'address_not_allowed'],
    ['http://mapped.test/', false, 'address_not_allowed'],
    ['http://unknown.test/', true, 'resolution_failed'],
    ['http://empty.test/', true, 'resolution_failed'],
  ]
  for (const [url, allow, reason] of refused) {
    const result = await check(url, allow)
    t.equal(result.ok, false, `${url} (allowPrivateNetwork ${allow})`)
    if (!result.ok) t.equal(result.reason, reason, url)
  }

  const allowed: Array<[string, string]> = [
    ['http://127.0.0.1:3000/', '127.0.0.1'],
    ['http://[::1]:3000/', '::1'],
    ['http://loopback.test/', '127.0.0.1'],
    ['http://private.test/', '10.1.2.3'],
    ['http://mixed.test/', '93.184.216.34'],
  ]
  for (const [url, address] of allowed) {
    const result = await check(url, true)
    t.ok(result.ok && result.address === address, `${url} allowed with allowPrivateNetwork`)
  }

  const detail = await check('http://metadata.test/', true)
  t.ok(!detail.ok && detail.detail.includes('metadata'), 'detail names the category')
})

t.test('resolveAndCheck with real DNS: localhost is refused', async (t) => {
  const result = await resolveAndCheck(new URL('http://localhost:9/'), false)
  t.equal(result.ok, false)
  if (!result.ok) t.equal(result.reason, 'address_not_allowed')
})

t.test('checkUrl combines syntax and address checks', async (t) => {
  const resolve = fakeResolver({ 'public.test': ['93.184.216.34'] })
  const good = await checkUrl('https://public.test/hook', false, resolve)
  t.ok(good.ok && good.url.href === 'https://public.test/hook' && good.address === '93.184.216.34')
  const bad = await checkUrl('ftp://public.test/', false, resolve)
  t.ok(!bad.ok && bad.reason === 'unsupported_scheme')
  const loop = await checkUrl('http://[::1]/', false, resolve)
  t.ok(!loop.ok && loop.reason === 'address_not_allowed')
})

interface RequestOutcome {
  status?: number
  code?: string
  error?: Error
}

function request(url: string, lookup: ReturnType<typeof guardedLookup>): Promise<RequestOutcome> {
  return new Promise((resolve) => {
    const req = http.request(url, { lookup, agent: false, timeout: 5_000 }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ code: error.code, error }))
    req.end()
  })
}

t.test('guardedLookup refuses disallowed addresses at connect time', async (t) => {
  let hits = 0
  const server = http.createServer((_req, res) => {
    hits++
    res.end('ok')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as AddressInfo

  const resolve = fakeResolver({
    'receiver.test': ['127.0.0.1'],
    'metadata.test': ['169.254.169.254'],
    'half.test': ['127.0.0.1', '169.254.169.254'],
  })

  t.test('a name resolving to loopback is refused without allowPrivateNetwork', async (t) => {
    const outcome = await request(`http://receiver.test:${port}/`, guardedLookup(false, resolve))
    t.equal(outcome.code, URL_NOT_ALLOWED)
    t.type(outcome.error, UrlNotAllowedError)
    t.equal(hits, 0, 'the server saw nothing')
  })

  t.test('the same name succeeds with allowPrivateNetwork', async (t) => {
    const outcome = await request(`http://receiver.test:${port}/`, guardedLookup(true, resolve))
    t.equal(outcome.status, 200)
    t.equal(hits, 1)
  })

  t.test('localhost (real resolver) is refused without allowPrivateNetwork', async (t) => {
    const outcome = await request(`http://localhost:${port}/`, guardedLookup(false))
    t.equal(outcome.code, URL_NOT_ALLOWED)
  })

  t.test('localhost (real resolver) succeeds with allowPrivateNetwork', async (t) => {
    const outcome = await request(`http://localhost:${port}/`, guardedLookup(true))
    t.equal(outcome.status, 200)
  })

  t.test('metadata is refused even with allowPrivateNetwork', async (t) => {
    const outcome = await request(`http://metadata.test:${port}/`, guardedLookup(true, resolve))
    t.equal(outcome.code, URL_NOT_ALLOWED)
    if (outcome.error instanceof UrlNotAllowedError) t.equal(outcome.error.address, '169.254.169.254')
  })

  t.test('one refused address among several refuses the connection', async (t) => {
    const outcome = await request(`http://half.test:${port}/`, guardedLookup(true, resolve))
    t.equal(outcome.code, URL_NOT_ALLOWED)
  })

  t.test('DNS rebinding: passed the pre-check, refused at connect', async (t) => {
    let calls = 0
    const rebinding: ResolveAll = async () => {
      calls++
      return [{ address: calls === 1 ? '93.184.216.34' : '127.0.0.1', family: 4 }]
    }
    const pre = await resolveAndCheck(new URL(`http://rebind.test:${port}/`), false, rebinding)
    t.ok(pre.ok, 'first answer is public')
    const outcome = await request(`http://rebind.test:${port}/`, guardedLookup(false, rebinding))
    t.equal(outcome.code, URL_NOT_ALLOWED)
    t.equal(calls, 2)
  })

  t.test('resolution errors pass through', async (t) => {
    const outcome = await request(`http://unknown.test:${port}/`, guardedLookup(true, resolve))
    t.equal(outcome.code, 'ENOTFOUND')
  })

  t.test('IP literals never reach lookup: resolveAndCheck is what covers them', async (t) => {
    const calls: string[] = []
    const outcome = await request(`http://127.0.0.1:${port}/`, guardedLookup(true, fakeResolver({}, calls)))
    t.equal(outcome.status, 200)
    t.same(calls, [], 'Node connected to the literal without a lookup')
    const pre = await resolveAndCheck(new URL(`http://127.0.0.1:${port}/`), false)
    t.equal(pre.ok, false, 'the per-attempt check refuses the literal')
  })
})

t.test('guardedLookup as a plain callback function', async (t) => {
  const resolve = fakeResolver({ 'dual.test': ['8.8.8.8', '2001:4860:4860::8888'] })
  const lookup = guardedLookup(false, resolve)

  const one = await new Promise<[string | LookupAddress[], number | undefined]>((done, fail) =>
    lookup('dual.test', {}, (err, address, family) => (err ? fail(err) : done([address, family]))),
  )
  t.same(one, ['8.8.8.8', 4], 'single address by default')

  const all = await new Promise<string | LookupAddress[]>((done, fail) =>
    lookup('dual.test', { all: true }, (err, address) => (err ? fail(err) : done(address))),
  )
  t.same(all, [
    { address: '8.8.8.8', family: 4 },
    { address: '2001:4860:4860::8888', family: 6 },
  ])

  const literal = await new Promise<NodeJS.ErrnoException | null>((done) => lookup('[::1]', {}, (err) => done(err)))
  t.equal(literal?.code, URL_NOT_ALLOWED, 'a literal handed to lookup is checked too')
})
