/**
 * The `store` option of `createIdempotency` as a URL (issue 13): `sqlite:<path>`,
 * `postgres://...` or `redis://...`. Each store's driver is loaded only when its URL is used.
 */
import { InvalidOptionError } from "../../core/errors.ts";
import type { IdempotencyStore } from "../idempotency-store.ts";

/**
 * Opens the store `url` names, prepared for use:
 * - `sqlite:<path>` (relative to the working directory, its directory created) or `sqlite::memory:`;
 * - `postgres://...` or `postgresql://...`, `?schema=name` choosing the schema (default `steadfast`);
 * - `redis://...` or `rediss://...`, `?prefix=name` choosing the keys' prefix.
 *
 * @example const store = await openIdempotencyStore("sqlite:./.steadfast/idempotency.db");
 */
export async function openIdempotencyStore(url: string): Promise<IdempotencyStore> {
  if (url.startsWith("sqlite:")) {
    const { SqliteIdempotencyStore } = await import("./sqlite-idempotency-store.ts");
    const path = url.slice("sqlite:".length);
    if (path === "") throw invalid(url, "names no file");
    return SqliteIdempotencyStore.open({ path });
  }
  if (/^postgres(ql)?:\/\//i.test(url)) {
    const { PostgresIdempotencyStore } = await import("./postgres-idempotency-store.ts");
    // `?schema=name` is ours; pg never sees it.
    const parsed = new URL(url);
    const schema = parsed.searchParams.get("schema");
    parsed.searchParams.delete("schema");
    return await PostgresIdempotencyStore.connect({
      connectionString: parsed.toString(),
      ...(schema === null ? {} : { schema }),
    });
  }
  if (/^rediss?:\/\//i.test(url)) {
    const { RedisIdempotencyStore } = await import("./redis-idempotency-store.ts");
    // `?prefix=name` is ours; ioredis would read other query parameters as its options.
    const parsed = new URL(url);
    const prefix = parsed.searchParams.get("prefix");
    parsed.searchParams.delete("prefix");
    return await RedisIdempotencyStore.connect({
      url: parsed.toString(),
      ...(prefix === null ? {} : { prefix }),
    });
  }
  throw invalid(url, "is not a store URL");
}

function invalid(url: string, why: string): InvalidOptionError {
  // The URL may carry a password: only its scheme is quoted.
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? "(no scheme)";
  return new InvalidOptionError(
    `createIdempotency: store ${scheme}... ${why}; use sqlite:<path>, postgres://... or redis://..., or pass an IdempotencyStore`,
  );
}
