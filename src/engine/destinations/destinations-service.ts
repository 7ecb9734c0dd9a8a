/**
 * The destination use cases of the HTTP API and the CLI: list, show, set limits, reset. Not scoped
 * to a tenant: destinations are shared by every tenant's calls (the operator's view).
 */
import { TerminalError } from "../../core/errors.ts";
import type { Clock } from "../../core/ports.ts";
import type { DestinationGate } from "./destination-gate.ts";
import { parseDestination } from "./destination-key.ts";
import { toDestinationView, type DestinationView } from "./destination-view.ts";

/** A change of limits: a number sets one, `null` removes it, absent keeps it. */
export interface LimitsPatch {
  /** Requests per second, > 0. */
  rateLimitPerSecond?: number | null;
  /** Attempts in flight at once, an integer >= 1. */
  maxConcurrency?: number | null;
}

/**
 * Lists, shows and changes destinations through the engine's `DestinationGate` (which saves
 * them). Destinations are named as `parseDestination` reads them: an origin, or `host[:port]`
 * meaning https.
 *
 * @example
 * const service = new DestinationsService({ gate: engine.destinations, clock });
 * await service.setLimits("api.example.com", { rateLimitPerSecond: 10 });
 */
export class DestinationsService {
  readonly #gate: DestinationGate;
  readonly #clock: Clock;

  constructor(options: { gate: DestinationGate; clock: Clock }) {
    this.#gate = options.gate;
    this.#clock = options.clock;
  }

  /** Every destination known from the store or from calls in this process, by origin. */
  async list(): Promise<DestinationView[]> {
    await this.#gate.load();
    await this.#gate.refresh();
    const now = this.#clock.now();
    return this.#gate.list().map((info) => toDestinationView(info, now));
  }

  /** One destination. Throws `invalid_request` for a malformed name, `not_found` for an unknown one. */
  async get(name: string): Promise<DestinationView> {
    const destination = parse(name);
    const info = await this.#gate.get(destination);
    if (info === undefined) {
      throw new TerminalError(
        "not_found",
        `No destination ${destination}: no call has gone there since this server started and it has no saved state or limits (PUT /v1/destinations/${encodeURIComponent(destination)} sets limits)`,
      );
    }
    return toDestinationView(info, this.#clock.now());
  }

  /** Sets or removes limits, saved before this resolves. */
  async setLimits(name: string, patch: LimitsPatch): Promise<DestinationView> {
    const info = await this.#gate.setLimits(parse(name), patch);
    return toDestinationView(info, this.#clock.now());
  }

  /** Closes the breaker and ends the pause; held calls become due. */
  async reset(name: string): Promise<DestinationView> {
    const destination = parse(name);
    if ((await this.#gate.get(destination)) === undefined) {
      throw new TerminalError("not_found", `No destination ${destination} to reset`);
    }
    const info = await this.#gate.reset(destination);
    return toDestinationView(info, this.#clock.now());
  }
}

function parse(name: string): string {
  const parsed = parseDestination(name);
  if (!parsed.ok) {
    throw new TerminalError("invalid_request", `Invalid destination: ${parsed.message}`, {
      issues: [{ field: "destination", message: parsed.message }],
    });
  }
  return parsed.destination;
}
