import { describe, expect, it } from "vitest";
import { destinationOf, hostPort, parseDestination } from "./destination-key.ts";

describe("destinationOf", () => {
  it("is the origin: scheme, lower-cased host, port without its default", () => {
    expect(destinationOf("https://API.example.com:443/v1/orders?x=1")).toBe(
      "https://api.example.com",
    );
    expect(destinationOf("https://api.example.com/v2")).toBe("https://api.example.com");
    expect(destinationOf("http://127.0.0.1:8080/a")).toBe("http://127.0.0.1:8080");
    expect(destinationOf("https://api.example.com:8443")).toBe("https://api.example.com:8443");
    expect(destinationOf("http://[::1]:9000/x")).toBe("http://[::1]:9000");
    expect(destinationOf("https://user:pw@api.example.com/x")).toBe("https://api.example.com");
    expect(destinationOf("https://api.example.com?q=1")).toBe("https://api.example.com");
  });
});

describe("parseDestination", () => {
  it("reads origins, and host[:port] as https", () => {
    for (const [input, origin] of [
      ["https://api.example.com", "https://api.example.com"],
      ["https://api.example.com/", "https://api.example.com"],
      ["http://127.0.0.1:8080", "http://127.0.0.1:8080"],
      ["api.example.com", "https://api.example.com"],
      ["api.example.com:443", "https://api.example.com"],
      ["API.example.com:8443", "https://api.example.com:8443"],
      ["https://api.example.com:443", "https://api.example.com"],
    ]) {
      expect(parseDestination(input!)).toEqual({ ok: true, destination: origin });
    }
  });

  it("refuses what is not only scheme, host and port", () => {
    for (const input of [
      "",
      "ftp://x.example",
      "https://api.example.com/v1",
      "https://a.example?x=1",
      "https://u:p@a.example",
      "http://",
    ]) {
      expect(parseDestination(input).ok, input).toBe(false);
    }
    expect(parseDestination("https://api.example.com/v1")).toMatchObject({
      message: expect.stringContaining("only scheme, host and port") as string,
    });
  });
});

describe("hostPort", () => {
  it("always writes the port", () => {
    expect(hostPort("https://api.example.com")).toBe("api.example.com:443");
    expect(hostPort("http://api.example.com")).toBe("api.example.com:80");
    expect(hostPort("http://127.0.0.1:8080")).toBe("127.0.0.1:8080");
  });
});
