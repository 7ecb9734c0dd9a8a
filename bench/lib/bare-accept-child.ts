// The ceiling of the HTTP accept measurement: a Hono app on @hono/node-server (the stack
// `steadfast serve` runs on) that reads the JSON body of POST /v1/fetch and answers 202 with a
// call-sized JSON body, storing nothing. Same client, same machine: what is left of the
// difference is Steadfast's own work per call.
import { serve } from "@hono/node-server";
import { Hono } from "hono";

const app = new Hono();
let next = 0;
app.post("/v1/fetch", async (c) => {
  const body = await c.req.json<{ url?: unknown }>();
  const id = `call_${String(next++).padStart(26, "0")}`;
  c.header("Location", `/v1/calls/${id}`);
  return c.json({ id, status: "queued", url: body.url, attempts: 0 }, 202);
});
const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
  process.send?.({ type: "listening", url: `http://127.0.0.1:${info.port}` });
});
process.on("disconnect", () => {
  server.close(() => process.exit(0));
});
