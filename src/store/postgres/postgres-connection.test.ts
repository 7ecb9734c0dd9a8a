import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { PostgresConnection } from "./postgres-connection.ts";
import {
  dropSchema,
  TEST_DATABASE_URL,
  testSchemaName,
  withAdminClient,
} from "./test-database.test-support.ts";

// Issue 10 (item 10's review): a process frozen in the middle of a transaction (a VM pause,
// SIGSTOP) must not hold its row locks until its connection dies: `FOR UPDATE SKIP LOCKED`
// claims would skip those rows, and writes wait for them, for as long as it stays frozen.

let schema: string | undefined;
const connections: PostgresConnection[] = [];

afterEach(async () => {
  for (const connection of connections.splice(0)) await connection.close();
  if (schema !== undefined) await dropSchema(schema);
  schema = undefined;
});

function connect(
  idleInTransactionTimeoutMs: number,
  connectionString = TEST_DATABASE_URL,
): PostgresConnection {
  const connection = new PostgresConnection({
    connectionString,
    poolSize: 1,
    applicationName: "steadfast-test",
    connectTimeoutMs: 5_000,
    healthCheckIntervalMs: 1_000,
    queryTimeoutMs: 30_000,
    idleInTransactionTimeoutMs,
  });
  connections.push(connection);
  return connection;
}

describe("PostgresConnection: a client frozen inside a transaction", () => {
  it("has its transaction ended by the server after idleInTransactionTimeoutMs, releasing its row locks", async () => {
    schema = testSchemaName();
    const table = `${pg.escapeIdentifier(schema)}.t`;
    await withAdminClient(async (admin) => {
      await admin.query(`CREATE SCHEMA ${pg.escapeIdentifier(schema!)}`);
      await admin.query(`CREATE TABLE ${table} (id integer PRIMARY KEY)`);
      await admin.query(`INSERT INTO ${table} VALUES (1)`);
    });
    const frozen = connect(300);
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    let thaw!: () => void;
    const thawed = new Promise<void>((resolve) => (thaw = resolve));
    // Takes the row lock, then sends nothing more: to the server, a client that froze.
    const transaction = frozen.transaction(async (query) => {
      await query({ text: `SELECT id FROM ${table} WHERE id = 1 FOR UPDATE` });
      locked();
      await thawed;
      await query({ text: `UPDATE ${table} SET id = 2 WHERE id = 1` });
    });
    const outcome = transaction.then(
      () => "committed",
      (error: unknown) => error,
    );
    await lockTaken;

    await withAdminClient(async (other) => {
      const skipped = await other.query(`SELECT id FROM ${table} FOR UPDATE SKIP LOCKED`);
      expect(skipped.rows).toEqual([]);
      // Waits for the lock: it comes once the server ends the frozen session (lock_timeout only
      // turns "never" into a clear failure).
      await other.query("SET lock_timeout = 20000");
      const taken = await other.query(`SELECT id FROM ${table} FOR UPDATE`);
      expect(taken.rows).toEqual([{ id: 1 }]);
    });
    thaw();
    // Thawed, its transaction fails: it was rolled back, nothing it did later is written.
    expect(await outcome).toBeInstanceOf(Error);
    await withAdminClient(async (admin) => {
      expect((await admin.query(`SELECT id FROM ${table}`)).rows).toEqual([{ id: 1 }]);
    });
  }, 30_000);

  it("sets the timeout on every session, unless the connection string names its own", async () => {
    const show = (connection: PostgresConnection) =>
      connection.transaction(async (query) => {
        const { rows } = await query({ text: "SHOW idle_in_transaction_session_timeout" });
        return rows[0]?.idle_in_transaction_session_timeout;
      });
    expect(await show(connect(5_000))).toBe("5s");
    expect(await show(connect(0))).toBe("0");
    const url = `${TEST_DATABASE_URL}?idle_in_transaction_session_timeout=700`;
    expect(await show(connect(5_000, url))).toBe("700ms");
  });
});
