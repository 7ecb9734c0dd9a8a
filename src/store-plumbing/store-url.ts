/**
 * The store URLs shared by `createIdempotency` and `createRateLimit` (issue 13): `sqlite:<path>`,
 * `postgres://...?schema=name` and `redis://...?prefix=name`, parsed here and opened by each
 * product with its own store classes.
 */
import { InvalidOptionError } from "../core/errors.ts";

/** A parsed store URL: which store, and the options its `open`/`connect` takes. */
export type StoreUrl =
  | { readonly kind: "sqlite"; readonly path: string }
  | { readonly kind: "postgres"; readonly connectionString: string; readonly schema?: string }
  | { readonly kind: "redis"; readonly url: string; readonly prefix?: string };

/** Which product parses a URL, for its error messages. */
export interface StoreUrlProduct {
  /** The factory whose option is wrong, e.g. `createIdempotency`. */
  readonly factory: string;
  /** What to use instead, e.g. `sqlite:<path>, postgres://... or redis://..., or pass an IdempotencyStore`. */
  readonly accepted: string;
}

/**
 * Parses a store URL:
 * - `sqlite:<path>` or `sqlite::memory:`;
 * - `postgres://...` or `postgresql://...`, `?schema=name` removed from the connection string;
 * - `redis://...` or `rediss://...`, `?prefix=name` removed from the URL.
 *
 * @throws InvalidOptionError naming the factory and the accepted forms (never the URL's password).
 * @example parseStoreUrl("sqlite:./x.db", product) // { kind: "sqlite", path: "./x.db" }
 */
export function parseStoreUrl(url: string, product: StoreUrlProduct): StoreUrl {
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length);
    if (path === "") throw invalidStoreUrl(url, "names no file", product);
    return { kind: "sqlite", path };
  }
  if (/^postgres(ql)?:\/\//i.test(url)) {
    // `?schema=name` is ours (as for Steadfast's own database URL); pg never sees it.
    const parsed = new URL(url);
    const schema = parsed.searchParams.get("schema");
    parsed.searchParams.delete("schema");
    return {
      kind: "postgres",
      connectionString: parsed.toString(),
      ...(schema === null ? {} : { schema }),
    };
  }
  if (/^rediss?:\/\//i.test(url)) {
    // `?prefix=name` is ours; ioredis would read other query parameters as its options.
    const parsed = new URL(url);
    const prefix = parsed.searchParams.get("prefix");
    parsed.searchParams.delete("prefix");
    return { kind: "redis", url: parsed.toString(), ...(prefix === null ? {} : { prefix }) };
  }
  throw invalidStoreUrl(url, "is not a store URL", product);
}

function invalidStoreUrl(url: string, why: string, product: StoreUrlProduct): InvalidOptionError {
  // The URL may carry a password: only its scheme is quoted.
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? "(no scheme)";
  return new InvalidOptionError(
    `${product.factory}: store ${scheme}... ${why}; use ${product.accepted}`,
  );
}
