// Idempotency records to and from the columns the stores keep them in (snake_case stops here).
import { StoreError } from "../../core/errors.ts";
import type { VersionedRecord } from "../idempotency-store.ts";
import type { IdempotencyRecord } from "../record-state.ts";

/** The name of the records' table (SQLite, PostgreSQL). */
export const RECORDS_TABLE = "idempotency_records";

/** A record as columns; times are epoch ms. */
export interface RecordRow {
  version: string;
  state: string;
  fingerprint_algorithm: string;
  fingerprint: string;
  lease_token: string | null;
  claimed_at: number | null;
  lease_expires_at: number | null;
  completed_at: number | null;
  response_status: number | null;
  /** JSON: `[name, value][]`. */
  response_headers: string | null;
  response_body: Uint8Array | null;
  purge_at: number;
}

/** The columns of `RecordRow`, in the order the stores' statements list them. */
export const RECORD_COLUMNS = [
  "version",
  "state",
  "fingerprint_algorithm",
  "fingerprint",
  "lease_token",
  "claimed_at",
  "lease_expires_at",
  "completed_at",
  "response_status",
  "response_headers",
  "response_body",
  "purge_at",
] as const satisfies readonly (keyof RecordRow)[];

/** `versioned` as a row. */
export function toRow({ record, version }: VersionedRecord): RecordRow {
  const common = {
    version,
    state: record.state,
    fingerprint_algorithm: record.fingerprint.algorithm,
    fingerprint: record.fingerprint.digest,
    purge_at: record.purgeAt,
  };
  if (record.state === "in-flight") {
    return {
      ...common,
      lease_token: record.leaseToken,
      claimed_at: record.claimedAt,
      lease_expires_at: record.leaseExpiresAt,
      completed_at: null,
      response_status: null,
      response_headers: null,
      response_body: null,
    };
  }
  return {
    ...common,
    lease_token: null,
    claimed_at: null,
    lease_expires_at: null,
    completed_at: record.completedAt,
    response_status: record.response.status,
    response_headers: JSON.stringify(record.response.headers),
    response_body: record.response.body,
  };
}

/** A number column as the driver gave it (PostgreSQL's `bigint` comes as a string). */
type Numeric = number | bigint | string | null;

/** The row as a driver returns it: numbers possibly as strings, bytes as any `Uint8Array`. */
export type DriverRow = {
  [K in keyof RecordRow]: RecordRow[K] extends number | null ? Numeric : RecordRow[K];
};

/** A row read back as the record it holds. */
export function fromRow(row: DriverRow): VersionedRecord {
  const fingerprint = { algorithm: row.fingerprint_algorithm, digest: row.fingerprint };
  const purgeAt = Number(row.purge_at);
  let record: IdempotencyRecord;
  if (row.state === "in-flight") {
    record = {
      state: "in-flight",
      fingerprint,
      leaseToken: required(row.lease_token, "lease_token"),
      claimedAt: Number(required(row.claimed_at, "claimed_at")),
      leaseExpiresAt: Number(required(row.lease_expires_at, "lease_expires_at")),
      purgeAt,
    };
  } else if (row.state === "completed") {
    record = {
      state: "completed",
      fingerprint,
      completedAt: Number(required(row.completed_at, "completed_at")),
      response: {
        status: Number(required(row.response_status, "response_status")),
        headers: JSON.parse(required(row.response_headers, "response_headers")) as [
          string,
          string,
        ][],
        body: new Uint8Array(row.response_body ?? new Uint8Array()),
      },
      purgeAt,
    };
  } else {
    throw new StoreError(
      "invariant_broken",
      `An idempotency record has the unknown state "${row.state}".`,
    );
  }
  return { record, version: row.version };
}

function required<T>(value: T | null, column: string): T {
  if (value === null) {
    throw new StoreError("invariant_broken", `An idempotency record lacks its ${column}.`);
  }
  return value;
}
