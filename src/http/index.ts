/**
 * Outgoing HTTP: the undici `Transport`, the destination guard that keeps requests off private
 * and metadata addresses, and Standard Webhooks signing for callbacks.
 */
export { UndiciTransport, type UndiciTransportOptions } from "./undici-transport.ts";
export {
  createDestinationGuard,
  type DestinationGuard,
  type DestinationGuardOptions,
  type UrlCheck,
} from "./destination-guard.ts";
export { BlockedDestinationError } from "./guarded-connector.ts";
export {
  classifyTransportError,
  type FailureContext,
  type TransportFailure,
} from "./classify-transport-error.ts";
export {
  generateSigningSecret,
  signWebhook,
  verifyWebhook,
  type SignWebhookOptions,
  type VerifyWebhookOptions,
} from "./webhook-signature.ts";
