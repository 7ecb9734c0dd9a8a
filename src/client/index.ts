/**
 * `steadfast/client`: a typed client for the Steadfast durable call API.
 *
 * @example
 * import { createClient } from "steadfast/client";
 *
 * const steadfast = createClient({ baseUrl: "http://127.0.0.1:7480", apiKey: "..." });
 * const call = await steadfast.fetch({ url: "https://api.example.com/ping" }, { waitSeconds: 5 });
 * for await (const failed of steadfast.listAll({ status: "failed" })) console.log(failed.id);
 */
export {
  createClient,
  DEFAULT_BASE_URL,
  type ApiKeysQuery,
  type CallPage,
  type CreateApiKeyInput,
  type CreatedApiKey,
  type ClientOptions,
  type DestinationLimitsInput,
  type ListQuery,
  type ListRunsQuery,
  type RequestOptions,
  type RunPage,
  type SentEventView,
  type SteadfastClient,
  type SubmitOptions,
} from "./client.ts";
export {
  isSteadfastApiError,
  isSteadfastConnectionError,
  SteadfastApiError,
  SteadfastConnectionError,
  type ProblemDetails,
  type ProblemFieldError,
} from "./errors.ts";
export type {
  AttemptView,
  BreakerView,
  CallView,
  DestinationView,
  ResponseView,
  WaitingForView,
} from "../core/call-view.ts";
export type { CallbackErrorView, CallbackStatus, CallbackView } from "../core/callback-view.ts";
export type { AttemptDecision, AttemptOutcome, CallStatus } from "../core/call.ts";
export type { ApiKeySource, ApiKeyView } from "../core/api-key.ts";
export type { FetchInput } from "../core/fetch-input.ts";
export type { EventInput } from "../core/event-input.ts";
export type {
  RunErrorView,
  RunSummaryView,
  RunView,
  StepAttemptView,
  StepDecisionView,
  StepView,
  StepWaitView,
} from "../core/run-view.ts";
export type { JsonValue } from "../core/json-projection.ts";
export type { RunStatus } from "../core/workflow/run-state.ts";
