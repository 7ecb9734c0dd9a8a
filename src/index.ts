/**
 * Steadfast: durable execution for API calls. The package entry exports the in-process API
 * (`createSteadfast`), the call types and the error tree.
 */
export {
  createSteadfast,
  DEFAULT_DB,
  type CallHandle,
  type CallOptions,
  type SendEventOptions,
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
// Durable workflows (docs/workflows.md).
export {
  defineWorkflow,
  type Compensation,
  type StepFetchRequest,
  type StepFetchResponse,
  type StepRunContext,
  type StepRunOptions,
  type Steps,
  type WaitForEventOptions,
  type WorkflowContext,
  type WorkflowDefinition,
  type WorkflowFunction,
} from "./engine/workflows/workflow-definition.ts";
export {
  RunCancelledError,
  RunFailedError,
  RunIdReusedError,
  type RunHandle,
  type StartOptions,
  type Workflow,
  type WorkflowClient,
} from "./engine/workflows/workflow-client.ts";
export type { WorkflowOptions } from "./engine/workflows/run-executor.ts";
export type { SentEvent, RunsService } from "./engine/workflows/runs-service.ts";
export {
  NonRetriableError,
  ReplayDivergedError,
  StepFailedError,
  isReplayDivergedError,
  isStepFailedError,
  type RecordedError,
} from "./core/workflow/workflow-errors.ts";
export type { RunStatus } from "./core/workflow/run-state.ts";
export type { CompensationOutcome, CompensationReport } from "./core/workflow/compensation.ts";
export type { StepRetryOptions } from "./core/workflow/step-attempt.ts";
export type { Duration } from "./core/duration.ts";
// Durable endpoints (docs/endpoints.md).
export type {
  DurableEndpoint,
  EndpointContext,
  EndpointHandler,
  EndpointOptions,
} from "./engine/endpoints/durable-endpoint.ts";
export type { EndpointRequest, EndpointResponse } from "./core/endpoint/endpoint-exchange.ts";
export { toNodeHandler, type NodeHandler } from "./endpoints/node-adapter.ts";
export type { WebHandler } from "./endpoints/endpoint-request.ts";
export {
  toExpressHandler,
  type ExpressHandler,
  type ExpressRequestLike,
} from "./endpoints/express-adapter.ts";
export {
  keepRawBodies,
  toFastifyHandler,
  type FastifyContentTypeParsers,
  type FastifyHandler,
  type FastifyReplyLike,
  type FastifyRequestLike,
} from "./endpoints/fastify-adapter.ts";
