/**
 * The `store` option of `createRateLimit` as a URL (issue 13): `memory`, `sqlite:<path>`,
 * `postgres://...` or `redis://...`. Each store's driver is loaded only when its URL is used.
 */
import { InvalidOptionError } from "../../core/errors.ts";
import type { RateLimitStore } from "../rate-limit-store.ts";

/**
 * Opens the store `url` names, prepared for use:
 * - `memory`: this process only;
 * - `sqlite:<path>` (relative to the working directory, its directory created) or `sqlite::memory:`;
 * - `postgres://...` or `postgresql://...`, `?schema=name` choosing the schema (default `steadfast`);
 * - `redis://...` or `rediss://...`, `?prefix=name` choosing the keys' prefix.
 *
 * @example const store = await openRateLimitStore("redis://127.0.0.1:6379");
 */
export async function openRateLimitStore(url: string): Promise<RateLimitStore> {
  if (url === "memory") {
    const { MemoryRateLimitStore } = await import("./memory-rate-limit-store.ts");
    return new MemoryRateLimitStore();
  }
  if (url.startsWith("sqlite:")) {
    const { SqliteRateLimitStore } = await import("./sqlite-rate-limit-store.ts");
    const path = url.slice("sqlite:".length);
    if (path === "") throw invalid(url, "names no file");
    return SqliteRateLimitStore.open({ path });
  }
  if (/^postgres(ql)?:\/\//i.test(url)) {
    const { PostgresRateLimitStore } = await import("./postgres-rate-limit-store.ts");
    // `?schema=name` is ours (as for Steadfast's own database URL); pg never sees it.
    const parsed = new URL(url);
    const schema = parsed.searchParams.get("schema");
    parsed.searchParams.delete("schema");
    return await PostgresRateLimitStore.connect({
      connectionString: parsed.toString(),
      ...(schema === null ? {} : { schema }),
    });
  }
  if (/^rediss?:\/\//i.test(url)) {
    const { RedisRateLimitStore } = await import("./redis-rate-limit-store.ts");
    // `?prefix=name` is ours; ioredis would read other query parameters as its options.
    const parsed = new URL(url);
    const prefix = parsed.searchParams.get("prefix");
    parsed.searchParams.delete("prefix");
    return await RedisRateLimitStore.connect({
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
    `createRateLimit: store ${scheme}... ${why}; use memory, sqlite:<path>, postgres://... or redis://..., or pass a RateLimitStore`,
  );
}
