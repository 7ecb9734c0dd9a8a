// Creating calls: many rows per INSERT through unnest() arrays, held idempotency keys resolved
// to the call holding them, and one NOTIFY per statement for the processes sharing the store.
// A call created claimed (`createClaimedCall`) goes in the same statements, running under its
// creator's lease, and wakes nobody: it is no other process's work.
import type { CreateCallResult, InitialClaim, NewCall } from "../../core/store.ts";
import type { PostgresConnection } from "./postgres-connection.ts";
import { isStatementError } from "./postgres-errors.ts";
import { StoreError } from "../../core/errors.ts";
import {
  callColumns,
  callFromRow,
  columnsOf,
  NEW_CALL_UNNEST,
  newCallRecord,
  newCallRow,
  type Row,
} from "./row-mapping.ts";
import type { SchemaNames } from "./schema-names.ts";
import { oneByOne, type BatchOutcome } from "./write-batcher.ts";

// How often a call whose key holder vanished (its key purged between our INSERT and SELECT) is
// inserted again before giving up.
const MAX_KEY_RACES = 3;

/** A call to insert: queued, or running under `claim` (lease token 1) when given. */
export interface CallInsert {
  call: NewCall;
  claim?: InitialClaim;
}

// `NEW_CALL_UNNEST` and the claim's columns (NULL for a queued call), in `insertRow` order.
const INSERT_UNNEST = {
  columns: `${NEW_CALL_UNNEST.columns}, lease_expires_at, worker_id`,
  types: [...NEW_CALL_UNNEST.types, "bigint[]", "text[]"],
} as const;

// The values of one `CallInsert`, in `INSERT_UNNEST` order.
function insertRow({ call, claim }: CallInsert): unknown[] {
  return [...newCallRow(call), claim?.leaseExpiresAt ?? null, claim?.workerId ?? null];
}

// What `createCall` or `createClaimedCall` returns for a call it inserted.
function createdRecord({ call, claim }: CallInsert): CreateCallResult {
  const record = newCallRecord(call);
  if (claim !== undefined) record.status = "running";
  return { created: true, call: record };
}

// The INSERT of `CallInsert`s from unnest() arrays, in input order so that the first of several
// calls with one idempotency key wins; a held key skips the row (DO NOTHING), a duplicate id
// fails the statement. `params` are the unnest() arguments.
export function insertCallsSql(names: SchemaNames, params: string, order: string): string {
  return (
    `INSERT INTO ${names.calls} (id, tenant_id, kind, parent_id, status, spec, ` +
    "idempotency_key, fingerprint, forwarded_key, deadline_at, created_at, updated_at) " +
    "SELECT id, tenant_id, kind, parent_id, 'queued', spec, idempotency_key, fingerprint, " +
    "forwarded_key, deadline_at, created_at, created_at " +
    `FROM ${params} ORDER BY ${order} ` +
    "ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING " +
    "RETURNING id, tenant_id, kind, parent_id, created_at"
  );
}

/**
 * The INSERT of the `work` rows of the calls a CTE named `inserted` returned (`insertCallsSql`),
 * with their due times from the unnest() arguments `params` (joined by id). With `claims`, the
 * arguments have the `INSERT_UNNEST` claim columns: a claimed call is running under lease token 1
 * (its claim's worker set).
 */
export function insertWorkSql(names: SchemaNames, params: string, claims = false): string {
  const live = claims
    ? "CASE WHEN v.worker_id IS NULL THEN 'queued' ELSE 'running' END, v.run_at, " +
      "CASE WHEN v.worker_id IS NULL THEN 0 ELSE 1 END, v.lease_expires_at, v.worker_id"
    : "'queued', v.run_at, 0, NULL::bigint, NULL";
  return (
    `INSERT INTO ${names.work} (id, kind, tenant_id, parent_id, status, run_at, lease_token, ` +
    "lease_expires_at, worker_id, attempts, attempt_base, crashes_in_a_row, updated_at) " +
    `SELECT i.id, i.kind, i.tenant_id, i.parent_id, ${live}, 0, 0, 0, i.created_at ` +
    `FROM inserted i JOIN ${params} ON v.id = i.id RETURNING run_at, status`
  );
}

/** Inserts calls for `PostgresStore`: directly (`insert`) or as a `WriteBatcher` (`runBatch`). */
export class CallInserts {
  readonly #db: PostgresConnection;
  readonly #channel: string;
  readonly #insert: string;
  readonly #holders: string;

  constructor(db: PostgresConnection, names: SchemaNames) {
    this.#db = db;
    this.#channel = names.channel;
    const params = INSERT_UNNEST.types.map((type, i) => `$${i + 1}::${type}`).join(", ");
    const unnest = `unnest(${params}) WITH ORDINALITY AS v(${INSERT_UNNEST.columns}, n)`;
    this.#insert =
      `WITH inserted AS (${insertCallsSql(names, unnest, "n")}), ` +
      `created AS (${insertWorkSql(names, unnest, true)}), ` +
      // Listeners wake with the earliest runAt queued, at commit: once the calls are visible.
      `note AS (SELECT pg_notify($${INSERT_UNNEST.types.length + 1}, min(run_at)::text) AS sent ` +
      "FROM created WHERE status = 'queued' HAVING count(*) > 0) " +
      // Selecting note.sent makes the notification part of the statement's result.
      "SELECT inserted.id, note.sent FROM inserted LEFT JOIN note ON true";
    this.#holders =
      `SELECT ${callColumns("c", "w")} FROM ${names.calls} c ` +
      `LEFT JOIN ${names.work} w ON w.id = c.id WHERE (c.tenant_id, c.idempotency_key) IN ` +
      "(SELECT * FROM unnest($1::text[], $2::text[]))";
  }

  /**
   * Creates `calls` in one statement (all or none: a duplicate id rejects them all). A call whose
   * idempotency key a live call holds is not created; that call comes back instead.
   */
  async insert(calls: readonly CallInsert[]): Promise<CreateCallResult[]> {
    if (calls.length === 0) return [];
    const outcomes = await this.#complete(calls, await this.#insertRows(calls.map(insertRow)));
    return outcomes.map((outcome) => {
      if (!outcome.ok) throw outcome.error;
      return outcome.value;
    });
  }

  /**
   * `WriteBatcher` run for `createCall` and `createClaimedCall`: the batch as one statement. A call that cannot be
   * encoded fails alone before it is sent. When PostgreSQL refuses the statement because of
   * one call (a duplicate id, a value it rejects, a deadlock between key holders), the
   * statement certainly did not commit, and each call is inserted alone so that only the faulty
   * one fails. Any other error (a lost connection, a timeout) fails the whole batch: whether
   * it committed is unknown, and a replay could create calls twice.
   */
  runBatch = async (batch: CallInsert[]): Promise<BatchOutcome<CreateCallResult>[]> => {
    const outcomes = new Array<BatchOutcome<CreateCallResult>>(batch.length);
    const valid: number[] = [];
    const rows: unknown[][] = [];
    for (const [i, call] of batch.entries()) {
      try {
        rows.push(insertRow(call));
        valid.push(i);
      } catch (error) {
        outcomes[i] = { ok: false, error };
      }
    }
    if (valid.length === 0) return outcomes;
    const calls = valid.map((i) => batch[i]!);
    let results: BatchOutcome<CreateCallResult>[];
    try {
      results = await this.#complete(calls, await this.#insertRows(rows));
    } catch (error) {
      results =
        calls.length === 1 || !isStatementError(error)
          ? calls.map(() => ({ ok: false, error }))
          : await oneByOne(calls, async (call) => (await this.insert([call]))[0]!);
    }
    for (const [k, i] of valid.entries()) outcomes[i] = results[k]!;
    return outcomes;
  };

  // Runs the INSERT of encoded calls (`insertRow`); returns the ids created.
  async #insertRows(rows: readonly unknown[][]): Promise<Set<string>> {
    try {
      const { rows: inserted } = await this.#db.query({
        name: "steadfast_insert_calls",
        text: this.#insert,
        values: [...columnsOf(rows, INSERT_UNNEST.types.length), this.#channel],
      });
      return new Set(inserted.map((row) => row.id as string));
    } catch (error) {
      throw explainDuplicate(error);
    }
  }

  // The result of each call: created, or skipped because a live call holds its key. The holder
  // is read after the INSERT committed (so a concurrent holder is visible); if the key was
  // released in between, the call is inserted again. Only the calls whose holder could not be
  // read fail if that read fails: the others are committed.
  async #complete(
    calls: readonly CallInsert[],
    inserted: Set<string>,
  ): Promise<BatchOutcome<CreateCallResult>[]> {
    const outcomes: (BatchOutcome<CreateCallResult> | undefined)[] = calls.map((insert) =>
      inserted.has(insert.call.id) ? { ok: true, value: createdRecord(insert) } : undefined,
    );
    for (let race = 0; race < MAX_KEY_RACES; race++) {
      const missing = calls.flatMap((call, i) => (outcomes[i] === undefined ? [i] : []));
      if (missing.length === 0) break;
      let holders: Map<string, Row>;
      try {
        holders = await this.#readHolders(missing.map((i) => calls[i]!.call));
      } catch (error) {
        for (const i of missing) outcomes[i] = { ok: false, error };
        break;
      }
      for (const i of missing) {
        const call = calls[i]!.call;
        const holder = holders.get(holderKey(call.tenantId, call.idempotencyKey));
        if (holder !== undefined) {
          outcomes[i] = { ok: true, value: { created: false, call: callFromRow(holder) } };
        } else if (race < MAX_KEY_RACES - 1) {
          try {
            if ((await this.#insertRows([insertRow(calls[i]!)])).has(call.id)) {
              outcomes[i] = { ok: true, value: createdRecord(calls[i]!) };
            }
          } catch (error) {
            outcomes[i] = { ok: false, error };
          }
        }
      }
    }
    return outcomes.map(
      (outcome, i) =>
        outcome ?? {
          ok: false,
          error: new StoreError(
            "invariant_broken",
            `Call ${calls[i]!.call.id} was neither inserted nor found by its idempotency key.`,
          ),
        },
    );
  }

  async #readHolders(calls: readonly NewCall[]): Promise<Map<string, Row>> {
    const { rows } = await this.#db.query({
      name: "steadfast_select_key_holders",
      text: this.#holders,
      values: [
        calls.map((call) => call.tenantId),
        calls.map((call) => call.idempotencyKey ?? null),
      ],
    });
    return new Map(rows.map((row) => [holderKey(row.tenant_id, row.idempotency_key), row]));
  }
}

function holderKey(tenantId: unknown, key: unknown): string {
  return `${String(tenantId)}\u0000${String(key)}`;
}

// PostgreSQL's "duplicate key value violates unique constraint calls_pkey" names neither the
// id nor the fix.
function explainDuplicate(error: unknown): unknown {
  const e = error as { code?: unknown; constraint?: unknown; detail?: unknown };
  if (e.code !== "23505" || e.constraint !== "calls_pkey") return error;
  const id = /\(id\)=\(([^)]*)\)/.exec(String(e.detail))?.[1] ?? "(unknown)";
  // Still a statement error to the batcher (`isStatementError` reads its cause): replaying the
  // batch one by one isolates it.
  return new StoreError(
    "call_exists",
    `Call ${id} already exists: every call needs a new id (newCallId).`,
    { cause: error },
  );
}
