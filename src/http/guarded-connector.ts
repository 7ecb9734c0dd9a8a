/**
 * The socket factory behind `UndiciTransport`: undici's own connector, with a DNS lookup that
 * passes only the addresses the destination guard allows. Node's `net.connect` dials exactly the
 * address the lookup returned, so the connection is pinned to a checked address and the name is
 * never resolved a second time (no DNS rebinding between check and connect).
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { performance } from "node:perf_hooks";
import { buildConnector } from "undici";
import { TerminalError } from "../core/errors.ts";
import { howToAllow, type DestinationGuard } from "./destination-guard.ts";

/**
 * Raised inside the connector when the guard refuses every address of a destination: a
 * `TerminalError` with code `blocked_destination` (its stable code is how it is recognised after
 * crossing undici).
 */
export class BlockedDestinationError extends TerminalError {
  /** The host name or literal address that was refused. */
  readonly host: string;
  /** The refused addresses. */
  readonly addresses: readonly string[];

  /** `fix` is the guard's advice for `reason` (`DestinationGuard.howToAllow`). */
  constructor(
    host: string,
    addresses: readonly string[],
    reason: string,
    fix: string = howToAllow(reason),
  ) {
    const shown = addresses.join(", ");
    const target = host === shown ? host : `${host} (resolved to ${shown})`;
    super("blocked_destination", `blocked destination: ${target} is a ${reason} address; ${fix}`);
    this.name = "BlockedDestinationError";
    this.host = host;
    this.addresses = addresses;
  }
}

/**
 * Tells a request whether its connection is new. The connector sets `openedAt` (a
 * `performance.now()` reading) while it hands a fresh socket to undici; undici writes the
 * socket's first request synchronously inside that hand-over, and that request claims the
 * reading (see `Exchange.onRequestStart`). Outside a hand-over `openedAt` is `undefined`.
 */
export class FreshConnectionSlot {
  openedAt: number | undefined = undefined;
}

/** Options of `createGuardedConnector`. */
export interface GuardedConnectorOptions {
  guard: DestinationGuard;
  slot: FreshConnectionSlot;
  /** Upper bound on one TCP and TLS connect, in ms. */
  connectTimeoutMs: number;
}

type Connector = ReturnType<typeof buildConnector>;

/**
 * Builds an undici connector that resolves through the guard, refuses literal addresses the guard
 * blocks, and marks fresh connections in `slot`.
 */
export function createGuardedConnector(options: GuardedConnectorOptions): Connector {
  const { guard, slot } = options;
  const base = buildConnector({
    timeout: options.connectTimeoutMs,
    lookup: guardedLookup(guard),
  });
  return (connectOptions, callback) => {
    const host = connectOptions.hostname;
    if (isIP(host) !== 0) {
      // Literal addresses skip the lookup; `checkUrl` refused them already, this is the backstop.
      const reason = guard.blockedReason(host);
      if (reason !== undefined) {
        callback(new BlockedDestinationError(host, [host], reason, guard.howToAllow(reason)), null);
        return;
      }
    }
    base(connectOptions, (error, socket) => {
      if (error !== null && error !== undefined) {
        callback(error, null);
        return;
      }
      slot.openedAt = performance.now();
      try {
        callback(null, socket);
      } finally {
        slot.openedAt = undefined;
      }
    });
  };
}

/** A `net.connect` lookup that drops addresses the guard refuses, and fails when none is left. */
export function guardedLookup(guard: DestinationGuard): LookupFunction {
  return (hostname, options: LookupOptions, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error !== null) {
        callback(error, "");
        return;
      }
      const allowed = addresses.filter((entry) => guard.isAllowedAddress(entry.address));
      const first = allowed[0];
      if (first === undefined) {
        const refused = addresses.map((entry) => entry.address);
        const reason = guard.blockedReason(refused[0] ?? "") ?? "blocked";
        callback(
          new BlockedDestinationError(hostname, refused, reason, guard.howToAllow(reason)),
          "",
        );
        return;
      }
      if (options.all === true) callback(null, allowed);
      else callback(null, first.address, first.family);
    });
  };
}
