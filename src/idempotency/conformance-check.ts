/**
 * The conformance check (issue 13): the behaviours of the `Idempotency-Key` draft
 * (draft-ietf-httpapi-idempotency-key-header-06), tried against any server over HTTP.
 * `npx steadfast idempotency-check <url>` prints its results; `checkIdempotency` runs it from
 * code (a test of your own API). Each check uses keys of its own, in the draft's quoted form
 * (`"..."`), and sends real requests: point it at a test or staging server.
 */
import { randomUUID } from "node:crypto";
import { REPLAYED_HEADER } from "./stored-response.ts";

/** What to send, and to whom. */
export interface IdempotencyCheckOptions {
  /** The endpoint: an absolute http(s) URL that takes an idempotent request. */
  url: string;
  /** Default `POST`. */
  method?: string;
  /** A body the endpoint accepts. Default `{}`, sent as `application/json`. */
  body?: string;
  /**
   * The body of the changed-payload check. Default: `body` with a member `idempotencyCheck`
   * added (a JSON object), or with a line added (anything else).
   */
  changedBody?: string;
  /** Headers of every request (`Authorization`, `Content-Type`...). */
  headers?: readonly (readonly [string, string])[];
  /**
   * Headers that make a second principal (another `Authorization`), in place of those of the
   * same names in `headers`: turns on the check that keys are scoped per principal. Default:
   * that check is skipped.
   */
  otherHeaders?: readonly (readonly [string, string])[] | undefined;
  /** Whether the endpoint requires a key (a request without one gets `400`). Default `true`. */
  keyRequired?: boolean;
  /** Requests sent at once by the concurrency check. Default 8. */
  concurrency?: number;
  /** How long one request may take, ms. Default 10,000. */
  timeoutMs?: number;
  /** A fresh key. Default `crypto.randomUUID()`. */
  newKey?: () => string;
}

/** The outcome of one check. */
export interface CheckResult {
  /** Stable id: `quoted-key`, `replay`, `concurrent`, `changed-payload`, `missing-key`, `principals`. */
  readonly id: string;
  /** What is checked, for a table. */
  readonly name: string;
  readonly outcome: "pass" | "fail" | "skip";
  /** What was seen, and for a failure what the draft expects. */
  readonly detail: string;
}

/** A response read whole. */
interface Answer {
  readonly status: number;
  readonly replayed: boolean;
  readonly body: string;
}

interface Checker {
  send(key: string | undefined, options?: { body?: string; other?: boolean }): Promise<Answer>;
  key(): string;
  readonly body: string;
  readonly changedBody: string;
}

/**
 * Runs every check against `options.url` and resolves with their results, in order. A request
 * that fails (refused, timed out) fails its check; it does not reject.
 *
 * @example
 * const results = await checkIdempotency({ url: "http://127.0.0.1:3000/orders", body: '{"sku":"A-1"}' });
 * if (results.some((r) => r.outcome === "fail")) throw new Error("not idempotent");
 */
export async function checkIdempotency(options: IdempotencyCheckOptions): Promise<CheckResult[]> {
  const checker = makeChecker(options);
  const checks: [string, string, () => Promise<[CheckResult["outcome"], string]>][] = [
    ["quoted-key", "quoted key accepted", () => quotedKey(checker)],
    ["replay", "replay of the same request", () => replay(checker)],
    [
      "concurrent",
      "concurrent duplicate: 409 or replay",
      () => concurrent(checker, options.concurrency ?? 8),
    ],
    ["changed-payload", "changed payload: 422", () => changedPayload(checker)],
    [
      "missing-key",
      "missing key: 400",
      () =>
        options.keyRequired === false
          ? Promise.resolve(["skip", "the endpoint does not require a key (--key-optional)"])
          : missingKey(checker),
    ],
    [
      "principals",
      "keys scoped per principal",
      () =>
        options.otherHeaders === undefined
          ? Promise.resolve(["skip", "give a second principal's headers (--other-header)"])
          : principals(checker),
    ],
  ];
  const results: CheckResult[] = [];
  for (const [id, name, run] of checks) {
    let outcome: CheckResult["outcome"];
    let detail: string;
    try {
      [outcome, detail] = await run();
    } catch (error) {
      [outcome, detail] = ["fail", `a request failed: ${errorText(error)}`];
    }
    results.push({ id, name, outcome, detail });
  }
  return results;
}

function makeChecker(options: IdempotencyCheckOptions): Checker {
  const method = (options.method ?? "POST").toUpperCase();
  const body = options.body ?? "{}";
  const headers = [...(options.headers ?? [])];
  if (!headers.some(([name]) => name.toLowerCase() === "content-type") && isJson(body)) {
    headers.push(["content-type", "application/json"]);
  }
  const replaced = new Set(options.otherHeaders?.map(([name]) => name.toLowerCase()));
  const other = [
    ...headers.filter(([name]) => !replaced.has(name.toLowerCase())),
    ...(options.otherHeaders ?? []),
  ];
  const timeoutMs = options.timeoutMs ?? 10_000;
  const newKey = options.newKey ?? randomUUID;
  return {
    body,
    changedBody: options.changedBody ?? changed(body),
    key: () => `"${newKey()}"`,
    async send(key, sent = {}) {
      const fields = new Headers((sent.other === true ? other : headers) as [string, string][]);
      if (key !== undefined) fields.set("idempotency-key", key);
      const response = await fetch(options.url, {
        method,
        headers: fields,
        ...(method === "GET" || method === "HEAD" ? {} : { body: sent.body ?? body }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      return {
        status: response.status,
        replayed: response.headers.get(REPLAYED_HEADER) === "true",
        body: await response.text(),
      };
    },
  };
}

type Verdict = [CheckResult["outcome"], string];

/** The replay marker as the draft's practice spells it. */
const MARKER = "Idempotent-Replayed";

/** A request the server accepted and ran: 2xx or 3xx, not a replay. */
function accepted(answer: Answer): boolean {
  return answer.status >= 200 && answer.status < 400 && !answer.replayed;
}

function refused(what: string, answer: Answer): Verdict {
  return [
    "fail",
    `${what} was answered ${answer.status}${answer.replayed ? " (a replay)" : ""}: the check needs a request the endpoint accepts (--body, --header)${snippet(answer)}`,
  ];
}

async function quotedKey(c: Checker): Promise<Verdict> {
  const answer = await c.send(c.key());
  if (answer.status === 400) {
    return [
      "fail",
      `a key in the draft's quoted form ("...") was refused with 400${snippet(answer)}`,
    ];
  }
  if (!accepted(answer)) return refused("a request with a quoted key", answer);
  return ["pass", `answered ${answer.status}`];
}

async function replay(c: Checker): Promise<Verdict> {
  const key = c.key();
  const first = await c.send(key);
  if (!accepted(first)) return refused("the first request", first);
  const again = await c.send(key);
  const problems = [
    ...(again.status === first.status ? [] : [`status ${again.status}, not ${first.status}`]),
    ...(again.body === first.body ? [] : ["another body"]),
    ...(again.replayed ? [] : [`no ${MARKER}: true`]),
  ];
  if (problems.length > 0) {
    return ["fail", `the retry got ${problems.join(", ")}: the response was not replayed`];
  }
  return ["pass", `${again.status} again, the same body, ${MARKER}: true`];
}

async function concurrent(c: Checker, count: number): Promise<Verdict> {
  const key = c.key();
  const answers = await Promise.all(Array.from({ length: count }, () => c.send(key)));
  const ran = answers.filter((a) => !a.replayed && a.status !== 409);
  const conflicts = answers.filter((a) => a.status === 409).length;
  const replays = answers.filter((a) => a.replayed);
  const seen = `${count} at once: ${ran.length} ran, ${conflicts} answered 409, ${replays.length} replayed`;
  const first = ran[0];
  if (ran.length !== 1 || first === undefined) {
    const statuses = ran.map((a) => a.status).join(", ");
    return [
      "fail",
      `${seen}${ran.length > 1 ? ` (${statuses})` : ""}: expected exactly one to run`,
    ];
  }
  if (!accepted(first)) return refused("the request that ran", first);
  if (replays.some((a) => a.status !== first.status || a.body !== first.body)) {
    return ["fail", `${seen}: a replay differs from the response of the one that ran`];
  }
  return ["pass", seen];
}

async function changedPayload(c: Checker): Promise<Verdict> {
  const key = c.key();
  const first = await c.send(key);
  if (!accepted(first)) return refused("the first request", first);
  const changedAnswer = await c.send(key, { body: c.changedBody });
  if (changedAnswer.status === 422) return ["pass", "422"];
  return [
    "fail",
    `the same key with another body was answered ${changedAnswer.status}${changedAnswer.replayed ? " (a replay)" : ""}, not 422${snippet(changedAnswer)}`,
  ];
}

async function missingKey(c: Checker): Promise<Verdict> {
  const answer = await c.send(undefined);
  if (answer.status === 400) return ["pass", "400"];
  return [
    "fail",
    `a request without a key was answered ${answer.status}, not 400 (if keys are optional here, give --key-optional)${snippet(answer)}`,
  ];
}

async function principals(c: Checker): Promise<Verdict> {
  const key = c.key();
  const mine = await c.send(key);
  if (!accepted(mine)) return refused("the first principal's request", mine);
  const theirs = await c.send(key, { other: true });
  if (theirs.replayed) {
    return ["fail", "the second principal got a replay of the first's response with the same key"];
  }
  if (theirs.status === 409 || theirs.status === 422) {
    return [
      "fail",
      `the second principal's request was answered ${theirs.status}: the key is shared between principals`,
    ];
  }
  if (!accepted(theirs)) return refused("the second principal's request", theirs);
  const again = await c.send(key);
  if (!again.replayed || again.body !== mine.body) {
    return ["fail", "the first principal's retry was not a replay of its own response"];
  }
  return ["pass", "the second principal's request ran; the first's retry replayed its own"];
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * `body` changed in a way a JSON fingerprint sees: a member added to a JSON object, another JSON
 * value put in an array with a marker; a line added to anything else.
 */
function changed(body: string): string {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return `${body}\nidempotency check`;
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    return JSON.stringify({ ...value, idempotencyCheck: "changed" });
  }
  return JSON.stringify([value, "idempotencyCheck"]);
}

/** The start of `answer`'s body, for a failure's detail. */
function snippet(answer: Answer): string {
  const text = answer.body.replace(/\s+/g, " ").trim();
  if (text === "") return "";
  return `; body: ${text.length > 120 ? `${text.slice(0, 119)}…` : text}`;
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}
