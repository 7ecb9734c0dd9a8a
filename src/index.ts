/**
 * Steadfast: durable execution for API calls. The package entry exports the in-process API
 * (`createSteadfast`), the call types and the error tree.
 */
export {
  createSteadfast,
  DEFAULT_DB,
  type CallHandle,
  type CallOptions,
  type Steadfast,
  type SteadfastOptions,
} from "./steadfast.ts";
export type { CallView, AttemptView, ResponseView } from "./core/call-view.ts";
export type { CallbackErrorView, CallbackStatus, CallbackView } from "./core/callback-view.ts";
export type { FetchInput } from "./core/fetch-input.ts";
export type {
  CallStatus,
  RetryPolicy,
  TimeoutPolicy,
  AttemptDecision,
  AttemptOutcome,
} from "./core/call.ts";
export type { Clock, Random } from "./core/ports.ts";
export {
  SteadfastError,
  TerminalError,
  RetryableError,
  WaitTimeoutError,
  InvalidOptionError,
  StoreError,
  isSteadfastError,
  isTerminalError,
  isRetryableError,
  isWaitTimeoutError,
  type ErrorCode,
  type StoreErrorCode,
} from "./core/errors.ts";
export type { DestinationView } from "./core/call-view.ts";
export type { DestinationSettings } from "./engine/destinations/destination-settings.ts";
export type { DestinationsService } from "./engine/destinations/destinations-service.ts";
export type { ApiKeysService } from "./engine/api-keys-service.ts";
export type { ApiKeyRecord, ApiKeySource, ApiKeyView } from "./core/api-key.ts";
