// captureResponse over a real node:http server: what a route writes in the ways node:http allows
// becomes the Response the middleware sees, and nothing reaches the client until the sink writes.
import { once } from "node:events";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { writeResponse } from "../exchange/node-exchange.ts";
import { captureResponse } from "./response-capture.ts";

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) =>
    server === undefined ? resolve(undefined) : server.close(resolve),
  );
  server = undefined;
});

/**
 * A server whose listener captures what `route` writes and sends it back through the sink, with
 * `x-seen-status` telling the status the capture saw; `seen` receives each captured Response.
 */
async function serve(
  route: (res: ServerResponse) => void,
  seen: (response: Response) => void = () => undefined,
): Promise<string> {
  server = createServer((_req, res) => {
    const capture = captureResponse(res);
    route(res);
    void capture.response
      .then(async (response) => {
        seen(response);
        const answer = new Response(response.body, response);
        answer.headers.set("x-seen-status", String(response.status));
        await writeResponse(answer, capture.sink);
      })
      .catch(() => res.destroy())
      .finally(() => capture.release());
  });
  await once(server.listen(0, "127.0.0.1"), "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("captureResponse", () => {
  it("takes writeHead's status, reason and a raw header list (duplicates kept), then write and end with encodings", async () => {
    const finished: string[] = [];
    const url = await serve((res) => {
      res.setHeader("x-before", "kept");
      res.setHeader("x-replaced", "old");
      res.writeHead(202, "Taken", ["x-replaced", "new", "set-cookie", "a=1", "set-cookie", "b=2"]);
      expect(res.headersSent).toBe(true);
      res.write("68656c6c6f2c20", "hex");
      res.end("world", "utf8", () => finished.push("end callback"));
    });
    const answer = await fetch(url);
    expect(answer.status).toBe(202);
    expect(answer.headers.get("x-seen-status")).toBe("202");
    expect(answer.headers.get("x-before")).toBe("kept");
    expect(answer.headers.get("x-replaced")).toBe("new");
    expect(answer.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(await answer.text()).toBe("hello, world");
    expect(finished).toEqual(["end callback"]);
  });

  it("gives a 204 no body, and keeps a second end from the client", async () => {
    let body: ReadableStream | null = new ReadableStream();
    const url = await serve(
      (res) => {
        res.statusCode = 204;
        res.end();
        res.end("ignored");
      },
      (response) => (body = response.body),
    );
    const answer = await fetch(url);
    expect(answer.status).toBe(204);
    expect(body).toBeNull();
    expect(await answer.text()).toBe("");
  });

  it("sends nothing to the client before the sink writes, and rejects a status a Response cannot have", async () => {
    let sentEarly: boolean | undefined;
    const url = await serve((res) => {
      res.writeHead(199);
      res.end();
      sentEarly = res.writableEnded;
    });
    // The capture refused status 199: the listener destroyed the connection.
    await expect(fetch(url)).rejects.toThrow();
    expect(sentEarly).toBe(false);
  });
});
