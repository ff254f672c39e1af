/**
 * Server-side request forgery defence for webhook URLs (contract §10): a delivery may only go to
 * a global unicast address. Every IANA special-purpose range is refused, IPv4 and IPv6 alike,
 * including the IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4, Teredo), since
 * each can lead back to a private one.
 */
import { BlockList, isIP } from 'node:net';

const blockedV4: Array<[string, number]> = [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata services live here)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast address
];

/**
 * Inside 2000::/3, the special-purpose ranges. Everything outside it is refused before these
 * are looked at: ::, ::1, IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, discard 100::/64,
 * unique-local fc00::/7, link-local fe80::/10, multicast ff00::/8.
 */
const blockedV6: Array<[string, number]> = [
  ['2001::', 23], // IETF protocol assignments (Teredo among them)
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4
  ['3fff::', 20], // documentation
];

const refusedV4 = new BlockList();
for (const [network, prefix] of blockedV4) refusedV4.addSubnet(network, prefix, 'ipv4');

/** IPv6 global unicast is 2000::/3. */
const globalUnicastV6 = new BlockList();
globalUnicastV6.addSubnet('2000::', 3, 'ipv6');
const refusedV6 = new BlockList();
for (const [network, prefix] of blockedV6) refusedV6.addSubnet(network, prefix, 'ipv6');

/** True only for a global unicast IPv4 or IPv6 address; false for anything else, names included. */
export function isGlobalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !refusedV4.check(address, 'ipv4');
  if (family === 6) {
    // A zone index (fe80::1%eth0) only ever comes with a link-local address.
    if (address.includes('%')) return false;
    return globalUnicastV6.check(address, 'ipv6') && !refusedV6.check(address, 'ipv6');
  }
  return false;
}

/** The host of a URL as an address or a name: IPv6 literals without their brackets. */
export function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * Why a webhook URL cannot be registered, or undefined when it can. The address rules are
 * checked again on every connection (see send.ts): a name may resolve elsewhere later.
 */
export function webhookUrlProblem(raw: string, allowInsecure: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol !== 'https:' && !(allowInsecure && url.protocol === 'http:')) return 'must be an https URL';
  if (url.username !== '' || url.password !== '') return 'must not carry a user name or password';
  if (url.hash !== '') return 'must not have a fragment';
  if (allowInsecure) return undefined;
  const host = hostOf(url).toLowerCase();
  if (isIP(host) !== 0 ? !isGlobalAddress(host) : host === 'localhost' || host.endsWith('.localhost')) {
    return 'must not point at a loopback, private, link-local or other non-global address';
  }
  return undefined;
}
