/** Pure validators shared by the contract's schemas; no Node, no DOM. */

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export const isIPv4 = (s: string): boolean => IPV4.test(s);

/** IPv6 in its textual forms (with `::` compression and an optional embedded IPv4 tail), no zone id. */
export const isIPv6 = (s: string): boolean => {
  if (s.length > 45 || !/^[0-9a-f:.]+$/i.test(s)) return false;
  let body = s;
  let maxGroups = 8;
  const lastColon = s.lastIndexOf(':');
  if (lastColon < 0) return false;
  if (s.slice(lastColon + 1).includes('.')) {
    if (!isIPv4(s.slice(lastColon + 1))) return false;
    body = s.slice(0, lastColon + 1);
    if (!body.endsWith('::')) body = body.slice(0, -1);
    maxGroups = 6;
  }
  const halves = body.split('::');
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === '' ? [] : h.split(':')));
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return false;
  return halves.length === 2 ? groups.length < maxGroups : groups.length === maxGroups;
};

/** A DNS host name (RFC 1123 labels, at most 253 characters, no trailing dot, not all-numeric at the end). */
export const isDnsName = (s: string): boolean => {
  if (s.length === 0 || s.length > 253 || s.endsWith('.')) return false;
  const labels = s.split('.');
  // RFC 3696 §2: a top-level label is never all-numeric, so 256.1.1.1 is neither an address nor a name.
  return labels.every((l) => LABEL.test(l)) && !/^\d+$/.test(labels[labels.length - 1] ?? '');
};

/** What an admin may type as a server address: a DNS name, an IPv4 or an IPv6 address. */
export const isHostAddress = (s: string): boolean => isDnsName(s) || isIPv4(s) || isIPv6(s);

/** A POSIX login name as `useradd` accepts by default. */
export const isUnixUser = (s: string): boolean => /^[a-z_][a-z0-9_-]{0,31}\$?$/i.test(s);
