/**
 * An event as a tenant sends it (`POST /v1/events`, `sendEvent`): its name, its data, and an
 * optional id that deduplicates (issue 11). The schema validates the HTTP body and feeds the
 * OpenAPI document; `parseEventInput` is the one check every entry point makes.
 */
import { z } from "zod";
import { TerminalError, type FieldIssue } from "./errors.ts";
import { fieldIssues } from "./fetch-input.ts";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "./json-depth.ts";
import { eventNameProblem } from "./workflow/run-names.ts";

/** Longest event name and event id, characters. */
export const MAX_EVENT_NAME_LENGTH = 256;

const NAME_MESSAGE = `must be a string of 1 to ${MAX_EVENT_NAME_LENGTH} characters without control characters, such as "order.approved"`;
const ID_MESSAGE = `must be a string of 1 to ${MAX_EVENT_NAME_LENGTH} characters without control characters; leave it out to have one made`;

/** The body of `POST /v1/events`. Unknown fields are refused, so a typo is not ignored. */
export const EventInputSchema = z
  .strictObject({
    name: z
      .string({ error: NAME_MESSAGE })
      .min(1, { error: NAME_MESSAGE, abort: true })
      .max(MAX_EVENT_NAME_LENGTH, { error: NAME_MESSAGE, abort: true })
      .refine((name) => eventNameProblem(name) === undefined, { error: NAME_MESSAGE })
      .describe("The event's name; step.waitForEvent waits for events of a name."),
    data: z
      .unknown()
      .optional()
      .describe(
        `Any JSON value, nested at most ${MAX_JSON_DEPTH} levels; default null. step.waitForEvent's match compares its top-level fields.`,
      ),
    id: z
      .string({ error: ID_MESSAGE })
      .min(1, { error: ID_MESSAGE, abort: true })
      .max(MAX_EVENT_NAME_LENGTH, { error: ID_MESSAGE, abort: true })
      .refine((id) => eventNameProblem(id) === undefined, { error: ID_MESSAGE })
      .optional()
      .describe(
        "Deduplicates, per tenant: sending an id again records nothing (created false); the same id with another name or data is refused (409). Default: evt_<ULID>.",
      ),
  })
  .describe("An event for the runs waiting for it.");

/** An event to send. */
export interface EventInput {
  /** The event's name (`order.approved`): 1 to 256 characters. */
  name: string;
  /** Its data: any value the value codec stores (over HTTP, any JSON value). Default `null`. */
  data?: unknown;
  /** Deduplicates per tenant: 1 to 256 characters. Default `evt_<ULID>`. */
  id?: string;
}

/**
 * Validates an event. Throws a `TerminalError` `invalid_request` naming each bad field and the
 * fix.
 *
 * @example parseEventInput({ name: "order.approved", data: { orderId: "o-42" } })
 */
export function parseEventInput(value: unknown): EventInput {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const got = value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
    throw invalid([
      {
        field: "(body)",
        message: `must be a JSON object such as {"name": "order.approved", "data": {}}; got ${got}`,
      },
    ]);
  }
  const parsed = EventInputSchema.safeParse(value);
  if (!parsed.success) throw invalid(fieldIssues(parsed.error));
  // Before anything that recurses (the codec, canonical comparison) sees the data.
  if (nestsDeeperThan(parsed.data.data, MAX_JSON_DEPTH)) {
    throw invalid([
      {
        field: "data",
        message: `nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels, the limit; flatten it`,
      },
    ]);
  }
  const { name, data, id } = parsed.data;
  return { name, ...(data === undefined ? {} : { data }), ...(id === undefined ? {} : { id }) };
}

function invalid(issues: FieldIssue[]): TerminalError {
  return new TerminalError(
    "invalid_request",
    `Invalid event: ${issues.map((i) => `${i.field}: ${i.message}`).join("; ")}`,
    { issues },
  );
}
