// A "chat" durable endpoint: an HTTP handler made of steps (look up the context, ask an LLM,
// format the answer) whose request is stored before it runs. The LLM fails its first call (503),
// so the step is retried after its backoff in the background: the client gets `202 Accepted`
// with a `Location`, follows it, and gets the answer once the run has ended.
//
//   node examples/chat-endpoint.ts            (from a checkout: npm install first)
//
// The LLM is a small local HTTP server started here, so the example runs on its own. In your
// code it is your model provider.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSteadfast, RetryableError, toNodeHandler } from "../src/index.ts";

/** Starts `server` on 127.0.0.1, port 0; its base URL. */
async function listen(server: ReturnType<typeof createServer>): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

// --- A stand-in for your LLM provider: its first call fails with 503 ------------------------
let llmCalls = 0;
const llm = createServer((request, response) => {
  let body = "";
  request.on("data", (chunk: Buffer) => (body += chunk.toString()));
  request.on("end", () => {
    llmCalls++;
    if (llmCalls === 1) {
      response.writeHead(503, { "content-type": "text/plain", "retry-after": "1" });
      response.end("overloaded, try again in a second");
      return;
    }
    const { prompt } = JSON.parse(body) as { prompt: string };
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ text: `${prompt.length} characters of prompt considered: 42` }));
  });
});
const llmUrl = await listen(llm);

// --- The endpoint ---------------------------------------------------------------------------
const dir = mkdtempSync(join(tmpdir(), "steadfast-chat-"));
const steadfast = await createSteadfast({ db: `sqlite:${join(dir, "app.db")}` });

const chat = steadfast.endpoint(
  "chat",
  async (req, { step }) => {
    // Outside steps: runs again on every invocation (the request is rebuilt from the store).
    const { question } = (await req.json()) as { question: string };
    const context = await step.run("context", () => `The user asks: ${question}`);
    // A 503 throws: the step is retried after its durable backoff, not before the LLM's
    // Retry-After (1 s); the run is handed off and the client, answered 202, follows its Location.
    const completion = await step.run("complete", async () => {
      const answer = await fetch(`${llmUrl}/v1/complete`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: context }),
      });
      if (!answer.ok) {
        const seconds = Number(answer.headers.get("retry-after") ?? "1");
        throw new RetryableError("upstream_unavailable", `LLM answered ${answer.status}`, {
          retryAfterMs: seconds * 1_000,
        });
      }
      return ((await answer.json()) as { text: string }).text;
    });
    const answer = await step.run("format", () => `Answer to "${question}": ${completion}`);
    return Response.json({ answer });
  },
  // How long a request (and a GET of the location) is held for the run's end before 202: short
  // here so that the example shows the handoff. Default 20 s.
  { resultWaitMs: 300 },
);

const server = createServer(toNodeHandler(chat));
const base = await listen(server);

// --- A client -------------------------------------------------------------------------------
let response = await fetch(`${base}/chat`, {
  method: "POST",
  headers: { "content-type": "application/json", "idempotency-key": "question-1" },
  body: JSON.stringify({ question: "the meaning of life" }),
});
console.log(`POST /chat: ${response.status}`);
// While the run goes on, the location holds the request (up to resultWaitMs) and answers 202 again
// if it has not ended by then: ask it until it answers something else.
while (response.status === 202) {
  const location = response.headers.get("location");
  if (location === null) throw new Error("a 202 without a Location");
  console.log(`following ${new URL(location).search}`);
  response = await fetch(location);
}
const { answer } = (await response.json()) as { answer: string };
console.log(`${response.status} ${answer}`);
console.log(`llm calls: ${llmCalls}`);

server.close();
await steadfast.close();
llm.close();
rmSync(dir, { recursive: true, force: true });
