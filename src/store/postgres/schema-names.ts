import { createHash } from "node:crypto";
import pg from "pg";
import { InvalidOptionError } from "../../core/errors.ts";

/** The schema `PostgresStore` uses unless told otherwise. */
export const DEFAULT_SCHEMA = "steadfast";

// Lower case so that quoted and unquoted spellings name the same schema; 63 bytes is
// PostgreSQL's identifier limit (NAMEDATALEN - 1).
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Everything named after the store's schema: the qualified table names its SQL uses, the
 * LISTEN/NOTIFY channel, and the advisory lock key that serialises migrations.
 */
export interface SchemaNames {
  /** The schema, e.g. `steadfast`. */
  schema: string;
  /** The schema as a quoted identifier, e.g. `"steadfast"`. */
  quoted: string;
  /** Qualified table names, e.g. `"steadfast".calls`. */
  calls: string;
  /** The narrow queue table: one row per live unit of work (migration 0008). */
  work: string;
  attempts: string;
  tenants: string;
  apiKeys: string;
  destinations: string;
  rateSchedules: string;
  destinationPermits: string;
  workers: string;
  /** The events tenants send (migration 0009). */
  events: string;
  /** Workflow runs, their step checkpoints, step attempts and out-of-line values (0010). */
  runs: string;
  runSteps: string;
  runStepAttempts: string;
  runValues: string;
  /**
   * The NOTIFY channel for new work: `steadfast_work` for the default schema, else
   * `steadfast_work.<schema>` (channels are per database, not per schema, so stores in two
   * schemas of one database do not wake each other). Hashed when that would be too long.
   */
  channel: string;
  /** Key of the transaction-level advisory lock held while migrating, as a bigint literal. */
  migrationLockKey: string;
}

/** The names derived from `schema`. Throws on a name that is not a plain lower-case identifier. */
export function schemaNames(schema: string): SchemaNames {
  if (!SCHEMA_PATTERN.test(schema)) {
    throw new InvalidOptionError(
      `PostgreSQL schema ${JSON.stringify(schema)} is not a plain identifier: use lower-case ` +
        `letters, digits and underscores, starting with a letter or underscore (at most 63).`,
    );
  }
  const quoted = pg.escapeIdentifier(schema);
  const digest = (text: string) => createHash("sha256").update(text).digest();
  let channel = schema === DEFAULT_SCHEMA ? "steadfast_work" : `steadfast_work.${schema}`;
  if (channel.length > 63) channel = `steadfast_work.${digest(schema).toString("hex", 0, 16)}`;
  return {
    schema,
    quoted,
    calls: `${quoted}.calls`,
    work: `${quoted}.work`,
    attempts: `${quoted}.attempts`,
    tenants: `${quoted}.tenants`,
    apiKeys: `${quoted}.api_keys`,
    destinations: `${quoted}.destinations`,
    rateSchedules: `${quoted}.rate_schedules`,
    destinationPermits: `${quoted}.destination_permits`,
    workers: `${quoted}.workers`,
    events: `${quoted}.events`,
    runs: `${quoted}.runs`,
    runSteps: `${quoted}.run_steps`,
    runStepAttempts: `${quoted}.run_step_attempts`,
    runValues: `${quoted}.run_values`,
    channel,
    migrationLockKey: digest(`steadfast:migrate:${schema}`).readBigInt64BE(0).toString(),
  };
}
