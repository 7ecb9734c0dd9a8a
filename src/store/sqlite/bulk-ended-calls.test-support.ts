// Many ended calls at once, for retention tests: written with plain SQL in one transaction (one
// INSERT ... SELECT per table over a generated series), a hundred thousand in about a second,
// where the store's own writes would need a claim and a commit per call.
import { DatabaseSync } from "node:sqlite";
import { RESPONSE, SPEC, TENANT_A } from "../contract/fixtures.ts";

/** Options of `insertEndedCalls`. */
export interface EndedCallsOptions {
  /** How many calls. */
  count: number;
  /** When the first ended, epoch ms; each next one ended 1 ms later. */
  endedAt: number;
  /** Their idempotency keys' expiry, epoch ms. Default a day after each one ended. */
  keyHeldMs?: number;
}

/**
 * Inserts `count` succeeded user calls of `TENANT_A`, each with one attempt and no idempotency
 * key, as the store leaves them at their end, into the migrated SQLite database at `path` (which
 * may be open in a store: the write waits for its lock). Their ids, `call_` and 26 digits, sort
 * before every id the store makes now. Returns how many calls the database holds then.
 */
export function insertEndedCalls(path: string, options: EndedCallsOptions): number {
  const db = new DatabaseSync(path, { timeout: 10_000 });
  try {
    const keyHeldMs = options.keyHeldMs ?? 86_400_000;
    db.exec("BEGIN IMMEDIATE");
    db.prepare(
      "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?) " +
        "INSERT INTO calls (id, tenant_id, kind, status, spec, forwarded_key, attempts, " +
        "lease_token, response, idempotency_expires_at, created_at, updated_at, completed_at) " +
        "SELECT printf('call_%026d', i), ?, 'call', 'succeeded', ?, printf('steadfast-%d', i), " +
        "1, 1, ?, ? + i + ?, ? + i - 120, ? + i, ? + i FROM n",
    ).run(
      options.count,
      TENANT_A,
      JSON.stringify(SPEC),
      JSON.stringify(RESPONSE),
      options.endedAt,
      keyHeldMs,
      options.endedAt,
      options.endedAt,
      options.endedAt,
    );
    db.prepare(
      "INSERT INTO attempts (call_id, number, started_at, duration_ms, outcome, sent, decision) " +
        "SELECT id, 1, completed_at - 120, 120, ?, 1, ? FROM calls " +
        "WHERE id BETWEEN printf('call_%026d', 0) AND printf('call_%026d', ?)",
    ).run(
      JSON.stringify({ type: "response", status: 200 }),
      JSON.stringify({ type: "succeed" }),
      options.count - 1,
    );
    db.exec("COMMIT");
    return Number(db.prepare("SELECT count(*) AS n FROM calls").get()!.n);
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  } finally {
    db.close();
  }
}
