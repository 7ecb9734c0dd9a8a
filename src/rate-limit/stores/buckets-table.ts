/**
 * The SQL stores' table of buckets (SQLite and PostgreSQL alike): `bucket` (the id), `tat_us`
 * (its theoretical arrival time, epoch µs) and `last_allowed` (the decision of the last step,
 * which carries it out of an upsert's `RETURNING`, since that sees only the new row).
 */
export const BUCKETS_TABLE = "rate_limit_buckets";
