/**
 * Human-readable output of `steadfast destinations`: a table of destinations and the detail of
 * one. Text from the server passes through `printable`.
 */
import type { DestinationView } from "../core/call-view.ts";
import { printable, shortTime, table } from "./format.ts";

/**
 * `closed`, `open until 12:04:31Z`, `half-open (probe until ...)`, with `, paused until ...` and
 * `, 2 tenants paused`.
 */
export function protectionText(destination: DestinationView): string {
  const { breaker, pause } = destination;
  let text: string;
  if (breaker.state === "closed") text = "closed";
  else if (breaker.state === "open") text = `open until ${shortTime(breaker.openUntil)}`;
  else text = `half-open (probe until ${shortTime(breaker.probeDeadline)})`;
  if (pause !== undefined) text += `, paused until ${shortTime(pause.until)}`;
  const tenants = destination.tenantPauses?.length ?? 0;
  if (tenants > 0) text += `, ${tenants} ${tenants === 1 ? "tenant" : "tenants"} paused`;
  return text;
}

/** `2/s, 10 at once`, or `-` without limits. */
export function limitsText(destination: DestinationView): string {
  const { rateLimitPerSecond, maxConcurrency } = destination.limits;
  const parts = [];
  if (rateLimitPerSecond !== null) parts.push(`${rateLimitPerSecond}/s`);
  if (maxConcurrency !== null) parts.push(`${maxConcurrency} at once`);
  return parts.length === 0 ? "-" : parts.join(", ");
}

function percent(rate: number): string {
  return `${Math.round(rate * 1_000) / 10}%`;
}

function latencyText(destination: DestinationView): string {
  const latency = destination.health.latencyMs;
  return latency === undefined ? "-" : `${latency.p50}/${latency.p95}/${latency.p99}`;
}

/** The table of `steadfast destinations list`. */
export function destinationsTable(destinations: readonly DestinationView[]): string {
  return table(
    ["DESTINATION", "BREAKER", "ERRORS", "REQUESTS", "P50/P95/P99 MS", "LIMITS"],
    destinations.map((d) => [
      printable(d.destination, 60),
      printable(protectionText(d)),
      percent(d.health.errorRate),
      String(d.health.requests),
      latencyText(d),
      limitsText(d),
    ]),
  );
}

/** The detail of `steadfast destinations show`: one `label  value` line per field. */
export function destinationDetail(destination: DestinationView): string {
  const { breaker, health, pause } = destination;
  const rows: [string, string][] = [
    ["destination", printable(destination.destination)],
    ["breaker", printable(protectionText(destination))],
  ];
  if (breaker.state !== "closed") rows.push(["  reason", printable(breaker.reason)]);
  rows.push(["  opens in a row", String(breaker.consecutiveOpens)]);
  if (pause !== undefined)
    rows.push(["pause", printable(`until ${shortTime(pause.until)} (${pause.reason})`)]);
  for (const [i, tenantPause] of (destination.tenantPauses ?? []).entries()) {
    const { tenant, until, reason } = tenantPause;
    rows.push([
      i === 0 ? "tenant pauses" : "",
      printable(`${tenant} until ${shortTime(until)} (${reason})`),
    ]);
  }
  rows.push(["limits", limitsText(destination)]);
  rows.push([
    "health",
    `${health.requests} requests, ${health.failures} failed (${percent(health.errorRate)}) in the last ${health.windowMs / 1_000} s; ${health.inFlight} in flight${health.waitingForSlot > 0 ? `, ${health.waitingForSlot} waiting for a slot` : ""}${health.permits === undefined ? "" : `, ${health.permits} of the fleet's permits held here`}`,
  ]);
  const latency = health.latencyMs;
  rows.push([
    "latency ms",
    latency === undefined ? "-" : `p50 ${latency.p50}, p95 ${latency.p95}, p99 ${latency.p99}`,
  ]);
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join("\n") + "\n";
}
