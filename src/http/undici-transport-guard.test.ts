import { describe, expect, it } from "vitest";
import type { SendResult } from "../core/transport.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import {
  createDestinationGuard,
  type DestinationGuard,
  type DestinationGuardOptions,
} from "./destination-guard.ts";
import {
  closeAfterEach,
  ROOMY,
  startHttpUpstream,
  type LoopbackUpstream,
} from "./loopback-upstream.test-support.ts";
import { UndiciTransport } from "./undici-transport.ts";

const closing = closeAfterEach();

function transport(guard: DestinationGuard): UndiciTransport {
  const created = new UndiciTransport({ clock: new FakeClock(), guard });
  return closing.transport(created);
}

function guarded(options?: DestinationGuardOptions): UndiciTransport {
  return transport(createDestinationGuard(options));
}

async function upstream(
  handler: Parameters<typeof startHttpUpstream>[0],
): Promise<LoopbackUpstream> {
  const started = await startHttpUpstream(handler);
  return closing.upstream(started);
}

function get(url: string): { url: string; method: string; headers: Record<string, string> } {
  return { url, method: "GET", headers: {} };
}

function ok(): Promise<LoopbackUpstream> {
  return upstream((_request, response) => response.end("ok"));
}

describe("UndiciTransport destination guard", () => {
  it("refuses a loopback address by default, before connecting", async () => {
    const server = await ok();
    const result = await guarded().send(get(server.origin), ROOMY);
    expect(result).toMatchObject({ type: "error", code: "blocked_destination", sent: false });
    if (result.type === "error") {
      expect(result.message).toContain("127.0.0.1");
      expect(result.message).toContain("set allowPrivateNetworks: true or add the range");
    }
    expect(server.connections).toBe(0);
  });

  it("reaches a loopback upstream when private networks are allowed", async () => {
    const server = await ok();
    const result = await guarded({ allowPrivateNetworks: true }).send(get(server.origin), ROOMY);
    expect(result).toMatchObject({ type: "response", status: 200 });
  });

  it("reaches a loopback upstream whose range is in allowCidrs, by name too", async () => {
    const server = await ok();
    const sender = guarded({ allowCidrs: ["127.0.0.0/8", "::1/128"] });
    expect(await sender.send(get(server.origin), ROOMY)).toMatchObject({
      type: "response",
      status: 200,
    });
    const byName = await sender.send(get(`http://localhost:${server.port}/`), ROOMY);
    expect(byName).toMatchObject({ type: "response", status: 200 });
  });

  it("blocks a host name after DNS resolution when it resolves to loopback", async () => {
    const server = await ok();
    const strict = createDestinationGuard();
    // A guard whose URL check lets every name through, so only the post-resolution check stands.
    const namesPass: DestinationGuard = {
      checkUrl: (url) => ({ ok: true, url: new URL(url) }),
      isAllowedAddress: (ip) => strict.isAllowedAddress(ip),
      blockedReason: (ip) => strict.blockedReason(ip),
      howToAllow: (reason) => strict.howToAllow(reason),
    };
    const result = await transport(namesPass).send(get(`http://localhost:${server.port}/`), ROOMY);
    expect(result).toMatchObject({ type: "error", code: "blocked_destination", sent: false });
    if (result.type === "error") {
      expect(result.message).toMatch(/localhost \(resolved to .*(127\.0\.0\.1|::1)/);
      expect(result.message).toContain("loopback");
    }
    expect(server.connections).toBe(0);
  });

  it("refuses a literal address at the connector even when the URL check lets it through", async () => {
    const server = await ok();
    const strict = createDestinationGuard();
    const namesPass: DestinationGuard = {
      ...strict,
      checkUrl: (url) => ({ ok: true, url: new URL(url) }),
    };
    const result = await transport(namesPass).send(get(server.origin), ROOMY);
    expect(result).toMatchObject({ type: "error", code: "blocked_destination", sent: false });
    expect(server.connections).toBe(0);
  });

  it("answers an invalid URL with an unsent error naming the problem", async () => {
    const result = await guarded().send(get("ftp://example.com/file"), ROOMY);
    expect(result).toMatchObject({ type: "error", code: "invalid_request", sent: false });
    if (result.type === "error") expect(result.message).toMatch(/scheme "ftp:"/);
  });
});

describe("UndiciTransport abort", () => {
  const open = (): UndiciTransport => guarded({ allowPrivateNetworks: true });

  it("stops an exchange in flight when the signal aborts: aborted, sent", async () => {
    const server = await upstream(() => undefined);
    const controller = new AbortController();
    const pending = open().send(get(server.origin), { ...ROOMY, signal: controller.signal });
    await server.requestArrived(1);
    controller.abort(new Error("shutting down"));
    const result = await pending;
    expect(result).toMatchObject({ type: "error", code: "aborted", sent: true });
    if (result.type === "error") expect(result.message).toContain("shutting down");
  });

  it("does not start a send whose signal has already aborted", async () => {
    const server = await ok();
    const controller = new AbortController();
    controller.abort();
    const result = await open().send(get(server.origin), { ...ROOMY, signal: controller.signal });
    expect(result).toMatchObject({ type: "error", code: "aborted", sent: false });
    expect(server.connections).toBe(0);
  });

  it("aborts every send sharing one signal without a listener-leak warning", async () => {
    const server = await upstream(() => undefined);
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const controller = new AbortController();
      const sender = open();
      const sends = Array.from({ length: 40 }, (_, i) =>
        sender.send(get(`${server.origin}/${i}`), { ...ROOMY, signal: controller.signal }),
      );
      await server.requestArrived(40);
      controller.abort();
      const results = await Promise.all(sends);
      expect(results.every((r) => r.type === "error" && r.code === "aborted" && r.sent)).toBe(true);
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
  });
});

describe("UndiciTransport concurrency", () => {
  it("answers a fast upstream while many requests wait on a slow one", async () => {
    const release: (() => void)[] = [];
    const slow = await upstream((_request, response) => release.push(() => response.end("slow")));
    const fast = await ok();
    const sender = guarded({ allowPrivateNetworks: true });

    const slowSends = Array.from({ length: 200 }, (_, i) =>
      sender.send(get(`${slow.origin}/${i}`), ROOMY),
    );
    await slow.requestArrived(128); // every connection of the slow origin is busy; 72 wait in its queue
    const quick: SendResult = await sender.send(get(fast.origin), ROOMY);
    expect(quick).toMatchObject({ type: "response", status: 200 });
    expect(slow.requests).toBeLessThanOrEqual(128);

    // Released answers free connections; the queued requests follow on them.
    for (let answered = 0; answered < 200; answered++) {
      await slow.requestArrived(answered + 1);
      release[answered]!();
    }
    const results = await Promise.all(slowSends);
    expect(results.every((r) => r.type === "response" && r.status === 200)).toBe(true);
  });
});
