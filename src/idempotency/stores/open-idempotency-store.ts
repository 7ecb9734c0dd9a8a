/**
 * The `store` option of `createIdempotency` as a URL (issue 13): `sqlite:<path>`,
 * `postgres://...` or `redis://...`. Each store's driver is loaded only when its URL is used.
 */
import { parseStoreUrl } from "../../store-plumbing/store-url.ts";
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
  const parsed = parseStoreUrl(url, {
    factory: "createIdempotency",
    accepted: "sqlite:<path>, postgres://... or redis://..., or pass an IdempotencyStore",
  });
  switch (parsed.kind) {
    case "sqlite": {
      const { SqliteIdempotencyStore } = await import("./sqlite-idempotency-store.ts");
      return SqliteIdempotencyStore.open({ path: parsed.path });
    }
    case "postgres": {
      const { PostgresIdempotencyStore } = await import("./postgres-idempotency-store.ts");
      const { kind: _kind, ...options } = parsed;
      return await PostgresIdempotencyStore.connect(options);
    }
    case "redis": {
      const { RedisIdempotencyStore } = await import("./redis-idempotency-store.ts");
      const { kind: _kind, ...options } = parsed;
      return await RedisIdempotencyStore.connect(options);
    }
  }
}
