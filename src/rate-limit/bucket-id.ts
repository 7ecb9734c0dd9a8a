/**
 * The store's id of a key's bucket (issue 13): the SHA-256 of the policy's name and the key. The
 * store never sees a key as it is (a key is often a credential, an `Authorization` header, or a
 * user's address), and two policies on one store keep their buckets apart.
 */
import { createHash } from "node:crypto";

/**
 * Lower-case hex, 64 characters; each part framed with its length, so that no two (name, key)
 * pairs collide by concatenation.
 *
 * @example bucketId("default", "tenant-1") // "5d1c..."
 */
export function bucketId(policyName: string, key: string): string {
  const hash = createHash("sha256");
  for (const part of [policyName, key]) {
    hash.update(`${Buffer.byteLength(part, "utf8")}:${part}`, "utf8");
  }
  return hash.digest("hex");
}
