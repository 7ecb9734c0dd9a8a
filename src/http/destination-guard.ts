/**
 * The destination guard (SSRF protection, ARCHITECTURE.md section 6). `checkUrl` vets a URL
 * before anything is sent: scheme, credentials, literal IP addresses and well-known local or
 * metadata host names. `isAllowedAddress` vets every address a host name resolves to; the
 * transport calls it after DNS resolution and connects only to an address it allowed, so a name
 * that resolves differently the second time (DNS rebinding) cannot reach a blocked address.
 */
import ipaddr from "ipaddr.js";
import { InvalidOptionError } from "../core/errors.ts";
import { redactUrl } from "../core/redact.ts";

/**
 * What the settings that open blocked destinations are called where the guard was configured,
 * so that every refusal names the fix that works there: options in-process, flags and
 * environment variables for `steadfast serve`.
 */
export interface GuardSettingNames {
  /** How to allow private networks, such as `allowPrivateNetworks: true`. */
  allowPrivateNetworks: string;
  /** Where allowed ranges are listed, such as `allowCidrs`. */
  allowedCidrs: string;
}

/** The names of `createDestinationGuard`'s own options. */
const GUARD_OPTION_NAMES: GuardSettingNames = {
  allowPrivateNetworks: "allowPrivateNetworks: true",
  allowedCidrs: "allowCidrs",
};

/**
 * Cloud instance-metadata addresses. They stay blocked when `allowPrivateNetworks` is on (a
 * self-hosted instance that may reach its private network still must not hand out its cloud
 * credentials); listing one in `allowCidrs` opens it.
 */
const METADATA_ADDRESSES: ReadonlySet<string> = new Set([
  "169.254.169.254", // AWS, GCP, Azure, Oracle, DigitalOcean
  "169.254.170.2", // AWS ECS task metadata
  "100.100.100.200", // Alibaba Cloud
  "fd00:ec2::254", // AWS, IPv6
]);

/** Host names documented by cloud providers as their metadata service. Always refused. */
const METADATA_HOSTNAMES: ReadonlySet<string> = new Set([
  "metadata.google.internal",
  "metadata.goog",
  "metadata",
  "instance-data",
  "instance-data.ec2.internal",
]);

/** Why an address is refused, for messages. Keys are ipaddr.js range names. */
const RANGE_LABELS: Readonly<Record<string, string>> = {
  unspecified: "unspecified",
  broadcast: "broadcast",
  multicast: "multicast",
  linkLocal: "link-local",
  loopback: "loopback",
  carrierGradeNat: "carrier-grade NAT",
  private: "private (RFC 1918)",
  reserved: "reserved",
  uniqueLocal: "unique-local",
  deprecatedSiteLocal: "site-local",
  ipv4Compatible: "IPv4-compatible (deprecated)",
  metadata: "cloud metadata",
};

/**
 * The fix to quote when an address is refused for `reason` (a `blockedReason` result): metadata
 * addresses open only through the allowlist, the rest also through `allowPrivateNetworks`.
 * `names` are the settings' names where the guard was configured.
 */
export function howToAllow(reason: string, names: GuardSettingNames = GUARD_OPTION_NAMES): string {
  return reason === RANGE_LABELS.metadata
    ? `add the address to ${names.allowedCidrs} to allow it (${names.allowPrivateNetworks} does not open metadata services)`
    : `set ${names.allowPrivateNetworks} or add the range to ${names.allowedCidrs}`;
}

/** The result of `DestinationGuard.checkUrl`. */
export type UrlCheck =
  | { ok: true; url: URL }
  | { ok: false; code: "invalid_url" | "blocked_destination"; message: string };

/** Decides which destinations outgoing requests may reach. */
export interface DestinationGuard {
  /**
   * Parses `url` and refuses what can be refused without DNS: a scheme other than http or https,
   * credentials in the URL, a literal IP address in a blocked range, `localhost` and
   * `*.localhost` while loopback is blocked, and cloud metadata host names. Synchronous.
   */
  checkUrl(url: string): UrlCheck;
  /** True when a connection to `ip` (IPv4 or IPv6 text, IPv4-mapped included) is allowed. */
  isAllowedAddress(ip: string): boolean;
  /** Why `ip` is refused (such as `loopback`), or `undefined` when it is allowed. */
  blockedReason(ip: string): string | undefined;
  /** The fix to quote when an address is refused for `reason`, in the settings' own names. */
  howToAllow(reason: string): string;
}

/** Options of `createDestinationGuard`. */
export interface DestinationGuardOptions {
  /**
   * Allow loopback, private, link-local, unique-local and other non-public addresses. Cloud
   * metadata addresses stay blocked unless listed in `allowCidrs`. Default `false`.
   */
  allowPrivateNetworks?: boolean;
  /**
   * Ranges allowed whatever their kind, in CIDR notation (`10.1.0.0/16`, `fd00::/8`) or as a
   * single address (`169.254.169.254`). Default none. An invalid entry throws at creation.
   */
  allowCidrs?: readonly string[];
  /**
   * What the two settings above are called where they were configured, for refusal messages.
   * Default: these options' own names (`allowPrivateNetworks: true`, `allowCidrs`).
   */
  settingNames?: GuardSettingNames;
}

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

// How many address verdicts a guard keeps.
const MAX_CACHED_VERDICTS = 4_096;

/**
 * Creates the guard. By default only public unicast addresses are allowed: loopback, RFC 1918
 * private, link-local (169.254.169.254 included), unique-local IPv6, unspecified, carrier-grade
 * NAT, multicast, broadcast and reserved ranges are refused, also when written as IPv4-mapped
 * (`::ffff:127.0.0.1`), NAT64 or 6to4 IPv6 addresses.
 *
 * @example
 * const guard = createDestinationGuard({ allowCidrs: ["10.20.0.0/16"] });
 * guard.checkUrl("http://169.254.169.254/latest/meta-data"); // { ok: false, code: "blocked_destination", ... }
 * guard.isAllowedAddress("10.20.1.5"); // true
 */
export function createDestinationGuard(options: DestinationGuardOptions = {}): DestinationGuard {
  const allowPrivate = options.allowPrivateNetworks ?? false;
  const allowed: Cidr[] = (options.allowCidrs ?? []).map(parseAllowedCidr);
  const names = options.settingNames ?? GUARD_OPTION_NAMES;
  const fixFor = (reason: string): string => howToAllow(reason, names);

  // Verdicts per address, so that a stream of calls to one IP does not parse it each time
  // (measured: a tenth of the in-process accept path); `null` is allowed. Bounded: cleared when full.
  const verdicts = new Map<string, string | null>();
  const blockedReason = (ip: string): string | undefined => {
    let verdict = verdicts.get(ip);
    if (verdict === undefined) {
      verdict = judge(ip) ?? null;
      if (verdicts.size >= MAX_CACHED_VERDICTS) verdicts.clear();
      verdicts.set(ip, verdict);
    }
    return verdict ?? undefined;
  };

  const judge = (ip: string): string | undefined => {
    let address: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      address = ipaddr.parse(ip);
    } catch {
      return "not an IP address";
    }
    if (allowed.some((cidr) => matches(address, cidr))) return undefined;
    const reason = classify(address);
    if (reason === undefined) return undefined;
    if (allowPrivate && reason !== "metadata") return undefined;
    return RANGE_LABELS[reason] ?? reason;
  };

  const isAllowedAddress = (ip: string): boolean => blockedReason(ip) === undefined;

  const checkUrl = (input: string): UrlCheck => {
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      return invalid(
        `"${shown(input)}" is not an absolute URL: use http://host/path or https://host/path`,
      );
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return invalid(
        `URL scheme "${url.protocol}" is not supported in "${shown(input)}": use http or https`,
      );
    }
    if (url.username !== "" || url.password !== "") {
      return invalid(
        `URL "${shown(input)}" carries credentials: remove them and send an Authorization header instead`,
      );
    }
    const host = url.hostname.endsWith(".") ? url.hostname.slice(0, -1) : url.hostname;
    if (host === "") return invalid(`URL "${shown(input)}" has no host`);
    const literal = host.startsWith("[") ? host.slice(1, -1) : host;
    if (verdicts.has(literal) || ipaddr.isValid(literal)) {
      const reason = blockedReason(literal);
      if (reason === undefined) return { ok: true, url };
      return blocked(`destination ${literal} is a ${reason} address; ${fixFor(reason)}`);
    }
    const name = host.toLowerCase();
    if (METADATA_HOSTNAMES.has(name)) {
      return blocked(
        `destination ${name} is a cloud metadata service and is always refused; call its address and add it to ${names.allowedCidrs} if you really mean to`,
      );
    }
    if (name === "localhost" || name.endsWith(".localhost")) {
      // RFC 6761 section 6.3: these names always mean the loopback interface.
      if (isAllowedAddress("127.0.0.1") || isAllowedAddress("::1")) return { ok: true, url };
      return blocked(`destination ${name} is a loopback name; ${fixFor("loopback")}`);
    }
    return { ok: true, url };
  };

  return { checkUrl, isAllowedAddress, blockedReason, howToAllow: fixFor };
}

/** The ipaddr.js range name that blocks `address`, or `undefined` for a public unicast address. */
function classify(address: ipaddr.IPv4 | ipaddr.IPv6): string | undefined {
  if (address.kind() === "ipv4") {
    if (METADATA_ADDRESSES.has(address.toString())) return "metadata";
    const range = address.range();
    return range === "unicast" ? undefined : range;
  }
  const v6 = address as ipaddr.IPv6;
  if (METADATA_ADDRESSES.has(v6.toString())) return "metadata";
  const range = v6.range();
  const parts = v6.parts;
  switch (range) {
    case "unicast":
      // ::/96 is the deprecated IPv4-compatible block (RFC 4291 section 2.5.5.1); ipaddr.js
      // calls it unicast, but it can stand for an embedded IPv4 address.
      return parts.slice(0, 6).every((part) => part === 0) ? "ipv4Compatible" : undefined;
    case "ipv4Mapped":
    case "rfc6145":
    case "rfc6052":
      // The last 32 bits carry the IPv4 destination (RFC 4291, RFC 6145, RFC 6052).
      return classify(embeddedIpv4(parts[6]!, parts[7]!));
    case "6to4":
      // 2002:AABB:CCDD::/48 tunnels to AA.BB.CC.DD (RFC 3056).
      return classify(embeddedIpv4(parts[1]!, parts[2]!));
    default:
      return range;
  }
}

function embeddedIpv4(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

function matches(address: ipaddr.IPv4 | ipaddr.IPv6, [network, bits]: Cidr): boolean {
  let candidate = address;
  if (candidate.kind() === "ipv6" && network.kind() === "ipv4") {
    const v6 = candidate as ipaddr.IPv6;
    if (!v6.isIPv4MappedAddress()) return false;
    candidate = v6.toIPv4Address();
  }
  if (candidate.kind() !== network.kind()) return false;
  return candidate.match(network, bits);
}

function parseAllowedCidr(entry: string): Cidr {
  const text = entry.trim();
  try {
    if (text.includes("/")) return ipaddr.parseCIDR(text);
    const address = ipaddr.parse(text);
    return [address, address.kind() === "ipv4" ? 32 : 128];
  } catch {
    throw new InvalidOptionError(
      `allowed CIDR "${entry}" is not a valid range: use notation such as 10.0.0.0/8, fd00::/8 or 169.254.169.254`,
    );
  }
}

function invalid(message: string): UrlCheck {
  return { ok: false, code: "invalid_url", message };
}

function blocked(message: string): UrlCheck {
  return { ok: false, code: "blocked_destination", message };
}

// A URL as an error message quotes it: secrets redacted (the one redactor), then cut to 200
// characters.
function shown(input: string): string {
  const text = redactUrl(input);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
