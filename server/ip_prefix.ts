/**
 * IP addresses and prefixes: parsing (IPv4, IPv6, IPv4-mapped), canonical text and matching,
 * for address bans and per-address limits.
 * @module
 */

/** A parsed IP address or prefix. */
export interface IpPrefix {
  /** 4 or 6. */
  version: 4 | 6;
  /** The address bits, host bits cleared for a prefix. */
  bits: bigint;
  /** Prefix length (32 or 128 for a single address). */
  prefix: number;
}

function parseV4(s: string): bigint | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (m === null) return undefined;
  let v = 0n;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return undefined;
    v = (v << 8n) | BigInt(o);
  }
  return v;
}

function parseV6(s: string): bigint | undefined {
  if (s.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(s)) return undefined;
  let tail: bigint[] = [];
  let body = s;
  const lastColon = s.lastIndexOf(":");
  if (s.includes(".")) {
    const v4 = parseV4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [v4 >> 16n, v4 & 0xffffn];
    body = s.slice(0, lastColon + 1) + "0";
  }
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const group = (g: string) => /^[0-9A-Fa-f]{1,4}$/.test(g) ? BigInt("0x" + g) : undefined;
  const parts = (h: string) => h === "" ? [] : h.split(":").map(group);
  const head = parts(halves[0]);
  const rest = halves.length === 2 ? parts(halves[1]) : [];
  if (tail.length > 0) (halves.length === 2 ? rest : head).pop();
  const known = [...head, ...rest];
  if (known.some((g) => g === undefined)) return undefined;
  const total = known.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const groups = [
    ...head,
    ...new Array<bigint>(8 - total).fill(0n),
    ...rest,
    ...tail,
  ] as bigint[];
  return groups.reduce((a, g) => (a << 16n) | g, 0n);
}

/**
 * Parses `a.b.c.d`, an IPv6 address, or either with `/prefix`; brackets and a `%zone` are
 * ignored, and an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) becomes IPv4. Host bits of a
 * prefix are cleared. Undefined when `text` is not an address.
 */
export function parseIpPrefix(text: string): IpPrefix | undefined {
  if (text.length > 64) return undefined;
  let s = text.startsWith("[") && text.includes("]") ? text.replace(/^\[|\]/g, "") : text;
  let prefix: number | undefined;
  const slash = s.indexOf("/");
  if (slash >= 0) {
    if (!/^\d{1,3}$/.test(s.slice(slash + 1))) return undefined;
    prefix = Number(s.slice(slash + 1));
    s = s.slice(0, slash);
  }
  const pct = s.indexOf("%");
  if (pct >= 0) s = s.slice(0, pct);
  let version: 4 | 6;
  let bits = parseV4(s);
  if (bits !== undefined) version = 4;
  else {
    bits = parseV6(s);
    if (bits === undefined) return undefined;
    version = 6;
    if (bits >> 32n === 0xffffn && (prefix === undefined || prefix >= 96)) {
      version = 4;
      bits &= 0xffffffffn;
      if (prefix !== undefined) prefix -= 96;
    }
  }
  const width = version === 4 ? 32 : 128;
  if (prefix === undefined) prefix = width;
  if (prefix > width) return undefined;
  const hostBits = BigInt(width - prefix);
  bits = (bits >> hostBits) << hostBits;
  return { version, bits, prefix };
}

/** Canonical text of a prefix: dotted IPv4 or compressed lower-case IPv6, `/n` unless single. */
export function formatIpPrefix(p: IpPrefix): string {
  let addr: string;
  if (p.version === 4) {
    addr = [24n, 16n, 8n, 0n].map((s) => String((p.bits >> s) & 0xffn)).join(".");
  } else {
    const groups: number[] = [];
    for (let i = 7; i >= 0; i--) groups.push(Number((p.bits >> BigInt(i * 16)) & 0xffffn));
    let bestAt = -1;
    let bestLen = 1;
    for (let i = 0; i < 8;) {
      if (groups[i] !== 0) {
        i++;
        continue;
      }
      let j = i;
      while (j < 8 && groups[j] === 0) j++;
      if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
      i = j;
    }
    const hex = groups.map((g) => g.toString(16));
    addr = bestAt < 0 ? hex.join(":") : hex.slice(0, bestAt).join(":") + "::" +
      hex.slice(bestAt + bestLen).join(":");
  }
  return p.prefix === (p.version === 4 ? 32 : 128) ? addr : `${addr}/${p.prefix}`;
}

/** True when the address `ip` lies inside the ban target `target` (an address or prefix). */
export function ipMatches(ip: string, target: string): boolean {
  const a = parseIpPrefix(ip);
  const t = parseIpPrefix(target);
  if (a === undefined || t === undefined || a.version !== t.version) return false;
  const hostBits = BigInt((t.version === 4 ? 32 : 128) - t.prefix);
  return (a.bits >> hostBits) === (t.bits >> hostBits);
}

/**
 * What the per-address limits count: an IPv4 address (also when written IPv4-mapped), or the
 * IPv6 /64 an address belongs to, since one host usually holds a whole /64.
 */
export function addressGroup(ip: string): string {
  let group = GROUPS.get(ip);
  if (group === undefined) {
    if (GROUPS.size >= GROUPS_MAX) GROUPS.clear();
    GROUPS.set(ip, group = groupOf(ip));
  }
  return group;
}

/** Address groups of recent addresses: a returning address is not parsed again. */
const GROUPS = new Map<string, string>();
const GROUPS_MAX = 4096;

function groupOf(ip: string): string {
  const one = parseIpPrefix(ip);
  if (one === undefined || one.version === 4) return one === undefined ? ip : formatIpPrefix(one);
  return formatIpPrefix(parseIpPrefix(`${ip}/64`)!);
}
