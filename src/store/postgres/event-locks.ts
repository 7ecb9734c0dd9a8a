// Transaction-level advisory locks, one per tenant and event name, that order the record of an
// event (`recordEventAndWake`) against the parks that check for unseen events of that name
// (`RunPark.eventsSeen`, run-commits.ts). Under READ COMMITTED, each transaction's statements
// see only what committed before they began, so without an order between the two a park could
// miss an event being recorded (its check runs before the event commits) while the record's
// wake-up misses the park (it runs before the park commits): the run would wait for an event
// that is there. A record holds the lock of its name shared (records never wait for each other);
// a park holds its names' locks exclusive, taken in a statement before its check. Whichever
// takes the lock first commits before the other's next statement begins, which then sees it: the
// park finds the event, or the wake-up finds the parked run. Keys are taken in ascending order,
// and a transaction waiting for one holds no row lock, so they add no deadlock.
import pg from "pg";
import type { SchemaNames } from "./schema-names.ts";

// The lock key (bigint) of event `name` of tenant `tenantId` (SQL expressions) in this schema.
function lockKey(names: SchemaNames, tenantId: string, name: string): string {
  return `hashtextextended(json_build_array(${pg.escapeLiteral(names.schema)}::text, ${tenantId}, ${name})::text, 0)`;
}

/** Takes the lock of event `$2` of tenant `$1` shared, until the transaction ends. */
export function lockEventSharedSql(names: SchemaNames): string {
  return `SELECT pg_advisory_xact_lock_shared(${lockKey(names, "$1::text", "$2::text")})`;
}

/**
 * Takes exclusive, in ascending order, the locks of the event names each run `$1[i]` (text[])
 * parks on (`$2[i]`: a JSON array of names), for the run's tenant, until the transaction ends.
 */
export function lockParkedEventsSql(names: SchemaNames): string {
  return (
    "SELECT count(pg_advisory_xact_lock(s.k))::integer AS locked FROM (SELECT DISTINCT " +
    `${lockKey(names, "w.tenant_id", "n.name")} AS k ` +
    `FROM unnest($1::text[], $2::text[]) AS p(uid, events) JOIN ${names.work} w ON w.id = p.uid ` +
    "CROSS JOIN json_array_elements_text(p.events::json) AS n(name) ORDER BY k) s"
  );
}
