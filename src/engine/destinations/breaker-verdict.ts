import { isRetryableStatus } from "../../core/classify-outcome.ts";
import type { SendResult } from "../../core/transport.ts";

/**
 * How the breaker counts an attempt: the transient outcomes are failures (the statuses of
 * `isRetryableStatus`: 408, 425, 429, 5xx but 501 and 505; and network errors); other responses
 * (4xx included: the destination answered) are successes; an aborted send, or a destination
 * refused before sending, says nothing about the destination.
 */
export function breakerVerdict(result: SendResult): "success" | "failure" | "ignore" {
  if (result.type === "response") return isRetryableStatus(result.status) ? "failure" : "success";
  return result.code === "aborted" || result.code === "blocked_destination" ? "ignore" : "failure";
}
