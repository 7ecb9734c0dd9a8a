/**
 * The options of `createIdempotency` (issue 13), their defaults, and their checks: a mistake is
 * reported when the middleware is made, naming the option, the value and the fix.
 */
import { idempotencyKeyProblem } from "../core/idempotency-key.ts";
import type { Clock, Random } from "../core/ports.ts";
import { check, wholeNumberOption } from "../resilience/policy.ts";
import { mathRandom, systemClock } from "../resilience/system.ts";
import type { IdempotencyStore } from "./idempotency-store.ts";
import { DEFAULT_REPLAYED_HEADERS, NEVER_REPLAYED_HEADERS } from "./stored-response.ts";

/**
 * Which outcomes are stored and replayed; the others release the key, so a retry runs the
 * handler again:
 * - `"all"` (default, the draft's): every response, errors included;
 * - `"2xx"`: successes only;
 * - `"non-5xx"`: all but server errors ("errors re-executed": a 500 is retried for real, a 4xx
 *   is replayed);
 * - a predicate on the status.
 */
export type StoredOutcomes = "all" | "2xx" | "non-5xx" | ((status: number) => boolean);

/** What the middleware reports that no response shows. */
export type IdempotencyEvent =
  | { readonly type: "idempotency:purged"; readonly count: number }
  | { readonly type: "idempotency:purge-failed"; readonly error: unknown }
  /** A holder found its lease taken over (it ran past the lease): its outcome was not stored. */
  | { readonly type: "idempotency:lease-lost"; readonly scope: string }
  /** The store failed: the request was answered 503, or its outcome could not be stored. */
  | { readonly type: "idempotency:store-failed"; readonly error: unknown };

/** Options of `createIdempotency`. */
export interface IdempotencyOptions {
  /**
   * Where records are kept: `sqlite:<path>`, `postgres://...[?schema=name]` (schema `steadfast`
   * by default), `redis://...[?prefix=name]`, or an `IdempotencyStore`. A store opened from a URL
   * is closed by `close()`; one passed in is the caller's to close.
   */
  store: string | IdempotencyStore;
  /**
   * Who owns a key: requests share a record only with the same principal (and method, route,
   * key). Usually the authenticated user or API key; hashed before it is stored.
   */
  principal: (request: Request) => string | Promise<string>;
  /** Whether a request without a key is refused (`400`) rather than run as is. Default `false`. */
  required?: boolean | ((request: Request) => boolean);
  /** Methods the middleware applies to; others pass straight through. Default `POST`, `PATCH`. */
  methods?: readonly string[];
  /**
   * The route a request is scoped by. Default: its URL's path. An adapter passes the framework's
   * route pattern (`/orders/:id`).
   */
  route?: (request: Request) => string;
  /** Whether a bare key (`abc`) is accepted beside the draft's quoted one (`"abc"`). Default `true`. */
  bareKeys?: boolean;
  /**
   * Why a key is refused (a message completing "Idempotency-Key ..."), or `undefined` to accept
   * it. Default: 1 to 255 characters a header may hold, no space at either end (the rule of
   * Steadfast's own API).
   */
  keyProblem?: (key: string) => string | undefined;
  /** Largest request body, bytes; larger ones get `413` before anything is stored. Default 1 MiB. */
  maxBodyBytes?: number;
  /** How long a claim holds a key while its request runs, ms. Default 60,000. */
  leaseMs?: number;
  /** How often a running request's lease is extended, ms. Default `leaseMs / 3`. */
  leaseRenewIntervalMs?: number;
  /** How long a record is kept after its outcome is stored (or its lease ran out), ms. Default 24 h. */
  retentionMs?: number;
  /** Which outcomes are stored and replayed. Default `"all"`. */
  storedOutcomes?: StoredOutcomes;
  /**
   * How long a retry that arrives while the first request is still running waits for it to
   * finish and replays its response, ms. Default 0: it is answered `409` with `Retry-After` at once.
   */
  waitForInFlightMs?: number;
  /** How often a waiting retry looks at the record again, ms. Default 50. */
  waitPollIntervalMs?: number;
  /** `Retry-After` of the `409` for a request still in flight, seconds. Default 1. */
  inFlightRetryAfterSeconds?: number;
  /**
   * Response headers stored and replayed. Default `Location`, `ETag`, `Content-Location`, `Link`,
   * `Content-Type`, `Content-Encoding`. `Set-Cookie`, `Date` and framing headers are refused.
   */
  replayedHeaders?: readonly string[];
  /**
   * Your idempotency documentation: problem types become `<docsUrl>#<code>` and problems carry
   * `Link: <docsUrl>; rel="help"`. Default: Steadfast's problem types, no link.
   */
  docsUrl?: string;
  /** How often expired records are purged, ms; 0 turns the purge off. Default 60,000. */
  purgeIntervalMs?: number;
  /** Most records one purge pass deletes per statement. Default 1,000. */
  purgeBatchSize?: number;
  /** Time: leases, retention, waits. Default the system clock. */
  clock?: Clock;
  /** Lease tokens and record versions. Default `Math.random`. */
  random?: Random;
  /** Receives what no response shows (purges, lost leases, store failures). */
  onEvent?: (event: IdempotencyEvent) => void;
}

/** The options with every default applied, checked. */
export interface ResolvedIdempotencyOptions {
  readonly principal: (request: Request) => string | Promise<string>;
  readonly required: (request: Request) => boolean;
  readonly methods: ReadonlySet<string>;
  readonly route: (request: Request) => string;
  readonly bareKeys: boolean;
  readonly keyProblem: (key: string) => string | undefined;
  readonly maxBodyBytes: number;
  readonly leaseMs: number;
  readonly leaseRenewIntervalMs: number;
  readonly retentionMs: number;
  readonly stores: (status: number) => boolean;
  readonly waitForInFlightMs: number;
  readonly waitPollIntervalMs: number;
  readonly inFlightRetryAfterSeconds: number;
  readonly replayedHeaders: ReadonlySet<string>;
  readonly docsUrl: string | undefined;
  readonly purgeIntervalMs: number;
  readonly purgeBatchSize: number;
  readonly clock: Clock;
  readonly random: Random;
  readonly onEvent: (event: IdempotencyEvent) => void;
}

const WHO = "createIdempotency";

function positiveInteger(value: number, name: string, allowZero = false): number {
  return wholeNumberOption(value, WHO, name, allowZero);
}

function outcomes(stored: StoredOutcomes): (status: number) => boolean {
  if (typeof stored === "function") return stored;
  if (stored === "all") return () => true;
  if (stored === "2xx") return (status) => status >= 200 && status < 300;
  check(
    stored === "non-5xx",
    WHO,
    `storedOutcomes must be "all", "2xx", "non-5xx" or a function of the status, got ${JSON.stringify(stored)}`,
  );
  return (status) => status < 500;
}

function replayed(names: readonly string[]): ReadonlySet<string> {
  const lower = names.map((name) => name.toLowerCase());
  for (const name of lower) {
    const reason = NEVER_REPLAYED_HEADERS.get(name);
    check(
      reason === undefined,
      WHO,
      `replayedHeaders must not name ${name}: it ${reason ?? ""}; remove it from the list`,
    );
  }
  return new Set(lower);
}

function docs(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const parsed = URL.parse(url);
  check(
    parsed !== null && /^https?:$/.test(parsed.protocol),
    WHO,
    `docsUrl must be an absolute http(s) URL, such as https://api.example.com/docs/idempotency; got ${JSON.stringify(url)}`,
  );
  return parsed!.href;
}

/** `options` with defaults applied; throws `InvalidOptionError` naming a wrong option. */
export function resolveIdempotencyOptions(options: IdempotencyOptions): ResolvedIdempotencyOptions {
  check(
    typeof options.principal === "function",
    WHO,
    'principal is required: a function of the request naming who owns its key, such as (req) => req.headers.get("authorization") ?? "anonymous"',
  );
  const leaseMs = positiveInteger(options.leaseMs ?? 60_000, "leaseMs");
  const leaseRenewIntervalMs = positiveInteger(
    options.leaseRenewIntervalMs ?? Math.max(1, Math.floor(leaseMs / 3)),
    "leaseRenewIntervalMs",
  );
  check(
    leaseRenewIntervalMs < leaseMs,
    WHO,
    `leaseRenewIntervalMs (${leaseRenewIntervalMs}) must be shorter than leaseMs (${leaseMs}), or the lease runs out between renewals`,
  );
  const required = options.required ?? false;
  const methods = (options.methods ?? ["POST", "PATCH"]).map((method) => method.toUpperCase());
  return {
    principal: options.principal,
    required: typeof required === "function" ? required : () => required,
    methods: new Set(methods),
    route: options.route ?? ((request) => new URL(request.url).pathname),
    bareKeys: options.bareKeys ?? true,
    keyProblem: options.keyProblem ?? idempotencyKeyProblem,
    maxBodyBytes: positiveInteger(options.maxBodyBytes ?? 1_048_576, "maxBodyBytes"),
    leaseMs,
    leaseRenewIntervalMs,
    retentionMs: positiveInteger(options.retentionMs ?? 86_400_000, "retentionMs"),
    stores: outcomes(options.storedOutcomes ?? "all"),
    waitForInFlightMs: positiveInteger(options.waitForInFlightMs ?? 0, "waitForInFlightMs", true),
    waitPollIntervalMs: positiveInteger(options.waitPollIntervalMs ?? 50, "waitPollIntervalMs"),
    inFlightRetryAfterSeconds: positiveInteger(
      options.inFlightRetryAfterSeconds ?? 1,
      "inFlightRetryAfterSeconds",
      true,
    ),
    replayedHeaders: replayed(options.replayedHeaders ?? DEFAULT_REPLAYED_HEADERS),
    docsUrl: docs(options.docsUrl),
    purgeIntervalMs: positiveInteger(options.purgeIntervalMs ?? 60_000, "purgeIntervalMs", true),
    purgeBatchSize: positiveInteger(options.purgeBatchSize ?? 1_000, "purgeBatchSize"),
    clock: options.clock ?? systemClock,
    random: options.random ?? mathRandom,
    onEvent: options.onEvent ?? (() => undefined),
  };
}
