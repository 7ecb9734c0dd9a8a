import { describe, expect, it } from "vitest";
import { createDestinationGuard } from "./destination-guard.ts";

const blockedByDefault = [
  ["127.0.0.1", "loopback"],
  ["127.255.255.254", "loopback"],
  ["10.0.0.1", "private"],
  ["172.16.0.1", "private"],
  ["172.31.255.255", "private"],
  ["192.168.1.1", "private"],
  ["169.254.1.1", "link-local"],
  ["169.254.169.254", "cloud metadata"],
  ["169.254.170.2", "cloud metadata"],
  ["100.100.100.200", "cloud metadata"],
  ["100.64.0.1", "carrier-grade NAT"],
  ["100.127.255.255", "carrier-grade NAT"],
  ["0.0.0.0", "unspecified"],
  ["0.1.2.3", "unspecified"],
  ["224.0.0.1", "multicast"],
  ["239.255.255.250", "multicast"],
  ["255.255.255.255", "broadcast"],
  ["240.0.0.1", "reserved"],
  ["192.0.2.10", "reserved"],
  ["198.51.100.7", "reserved"],
  ["203.0.113.9", "reserved"],
  ["198.18.0.1", "reserved"],
  ["::1", "loopback"],
  ["::", "unspecified"],
  ["fe80::1", "link-local"],
  ["fc00::1", "unique-local"],
  ["fd12:3456:789a::1", "unique-local"],
  ["fd00:ec2::254", "cloud metadata"],
  ["ff02::1", "multicast"],
  ["::ffff:127.0.0.1", "loopback"],
  ["::ffff:7f00:1", "loopback"],
  ["::ffff:10.1.2.3", "private"],
  ["::ffff:169.254.169.254", "cloud metadata"],
  ["::ffff:192.168.0.1", "private"],
  ["::127.0.0.1", "loopback"],
  ["::7f00:1", "IPv4-compatible"],
  ["::808:808", "IPv4-compatible"],
  ["64:ff9b::7f00:1", "loopback"],
  ["64:ff9b::a00:1", "private"],
  ["2002:7f00:1::", "loopback"],
  ["2002:a9fe:a9fe::1", "cloud metadata"],
  ["2001:db8::1", "reserved"],
  ["2001::1", "teredo"],
  ["fec0::1", "site-local"],
] as const;

const publicAddresses = [
  "8.8.8.8",
  "1.1.1.1",
  "93.184.216.34",
  "172.15.255.255",
  "172.32.0.1",
  "100.63.255.255",
  "100.128.0.1",
  "169.253.255.255",
  "2606:4700:4700::1111",
  "2a00:1450:4007:80e::200e",
  "::ffff:8.8.8.8",
  "64:ff9b::808:808",
  "2002:808:808::1",
];

describe("isAllowedAddress", () => {
  const guard = createDestinationGuard();

  it.each(blockedByDefault)("refuses %s (%s) by default", (address, reason) => {
    expect(guard.isAllowedAddress(address)).toBe(false);
    expect(guard.blockedReason(address)).toContain(reason);
  });

  it.each(publicAddresses)("allows public address %s", (address) => {
    expect(guard.isAllowedAddress(address)).toBe(true);
    expect(guard.blockedReason(address)).toBeUndefined();
  });

  it("refuses text that is not an address", () => {
    expect(guard.isAllowedAddress("example.com")).toBe(false);
    expect(guard.isAllowedAddress("")).toBe(false);
    expect(guard.isAllowedAddress("1.2.3.4.5")).toBe(false);
  });

  it("with allowPrivateNetworks allows every range but cloud metadata", () => {
    const open = createDestinationGuard({ allowPrivateNetworks: true });
    for (const [address, reason] of blockedByDefault) {
      expect(open.isAllowedAddress(address), address).toBe(reason !== "cloud metadata");
    }
  });

  it("allows the ranges listed in allowCidrs, IPv4-mapped forms included", () => {
    const guard = createDestinationGuard({
      allowCidrs: ["10.20.0.0/16", "fd00:1::/32", "169.254.169.254"],
    });
    expect(guard.isAllowedAddress("10.20.3.4")).toBe(true);
    expect(guard.isAllowedAddress("::ffff:10.20.3.4")).toBe(true);
    expect(guard.isAllowedAddress("10.21.0.1")).toBe(false);
    expect(guard.isAllowedAddress("fd00:1::5")).toBe(true);
    expect(guard.isAllowedAddress("fd00:2::5")).toBe(false);
    expect(guard.isAllowedAddress("169.254.169.254")).toBe(true);
    expect(guard.isAllowedAddress("169.254.169.253")).toBe(false);
    expect(guard.isAllowedAddress("127.0.0.1")).toBe(false);
  });

  it("rejects an invalid allowCidrs entry at creation, naming it", () => {
    expect(() => createDestinationGuard({ allowCidrs: ["10.0.0.0/33"] })).toThrow(
      /10\.0\.0\.0\/33/,
    );
    expect(() => createDestinationGuard({ allowCidrs: ["intranet"] })).toThrow(/"intranet"/);
  });
});

describe("checkUrl", () => {
  const guard = createDestinationGuard();

  it("accepts http and https URLs to public hosts and returns the parsed URL", () => {
    const check = guard.checkUrl("https://api.example.com:8443/v1/orders?x=1");
    expect(check.ok).toBe(true);
    if (check.ok) expect(check.url.host).toBe("api.example.com:8443");
    expect(guard.checkUrl("http://8.8.8.8/").ok).toBe(true);
    expect(guard.checkUrl("http://[2606:4700:4700::1111]/").ok).toBe(true);
  });

  it.each([
    ["not a url", /not an absolute URL/],
    ["/relative/path", /not an absolute URL/],
    ["ftp://example.com/file", /scheme "ftp:".*use http or https/],
    ["file:///etc/passwd", /scheme "file:"/],
    ["javascript:alert(1)", /scheme "javascript:"/],
  ])("refuses %s as invalid_url", (url, message) => {
    const check = guard.checkUrl(url);
    expect(check).toMatchObject({ ok: false, code: "invalid_url" });
    if (!check.ok) expect(check.message).toMatch(message);
  });

  it("refuses credentials in the URL without echoing them", () => {
    const check = guard.checkUrl("https://user:hunter2@example.com/");
    expect(check).toMatchObject({ ok: false, code: "invalid_url" });
    if (!check.ok) {
      expect(check.message).toMatch(/credentials.*Authorization header/);
      expect(check.message).not.toContain("hunter2");
    }
  });

  it.each([
    "http://127.0.0.1:8080/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://10.0.0.8/",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/",
    "http://2130706433/", // 127.0.0.1 written as one number; the URL parser normalises it
    "http://0x7f.1/",
    "http://localhost:3000/",
    "http://LOCALHOST./",
    "http://api.localhost/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://metadata/",
  ])("refuses %s as blocked_destination with the fix in the message", (url) => {
    const check = guard.checkUrl(url);
    expect(check).toMatchObject({ ok: false, code: "blocked_destination" });
    if (!check.ok) expect(check.message).toMatch(/allowPrivateNetworks: true|allowCidrs/);
  });

  it("names the refused address and its range", () => {
    const check = guard.checkUrl("http://192.168.0.10/admin");
    expect(check.ok).toBe(false);
    if (!check.ok) {
      expect(check.message).toContain("192.168.0.10");
      expect(check.message).toContain("private");
      expect(check.message).toContain(
        "set allowPrivateNetworks: true or add the range to allowCidrs",
      );
    }
  });

  it("lets loopback URLs through when private networks are allowed, but not metadata names", () => {
    const open = createDestinationGuard({ allowPrivateNetworks: true });
    expect(open.checkUrl("http://127.0.0.1:8080/").ok).toBe(true);
    expect(open.checkUrl("http://localhost:8080/").ok).toBe(true);
    expect(open.checkUrl("http://[::1]:8080/").ok).toBe(true);
    expect(open.checkUrl("http://169.254.169.254/").ok).toBe(false);
    expect(open.checkUrl("http://metadata.google.internal/").ok).toBe(false);
  });

  it("lets localhost through when a loopback range is in allowCidrs", () => {
    const guard = createDestinationGuard({ allowCidrs: ["127.0.0.0/8"] });
    expect(guard.checkUrl("http://localhost:8080/").ok).toBe(true);
    expect(guard.checkUrl("http://127.0.0.1:8080/").ok).toBe(true);
    expect(guard.checkUrl("http://10.0.0.1/").ok).toBe(false);
  });

  it("leaves host names that need DNS to the check after resolution", () => {
    expect(guard.checkUrl("http://internal.corp.example/").ok).toBe(true);
  });
});

describe("refusal messages", () => {
  it("tells how to open a metadata address, which allowPrivateNetworks does not", () => {
    const open = createDestinationGuard({ allowPrivateNetworks: true });
    const check = open.checkUrl("http://169.254.169.254/latest/meta-data/");
    expect(check).toMatchObject({ ok: false, code: "blocked_destination" });
    if (!check.ok) {
      expect(check.message).toContain("cloud metadata");
      expect(check.message).toContain("add the address to allowCidrs");
      expect(check.message).not.toContain("set allowPrivateNetworks");
    }
    const listed = createDestinationGuard({ allowCidrs: ["169.254.169.254/32"] });
    expect(listed.checkUrl("http://169.254.169.254/latest/meta-data/").ok).toBe(true);
  });

  it("name the settings as they are called where the guard was configured", () => {
    const names = {
      allowPrivateNetworks: "--allow-private-networks (STEADFAST_ALLOW_PRIVATE_NETWORKS=true)",
      allowedCidrs: "--allowed-cidrs (STEADFAST_ALLOWED_CIDRS)",
    };
    const guard = createDestinationGuard({ settingNames: names });
    for (const url of ["http://127.0.0.1/", "http://localhost/", "http://10.0.0.1/"]) {
      const check = guard.checkUrl(url);
      expect(check.ok ? "" : check.message).toContain(
        `set ${names.allowPrivateNetworks} or add the range to ${names.allowedCidrs}`,
      );
    }
    const metadata = guard.checkUrl("http://metadata.google.internal/");
    expect(metadata.ok ? "" : metadata.message).toContain(`add it to ${names.allowedCidrs}`);
    expect(guard.howToAllow("loopback")).toBe(
      `set ${names.allowPrivateNetworks} or add the range to ${names.allowedCidrs}`,
    );
  });
});

describe("verdicts asked again", () => {
  it("are the same the second time (they are cached per address and per guard)", () => {
    const strict = createDestinationGuard();
    const open = createDestinationGuard({ allowPrivateNetworks: true });
    for (let round = 0; round < 2; round++) {
      expect(strict.checkUrl("http://10.0.0.1/x")).toMatchObject({ ok: false });
      expect(open.checkUrl("http://10.0.0.1/x")).toMatchObject({ ok: true });
      expect(strict.checkUrl("http://93.184.216.34/x")).toMatchObject({ ok: true });
      expect(open.checkUrl("http://169.254.169.254/")).toMatchObject({ ok: false });
      expect(strict.isAllowedAddress("10.0.0.1")).toBe(false);
      expect(strict.isAllowedAddress("not-an-ip")).toBe(false);
      expect(strict.checkUrl("http://example.com/")).toMatchObject({ ok: true });
    }
  });
});
