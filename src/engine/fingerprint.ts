import { createHash } from "node:crypto";
import canonicalize from "canonicalize";

/**
 * SHA-256 (hex) over the RFC 8785 canonical JSON of `value`: two requests that differ only in key
 * order or number formatting get the same fingerprint.
 */
export function fingerprint(value: unknown): string {
  return createHash("sha256")
    .update(canonicalize(value) ?? "null")
    .digest("hex");
}

/** SHA-256 (hex) of an API key, the form in which keys are stored. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}
