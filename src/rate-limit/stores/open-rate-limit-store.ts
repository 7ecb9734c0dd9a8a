/**
 * The `store` option of `createRateLimit` as a URL (issue 13): `memory`, `sqlite:<path>`,
 * `postgres://...` or `redis://...`. Each store's driver is loaded only when its URL is used.
 */
import { parseStoreUrl } from "../../store-plumbing/store-url.ts";
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
  const parsed = parseStoreUrl(url, {
    factory: "createRateLimit",
    accepted: "memory, sqlite:<path>, postgres://... or redis://..., or pass a RateLimitStore",
  });
  switch (parsed.kind) {
    case "sqlite": {
      const { SqliteRateLimitStore } = await import("./sqlite-rate-limit-store.ts");
      return SqliteRateLimitStore.open({ path: parsed.path });
    }
    case "postgres": {
      const { PostgresRateLimitStore } = await import("./postgres-rate-limit-store.ts");
      const { kind: _kind, ...options } = parsed;
      return await PostgresRateLimitStore.connect(options);
    }
    case "redis": {
      const { RedisRateLimitStore } = await import("./redis-rate-limit-store.ts");
      const { kind: _kind, ...options } = parsed;
      return await RedisRateLimitStore.connect(options);
    }
  }
}
