// Per-destination protection: holding claimed calls without an attempt (batched, fenced on the
// lease token), waking the calls a destination holds (both on their `work` rows), and
// destination documents saved with compare-and-set on their version.
import type { WaitingFor } from "../../core/call.ts";
import {
  grantPermits,
  parsePermitHolders,
  type PermitGrant,
  type PermitRequest,
} from "../../core/permits.ts";
import type { ClaimRef, DestinationDocument, StoredDestination } from "../../core/store.ts";
import type { PostgresConnection } from "./postgres-connection.ts";
import { isStatementError } from "./postgres-errors.ts";
import { DESTINATION_COLUMNS, destinationFromRow } from "./row-mapping.ts";
import type { SchemaNames } from "./schema-names.ts";
import { oneByOne, roundsByKey, type BatchOutcome } from "./write-batcher.ts";

/** One `deferCall`. */
export interface Deferral {
  ref: ClaimRef;
  runAt: number;
  waitingFor: WaitingFor;
  now: number;
}

/** Destination writes and reads of `PostgresStore`. */
export class DestinationWrites {
  readonly #db: PostgresConnection;
  readonly #channel: string;
  readonly #defer: string;
  readonly #wake: string;
  readonly #get: string;
  readonly #list: string;
  readonly #insert: string;
  readonly #update: string;
  readonly #reserveRate: string;
  readonly #permits: { create: string; lock: string; save: string };

  constructor(db: PostgresConnection, names: SchemaNames) {
    this.#db = db;
    this.#channel = names.channel;
    // Fenced like every write about a claim: status = 'running' AND the claim's lease token.
    this.#defer =
      `UPDATE ${names.work} c SET status = 'waiting', run_at = v.run_at, ` +
      "wait_reason = v.message, wait_code = v.code, wait_destination = v.destination, " +
      "lease_expires_at = NULL, worker_id = NULL, updated_at = v.now " +
      "FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], " +
      "$6::text[], $7::bigint[]) WITH ORDINALITY " +
      "AS v(call_id, lease_token, run_at, message, code, destination, now, i) " +
      "WHERE c.id = v.call_id AND c.status = 'running' AND c.lease_token = v.lease_token " +
      "RETURNING v.i";
    // The woken calls are due now: wake the listeners of other processes, at commit.
    this.#wake =
      // Woken calls lose their wait code: one held for a rate slot must take a new one.
      `WITH woken AS (UPDATE ${names.work} SET run_at = $2, updated_at = $2, wait_code = NULL ` +
      "WHERE status = 'waiting' AND wait_destination = $1 AND run_at > $2 RETURNING id), " +
      "note AS (SELECT pg_notify($3, $2::text) AS sent FROM woken HAVING count(*) > 0) " +
      "SELECT (SELECT count(*) FROM woken)::integer AS n, (SELECT sent FROM note) AS sent";
    this.#get = `SELECT ${DESTINATION_COLUMNS} FROM ${names.destinations} WHERE destination = $1`;
    this.#list = `SELECT ${DESTINATION_COLUMNS} FROM ${names.destinations} ORDER BY destination`;
    this.#insert =
      `INSERT INTO ${names.destinations} (destination, state, limits, version, updated_at) ` +
      "VALUES ($1, $2, $3, 1, $4) ON CONFLICT (destination) DO NOTHING";
    this.#reserveRate =
      `INSERT INTO ${names.rateSchedules} AS r (destination, tat) ` +
      "VALUES ($1, $2::double precision + $3::double precision) " +
      "ON CONFLICT (destination) DO UPDATE SET tat = GREATEST(r.tat, $2) + $3 " +
      "RETURNING r.tat - $3 AS start";
    this.#permits = {
      create:
        `INSERT INTO ${names.destinationPermits} (destination, holders) VALUES ($1, '{}') ` +
        "ON CONFLICT (destination) DO NOTHING",
      lock: `SELECT holders FROM ${names.destinationPermits} WHERE destination = $1 FOR UPDATE`,
      save: `UPDATE ${names.destinationPermits} SET holders = $2 WHERE destination = $1`,
    };
    this.#update =
      `UPDATE ${names.destinations} SET state = $2, limits = $3, version = version + 1, ` +
      "updated_at = $4 WHERE destination = $1 AND version = $5";
  }

  /**
   * `WriteBatcher` run for `deferCall`: resolves `true` for each call held, `false` when its
   * lease was lost. Like attempt commits, a statement error replays the batch one by one and any
   * other error fails it.
   */
  runDeferrals = async (deferrals: Deferral[]): Promise<BatchOutcome<boolean>[]> => {
    const outcomes = new Array<BatchOutcome<boolean>>(deferrals.length);
    const all = deferrals.map((_, i) => i);
    for (const round of roundsByKey(all, (i) => deferrals[i]!.ref.callId)) {
      const batch = round.map((i) => deferrals[i]!);
      try {
        const held = await this.#holdBatch(batch);
        for (const [k, i] of round.entries()) outcomes[i] = { ok: true, value: held.has(k) };
      } catch (error) {
        if (round.length === 1 || !isStatementError(error)) {
          for (const i of round) outcomes[i] = { ok: false, error };
          continue;
        }
        const alone = await oneByOne(batch, async (d) => (await this.#holdBatch([d])).has(0));
        for (const [k, i] of round.entries()) outcomes[i] = alone[k]!;
      }
    }
    return outcomes;
  };

  /** See `Store.wakeDestination`. */
  async wakeDestination(destination: string, now: number): Promise<number> {
    const { rows } = await this.#db.query({
      name: "steadfast_wake_destination",
      text: this.#wake,
      values: [destination, now, this.#channel],
    });
    return rows[0]!.n as number;
  }

  /** See `Store.reserveRate`. One autocommitted statement: the row lock orders reservers. */
  async reserveRate(destination: string, now: number, spanMs: number): Promise<number> {
    const { rows } = await this.#db.query({
      name: "steadfast_reserve_rate",
      text: this.#reserveRate,
      values: [destination, now, spanMs],
    });
    return Number(rows[0]!.start);
  }

  /**
   * See `Store.holdPermits`. One transaction: the destination's row is created if missing, then
   * locked, so holders change it one after the other. Asked for only when a process needs more
   * permits, gives some back, or renews them: not on every call.
   */
  async holdPermits(request: PermitRequest): Promise<PermitGrant> {
    const { create, lock, save } = this.#permits;
    const values = [request.destination];
    return await this.#db.transaction(async (query) => {
      await query({ name: "steadfast_permits_create", text: create, values });
      const { rows } = await query({ name: "steadfast_permits_lock", text: lock, values });
      const { holders, granted, share } = grantPermits(
        parsePermitHolders(rows[0]?.holders as string | undefined),
        request,
      );
      await query({
        name: "steadfast_permits_save",
        text: save,
        values: [request.destination, JSON.stringify(holders)],
      });
      return { granted, share };
    });
  }

  /** See `Store.getDestination`. */
  async getDestination(destination: string): Promise<StoredDestination | undefined> {
    const { rows } = await this.#db.query({
      name: "steadfast_get_destination",
      text: this.#get,
      values: [destination],
    });
    return rows[0] === undefined ? undefined : destinationFromRow(rows[0]);
  }

  /** See `Store.listDestinations`. */
  async listDestinations(): Promise<StoredDestination[]> {
    const { rows } = await this.#db.query({ text: this.#list });
    return rows.map(destinationFromRow);
  }

  /**
   * See `Store.saveDestination`: an insert when `expectedVersion` is 0, else an update
   * conditional on the version. Concurrent savers of one version serialise on the row, and the
   * losers' re-check of `version` finds it changed, so exactly one wins.
   */
  async saveDestination(
    destination: string,
    document: DestinationDocument,
    expectedVersion: number,
    now: number,
  ): Promise<boolean> {
    const state = JSON.stringify(document.state ?? null);
    const limits = JSON.stringify(document.limits);
    const { rowCount } =
      expectedVersion === 0
        ? await this.#db.query({ text: this.#insert, values: [destination, state, limits, now] })
        : await this.#db.query({
            text: this.#update,
            values: [destination, state, limits, now, expectedVersion],
          });
    return rowCount === 1;
  }

  // Runs the fenced UPDATE; returns the positions (0-based) of the calls held.
  async #holdBatch(batch: readonly Deferral[]): Promise<Set<number>> {
    const { rows } = await this.#db.query({
      name: "steadfast_defer_calls",
      text: this.#defer,
      values: [
        batch.map((d) => d.ref.callId),
        batch.map((d) => d.ref.leaseToken),
        batch.map((d) => d.runAt),
        batch.map((d) => d.waitingFor.message),
        batch.map((d) => d.waitingFor.reason),
        batch.map((d) => d.waitingFor.destination ?? null),
        batch.map((d) => d.now),
      ],
    });
    return new Set(rows.map((row) => (row.i as number) - 1));
  }
}
