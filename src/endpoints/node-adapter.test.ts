import { once } from "node:events";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { toNodeHandler } from "./node-adapter.ts";

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  if (server !== undefined) await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

async function serve(handler: (request: Request) => Promise<Response>): Promise<string> {
  server = createServer(toNodeHandler(handler)).listen(0, "127.0.0.1");
  await once(server, "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("toNodeHandler", () => {
  it("gives the handler the request's method, absolute URL, headers and body", async () => {
    let seen: { method: string; url: string; header: string | null; body: string } | undefined;
    const base = await serve(async (req) => {
      seen = {
        method: req.method,
        url: req.url,
        header: req.headers.get("x-thing"),
        body: await req.text(),
      };
      return new Response("ok");
    });
    const response = await fetch(`${base}/a/b?c=d`, {
      method: "PUT",
      headers: { "x-thing": "1" },
      body: "payload",
    });
    expect(await response.text()).toBe("ok");
    expect(seen).toEqual({ method: "PUT", url: `${base}/a/b?c=d`, header: "1", body: "payload" });
  });

  it("writes the status, every Set-Cookie field, and a streamed body", async () => {
    const base = await serve(() => {
      const headers = new Headers({ "content-type": "text/plain" });
      headers.append("set-cookie", "a=1");
      headers.append("set-cookie", "b=2");
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("one "));
          controller.enqueue(new TextEncoder().encode("two"));
          controller.close();
        },
      });
      return Promise.resolve(new Response(body, { status: 418, headers }));
    });
    const response = await fetch(base);
    expect(response.status).toBe(418);
    expect(response.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(await response.text()).toBe("one two");
  });

  it("answers 204 without a body", async () => {
    const base = await serve(() => Promise.resolve(new Response(null, { status: 204 })));
    const response = await fetch(base, { method: "DELETE" });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
  });

  it("answers 400 to a request whose Host does not make a URL", async () => {
    const base = await serve(() => Promise.resolve(new Response("never")));
    const { port } = new URL(base);
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = httpRequest(
        { host: "127.0.0.1", port, path: "/", headers: { host: "bad host" } },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(400);
  });
});
