/**
 * SSRF guard for subscription URLs (contract §4, reliability row 19).
 *
 * A subscription URL makes the connector send requests from inside the operator's network, so a URL pointing at
 * loopback, the private network or a cloud metadata service would turn it into a proxy for an attacker. URLs are
 * checked twice:
 *
 * 1. at registration and before each attempt, with {@link checkUrlSyntax} and {@link resolveAndCheck};
 * 2. at connect time, with {@link guardedLookup} as the `lookup` option of `http.request` / `https.request` /
 *    `net.connect` (or undici's `connect.lookup`), so a name that resolved to a public address a moment ago
 *    cannot be re-pointed at 127.0.0.1 between the check and the connection (DNS rebinding).
 *
 * Node never calls `lookup` for a host that is already an IP literal, so step 1 is what covers literals;
 * literals cannot be rebound, so checking them once per attempt is enough.
 */
import { promises as dnsPromises, type LookupAddress, type LookupAllOptions } from 'node:dns'
import { BlockList, isIP, type LookupFunction } from 'node:net'

/** What an address is, as far as outbound webhooks are concerned. */
export type AddressClass = 'public' | 'loopback' | 'private' | 'link_local' | 'metadata' | 'unspecified' | 'other_reserved'

type Family = 'ipv4' | 'ipv6'
type Rule = readonly [address: string, prefix: number]

/** Builds one BlockList from CIDR rules of a single family, so IPv4 rules never match IPv6 input by accident. */
function table(family: Family, rules: readonly Rule[]): BlockList {
  const list = new BlockList()
  for (const [address, prefix] of rules) list.addSubnet(address, prefix, family)
  return list
}

/**
 * IPv4 tables, checked in this order (the first match wins, so the specific metadata addresses come before the
 * link-local and CGNAT ranges that contain them).
 */
const IPV4_TABLES: ReadonlyArray<readonly [AddressClass, BlockList]> = [
  [
    'metadata',
    table('ipv4', [
      ['169.254.169.254', 32], // AWS, GCP, Azure, OpenStack, Oracle, Tencent Cloud, Huawei Cloud
      ['169.254.170.2', 32], // AWS ECS task metadata
      ['100.100.100.200', 32], // Alibaba Cloud
      ['192.0.0.192', 32], // Oracle Cloud (legacy)
    ]),
  ],
  ['unspecified', table('ipv4', [['0.0.0.0', 32]])],
  ['loopback', table('ipv4', [['127.0.0.0', 8]])],
  ['link_local', table('ipv4', [['169.254.0.0', 16]])],
  [
    'private',
    table('ipv4', [
      ['10.0.0.0', 8],
      ['172.16.0.0', 12],
      ['192.168.0.0', 16],
      ['100.64.0.0', 10], // CGNAT (RFC 6598): often the provider's internal network
    ]),
  ],
  [
    'other_reserved',
    table('ipv4', [
      ['0.0.0.0', 8], // "this network"; Linux connects 0.x to the local host
      ['192.0.0.0', 24], // IETF protocol assignments
      ['192.0.2.0', 24], // TEST-NET-1
      ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
      ['198.18.0.0', 15], // benchmarking
      ['198.51.100.0', 24], // TEST-NET-2
      ['203.0.113.0', 24], // TEST-NET-3
      ['224.0.0.0', 4], // multicast
      ['240.0.0.0', 4], // reserved, including 255.255.255.255 broadcast
    ]),
  ],
]

/** IPv6 tables, checked in order after IPv4-embedding prefixes have been handled. */
const IPV6_TABLES: ReadonlyArray<readonly [AddressClass, BlockList]> = [
  ['metadata', table('ipv6', [['fd00:ec2::254', 128]])], // AWS (IPv6 instance metadata)
  ['unspecified', table('ipv6', [['::', 128]])],
  ['loopback', table('ipv6', [['::1', 128]])],
  ['link_local', table('ipv6', [['fe80::', 10]])],
  ['private', table('ipv6', [['fc00::', 7]])], // unique local addresses
  [
    'other_reserved',
    table('ipv6', [
      ['::', 96], // IPv4-compatible (deprecated)
      ['::ffff:0:0:0', 96], // IPv4-translated (SIIT)
      ['64:ff9b:1::', 48], // local-use NAT64: its IPv4 side is site-specific
      ['100::', 64], // discard-only
      ['2001::', 23], // IETF protocol assignments, including Teredo
      ['2001:db8::', 32], // documentation
      ['2002::', 16], // 6to4 (deprecated): would tunnel to an embedded IPv4 address
      ['3fff::', 20], // documentation
      ['5f00::', 16], // SRv6 SIDs
      ['fec0::', 10], // site-local (deprecated)
      ['ff00::', 8], // multicast
    ]),
  ],
]

/** Global unicast: the only IPv6 space currently handed out for public hosts. */
const IPV6_GLOBAL_UNICAST = table('ipv6', [['2000::', 3]])

/** Prefixes whose last 32 bits are an IPv4 address that the packet effectively goes to. */
const IPV4_MAPPED = table('ipv6', [['::ffff:0:0', 96]])
const NAT64_WELL_KNOWN = table('ipv6', [['64:ff9b::', 96]])

/** Removes URL brackets and a zone id (`fe80::1%eth0`), which are notation, not part of the address. */
function bareAddress(ip: string): string {
  let value = ip.trim()
  if (value.startsWith('[') && value.endsWith(']')) value = value.slice(1, -1)
  const zone = value.indexOf('%')
  if (zone >= 0 && value.includes(':')) value = value.slice(0, zone)
  return value
}

/**
 * Expands a valid IPv6 address into its eight 16-bit groups. Only called after `isIP` accepted the text, so the
 * parsing can rely on well-formed input (at most one `::`, an optional dotted IPv4 tail).
 */
function ipv6Groups(ip: string): number[] {
  let text = ip
  const lastColon = text.lastIndexOf(':')
  if (text.includes('.', lastColon)) {
    // Rewrite the dotted tail (`::ffff:1.2.3.4`) as two hex groups so only one syntax remains to parse.
    const [a, b, c, d] = text
      .slice(lastColon + 1)
      .split('.')
      .map(Number)
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)))
  const doubleColon = text.indexOf('::')
  if (doubleColon < 0) return parse(text)
  const head = parse(text.slice(0, doubleColon))
  const rest = parse(text.slice(doubleColon + 2))
  return [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest]
}

function embeddedIpv4(groups: readonly number[]): string {
  const hi = groups[6]
  const lo = groups[7]
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`
}

function classifyIpv4(ip: string): AddressClass {
  for (const [category, list] of IPV4_TABLES) {
    if (list.check(ip, 'ipv4')) return category
  }
  return 'public'
}

/**
 * Classifies an IPv4 or IPv6 address (brackets and zone ids tolerated).
 *
 * IPv4-mapped (`::ffff:a.b.c.d`) and well-known NAT64 (`64:ff9b::a.b.c.d`) addresses are classified by the IPv4
 * address they carry, because that is where the connection really goes: `::ffff:127.0.0.1` is loopback.
 * Unassigned IPv6 space counts as reserved, so only global unicast can be `public`.
 *
 * @throws TypeError if the text is not an IP address.
 */
export function classifyAddress(ip: string): AddressClass {
  const address = bareAddress(ip)
  const version = isIP(address)
  if (version === 4) return classifyIpv4(address)
  if (version !== 6) throw new TypeError(`not an IP address: ${JSON.stringify(ip)}`)

  if (IPV4_MAPPED.check(address, 'ipv6') || NAT64_WELL_KNOWN.check(address, 'ipv6')) {
    return classifyIpv4(embeddedIpv4(ipv6Groups(address)))
  }
  for (const [category, list] of IPV6_TABLES) {
    if (list.check(address, 'ipv6')) return category
  }
  return IPV6_GLOBAL_UNICAST.check(address, 'ipv6') ? 'public' : 'other_reserved'
}

/**
 * Whether webhooks may be sent to this address. Public addresses always; loopback and private ones only when the
 * subscription opted in with `allowPrivateNetwork` (test peers, on-premises receivers); link-local, metadata,
 * unspecified and reserved addresses never, because no legitimate receiver lives there and metadata services
 * hand out cloud credentials. Anything that is not an IP address is refused.
 */
export function isAddressAllowed(ip: string, allowPrivateNetwork: boolean): boolean {
  let category: AddressClass
  try {
    category = classifyAddress(ip)
  } catch {
    return false
  }
  if (category === 'public') return true
  if (category === 'loopback' || category === 'private') return allowPrivateNetwork
  return false
}

/** Why a URL was refused; mapped to 422 `url_not_allowed` by the API. */
export type UrlRefusalReason =
  'invalid_url' | 'url_too_long' | 'unsupported_scheme' | 'credentials_in_url' | 'missing_host' | 'resolution_failed' | 'address_not_allowed'

/** A refusal with a stable reason and a human-readable detail. */
export interface UrlRefusal {
  ok: false
  reason: UrlRefusalReason
  detail: string
}

/** Longest accepted URL: generous for real endpoints, small enough to log and store without surprises. */
export const MAX_URL_LENGTH = 2048

/**
 * Checks what can be checked without the network: an absolute http(s) URL with a host and without credentials.
 *
 * Credentials are refused because they would be stored and shown to operators in plain text; the webhook
 * signature is how receivers authenticate the sender. WHATWG parsing also normalises exotic IPv4 spellings
 * (`0x7f.1`, `2130706433`) to dotted form, so the address checks that follow see the real address.
 */
export function checkUrlSyntax(url: string): { ok: true; url: URL } | UrlRefusal {
  if (url.length > MAX_URL_LENGTH) {
    return { ok: false, reason: 'url_too_long', detail: `URL is longer than ${MAX_URL_LENGTH} characters` }
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return { ok: false, reason: 'invalid_url', detail: 'not an absolute URL' }
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return { ok: false, reason: 'unsupported_scheme', detail: 'only http and https URLs are accepted' }
  }
  if (parsed.username !== '' || parsed.password !== '') {
    return { ok: false, reason: 'credentials_in_url', detail: 'URLs must not contain a user name or password' }
  }
  if (parsed.hostname === '') {
    return { ok: false, reason: 'missing_host', detail: 'URL has no host' }
  }
  return { ok: true, url: parsed }
}

/** Resolves every address of a host name; `dns.promises.lookup` by default, injectable for tests. */
export type ResolveAll = (hostname: string, options: LookupAllOptions) => Promise<LookupAddress[]>

/** The address a URL will be contacted at, after all checks passed. */
export interface ResolvedTarget {
  ok: true
  address: string
  family: 4 | 6
}

const defaultResolve: ResolveAll = (hostname, options) => dnsPromises.lookup(hostname, options)

/**
 * Resolves the URL's host and checks every address it resolves to.
 *
 * All addresses, not just the first, must be allowed: the connection may use any of them (happy eyeballs
 * tries IPv6 and IPv4), so a name with one public and one loopback address is refused. IP literals, bracketed
 * IPv6 included, are checked without a lookup.
 */
export async function resolveAndCheck(url: URL, allowPrivateNetwork: boolean, lookup: ResolveAll = defaultResolve): Promise<ResolvedTarget | UrlRefusal> {
  const host = bareAddress(url.hostname)
  if (host === '') return { ok: false, reason: 'missing_host', detail: 'URL has no host' }

  let addresses: LookupAddress[]
  const literal = isIP(host)
  if (literal !== 0) {
    addresses = [{ address: host, family: literal }]
  } else {
    try {
      addresses = await lookup(host, { all: true })
    } catch (err) {
      const code = err instanceof Error && 'code' in err ? String((err as NodeJS.ErrnoException).code) : 'unknown'
      return { ok: false, reason: 'resolution_failed', detail: `host name could not be resolved (${code})` }
    }
    if (addresses.length === 0) {
      return { ok: false, reason: 'resolution_failed', detail: 'host name resolved to no address' }
    }
  }

  for (const { address } of addresses) {
    if (!isAddressAllowed(address, allowPrivateNetwork)) {
      let category: string
      try {
        category = classifyAddress(address)
      } catch {
        category = 'invalid'
      }
      return {
        ok: false,
        reason: 'address_not_allowed',
        detail: `${host} resolves to ${address} (${category}), which is not an allowed address`,
      }
    }
  }
  const first = addresses[0]
  return { ok: true, address: first.address, family: first.family === 6 ? 6 : 4 }
}

/** Syntax check and address check in one call, for registration and PATCH. */
export async function checkUrl(
  url: string,
  allowPrivateNetwork: boolean,
  lookup: ResolveAll = defaultResolve,
): Promise<({ url: URL } & ResolvedTarget) | UrlRefusal> {
  const syntax = checkUrlSyntax(url)
  if (!syntax.ok) return syntax
  const resolved = await resolveAndCheck(syntax.url, allowPrivateNetwork, lookup)
  if (!resolved.ok) return resolved
  return { ...resolved, url: syntax.url }
}

/** Error code a refused connection carries, so the delivery worker can classify it as `url_not_allowed`. */
export const URL_NOT_ALLOWED = 'URL_NOT_ALLOWED'

/** Raised through the socket when {@link guardedLookup} refuses an address. */
export class UrlNotAllowedError extends Error {
  readonly code = URL_NOT_ALLOWED
  readonly hostname: string
  readonly address: string

  constructor(hostname: string, address: string) {
    super(`connection to ${hostname} refused: ${address} is not an allowed address`)
    this.name = 'UrlNotAllowedError'
    this.hostname = hostname
    this.address = address
  }
}

function toErrno(err: unknown): NodeJS.ErrnoException {
  return err instanceof Error ? err : new Error(String(err))
}

/**
 * A `lookup` for `http.request` / `net.connect` that resolves the name and refuses the connection when any
 * resolved address is not allowed, with an error whose `code` is `URL_NOT_ALLOWED`.
 *
 * Doing the check inside the lookup ties it to the address the socket actually connects to, which closes the
 * window a separate "resolve, check, then connect" sequence leaves for DNS rebinding. It honours `all: true`
 * (Node asks for every address when happy eyeballs is on) and the requested family.
 */
export function guardedLookup(allowPrivateNetwork: boolean, resolve: ResolveAll = defaultResolve): LookupFunction {
  return (hostname, options, callback) => {
    const wantAll = options.all === true
    const fail = (err: NodeJS.ErrnoException): void => {
      process.nextTick(() => callback(err, wantAll ? [] : ''))
    }
    const host = bareAddress(hostname)
    const literal = isIP(host)
    const pending: Promise<LookupAddress[]> =
      literal !== 0 ? Promise.resolve([{ address: host, family: literal }]) : resolve(host, { family: options.family, hints: options.hints, all: true })
    pending.then(
      (addresses) => {
        if (addresses.length === 0) {
          const err: NodeJS.ErrnoException = new Error(`${hostname} resolved to no address`)
          err.code = 'ENOTFOUND'
          fail(err)
          return
        }
        const refused = addresses.find((a) => !isAddressAllowed(a.address, allowPrivateNetwork))
        if (refused) {
          fail(new UrlNotAllowedError(hostname, refused.address))
          return
        }
        // The callback runs outside the promise chain so an exception in it surfaces instead of being swallowed.
        if (wantAll) {
          process.nextTick(() => callback(null, addresses))
        } else {
          const first = addresses[0]
          process.nextTick(() => callback(null, first.address, first.family))
        }
      },
      (err: unknown) => fail(toErrno(err)),
    )
  }
}
