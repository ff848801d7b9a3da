// Where the bridge may connect when a registry sends it elsewhere (a token realm, a blob redirect): SSRF defence
// (go-containerregistry validateRealmURL, #2258). The check is on the addresses a host name resolves to, with every
// IPv6 form that embeds an IPv4 address (::ffff:127.0.0.1, ::127.0.0.1, NAT64, 6to4) judged as that IPv4 address,
// and the connection is then pinned to a checked address, so a second DNS answer cannot swap in another one.

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** public: the internet; private: RFC 1918, CGNAT, IPv6 ULA; local: this machine, link-local (cloud metadata), and the rest. */
export type AddressClass = 'public' | 'private' | 'local';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

const PRIVATE_RANGES = new Set(['private', 'carrierGradeNat', 'uniqueLocal']);
// IPv6 ranges whose low 32 bits are an IPv4 address that the packet ends up at (or a gateway acts for).
const EMBEDDED_IPV4_RANGES = new Set(['ipv4Mapped', 'rfc6145', 'rfc6052']);

export function classifyAddress(address: string): AddressClass {
  const parsed = embeddedIpv4(ipaddr.parse(address));
  const range = parsed.range();
  if (range === 'unicast') return 'public';
  return PRIVATE_RANGES.has(range) ? 'private' : 'local';
}

/** The IPv4 address an IPv6 address stands for, when it stands for one; otherwise the address itself. */
function embeddedIpv4(parsed: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  if (parsed.kind() === 'ipv4') return parsed;
  const v6 = parsed as ipaddr.IPv6;
  const range = v6.range();
  const parts = v6.parts;
  const low32 = (): ipaddr.IPv4 => new ipaddr.IPv4([parts[6]! >> 8, parts[6]! & 0xff, parts[7]! >> 8, parts[7]! & 0xff]);
  if (EMBEDDED_IPV4_RANGES.has(range)) return low32();
  if (range === '6to4') return new ipaddr.IPv4([parts[1]! >> 8, parts[1]! & 0xff, parts[2]! >> 8, parts[2]! & 0xff]);
  // IPv4-compatible (::a.b.c.d, deprecated but still routed by some stacks); :: and ::1 keep their own ranges.
  if (range === 'unicast' && parts.slice(0, 6).every((part) => part === 0)) return low32();
  return v6;
}

/** The canonical text of an address, IPv4 for the embedding IPv6 forms, so two spellings of one address compare equal. */
export function canonicalAddress(address: string): string {
  return embeddedIpv4(ipaddr.parse(address)).toString();
}

/** A URL's host name as an address list: an IP literal as itself, a name through the system resolver. */
export async function resolveHost(hostname: string): Promise<ResolvedAddress[]> {
  const bare = hostname.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 4 || family === 6) return [{ address: bare, family }];
  const answers = await lookup(bare, { all: true, verbatim: true });
  return answers.map((answer) => ({ address: answer.address, family: answer.family === 6 ? 6 : 4 }));
}

export interface HopPolicy {
  /** The addresses of the registry itself (the host the admin configured). */
  registryAddresses: readonly ResolvedAddress[];
  /**
   * A token realm may sit on the registry's own machine (another port, e.g. a local token server); a redirect to
   * another origin on this machine is never followed.
   */
  mayShareRegistryAddress: boolean;
}

/**
 * Which of a host's addresses the bridge may connect to for a hop away from the registry: public ones always;
 * private ones when the registry itself is not on the internet (then its token service and storage are private
 * too); this machine's and link-local ones only where the policy lets a realm share the registry's own address.
 */
export function allowedAddresses(candidates: readonly ResolvedAddress[], policy: HopPolicy): ResolvedAddress[] {
  const registryIsPublic = policy.registryAddresses.every((a) => classifyAddress(a.address) === 'public');
  const registryOwn = new Set(policy.registryAddresses.map((a) => canonicalAddress(a.address)));
  return candidates.filter(({ address }) => {
    const kind = classifyAddress(address);
    if (kind === 'public') return true;
    if (kind === 'private' && !registryIsPublic) return true;
    return policy.mayShareRegistryAddress && registryOwn.has(canonicalAddress(address));
  });
}

export function describeAddressClass(address: string): string {
  const kind = classifyAddress(address);
  if (kind === 'private') return 'a private-network address';
  if (kind === 'public') return 'a public address';
  const range = embeddedIpv4(ipaddr.parse(address)).range();
  if (range === 'loopback' || range === 'unspecified') return 'an address of this machine';
  if (range === 'linkLocal') return 'a link-local address (such as a cloud metadata service)';
  return `a reserved address (${range})`;
}
