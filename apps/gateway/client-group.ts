/**
 * Who counts as one client for a per-client limit. An IPv4 address is one client; an IPv6 client is its /64,
 * because one subscriber or host is routinely handed a whole /64 and can pick a fresh address from it for
 * every request, which would make a per-address limit no limit at all.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { RateLimiter } from '../../libs/engine/index.js';

/** The key a per-client limit counts `ip` under: the IPv4 address, or the IPv6 address's /64 as `a:b:c:d::/64`. */
export function clientGroup(ip: string): string {
  const address = ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  if (isIPv4(address)) return address;
  // A zone (`fe80::1%eth0`) names the interface, not the client.
  const bare = address.split('%')[0] ?? address;
  if (!isIPv6(bare)) return address;
  const groups = expandIPv6(bare);
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** A per-client rate limiter: the same limiter, keyed by {@link clientGroup}. */
export function perClient(limiter: RateLimiter): RateLimiter {
  return { take: (ip) => limiter.take(clientGroup(ip)) };
}

/** The eight 16-bit groups of a valid IPv6 address (with `::` and a trailing dotted IPv4 part expanded). */
function expandIPv6(address: string): number[] {
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const zeros = new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...zeros, ...right];
}
