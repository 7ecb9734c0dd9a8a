import type { Random } from "./ports.ts";

/** A brand that makes otherwise-identical string types incompatible. */
declare const brand: unique symbol;
/** `T` tagged with brand `B`, so a `CallId` cannot be passed where a `TenantId` is wanted. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** Id of a durable call, `call_` followed by a 26-character time-sortable ULID. */
export type CallId = Brand<string, "CallId">;
/**
 * A workflow run's internal id, `run_` then a ULID: the key of its `work` and `runs` rows and of
 * its steps. Not the run's id as its starter gave it (`RunRecord.id`), but stable for its life.
 */
export type RunUid = Brand<string, "RunUid">;
/** Id of a tenant (the owner of API keys and calls). */
export type TenantId = Brand<string, "TenantId">;
/** Id of an engine process, written on claims for diagnostics. */
export type WorkerId = Brand<string, "WorkerId">;
/** Id of an API key, `key_` followed by 26 Crockford base32 characters (a ULID for new keys). */
export type ApiKeyId = Brand<string, "ApiKeyId">;

// Crockford base32, as ULID uses: sortable in byte order, no ambiguous letters.
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * A ULID: 10 characters of millisecond time then 16 random characters. Ids made later sort after
 * ids made earlier (to the millisecond), which is what newest-first listing and cursors rely on.
 *
 * @example ulid(clock.now(), random) // "01JD6Z2K8Q7X1Y0ZV3R5T9W2MN"
 */
export function ulid(nowMs: number, random: Random): string {
  let time = "";
  let t = Math.floor(nowMs);
  for (let i = 0; i < 10; i++) {
    time = ALPHABET.charAt(t % 32) + time;
    t = Math.floor(t / 32);
  }
  let rand = "";
  for (let i = 0; i < 16; i++) rand += ALPHABET.charAt(Math.floor(random.next() * 32));
  return time + rand;
}

/** A new `CallId` for a call accepted at `nowMs`. */
export function newCallId(nowMs: number, random: Random): CallId {
  return `call_${ulid(nowMs, random)}` as CallId;
}

/** True when `value` has the shape of a `CallId` (it may still not exist). */
export function isCallId(value: string): value is CallId {
  return /^call_[0-9A-HJKMNP-TV-Z]{26}$/.test(value);
}

/** A new run uid  for a run created at `nowMs`. */
export function newRunUid(nowMs: number, random: Random): RunUid {
  return `run_${ulid(nowMs, random)}` as RunUid;
}

/** True when `value` has the shape of a `RunUid` (it may still not exist). */
export function isRunUid(value: string): value is RunUid {
  return /^run_[0-9A-HJKMNP-TV-Z]{26}$/.test(value);
}

/** A new `ApiKeyId` for a key created at `nowMs`. */
export function newApiKeyId(nowMs: number, random: Random): ApiKeyId {
  return `key_${ulid(nowMs, random)}` as ApiKeyId;
}

/** True when `value` has the shape of an `ApiKeyId` (it may still not exist). */
export function isApiKeyId(value: string): value is ApiKeyId {
  return /^key_[0-9A-HJKMNP-TV-Z]{26}$/.test(value);
}

// Letters, digits, `_`, `.`, `-`, starting with a letter or digit: safe in logs, URLs and the
// `tenant:key` form of STEADFAST_API_KEYS.
const TENANT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * True when `value` is a valid tenant name: 1 to 64 letters, digits, `_`, `.` or `-`, starting
 * with a letter or digit (`acme`, `team-42`).
 */
export function isTenantName(value: string): boolean {
  return TENANT_NAME.test(value);
}

/** Brands a tenant name. Tenants are configured names such as `default` or `acme`. */
export function tenantId(value: string): TenantId {
  return value as TenantId;
}
