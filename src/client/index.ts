/**
 * `zdz-connector/client`: what an integrator imports to call the connector and to receive its webhooks.
 *
 * @example
 * import { createClient, verifyWebhook, verifyReceipt, ProblemError } from 'zdz-connector/client'
 */
export { createClient, ProblemError } from './http.js'
export type {
  ApiResponse,
  CallOptions,
  ClientOptions,
  ConnectorClient,
  HttpMethod,
  Operation,
  PathsWith,
  ProblemBody,
  ProblemFieldError,
  RequestBody,
  SuccessBody,
  UntypedCallOptions,
} from './http.js'
export { signWebhook, verifyWebhook, WebhookVerificationError, WEBHOOK_SCHEMES, WEBHOOK_TOLERANCE_SECONDS } from './webhooks.js'
export type { VerifiedWebhook, VerifyWebhookInput, WebhookAlgorithm, WebhookErrorCode, WebhookHeaderSource } from './webhooks.js'
export type { components, operations, paths, webhooks } from './openapi-types.js'
export { ReceiptVerificationError, SM2_DEFAULT_USER_ID, verifyReceipt, verifySm2 } from './receipts.js'
export type { Jwk, ReceiptAlgorithm, ReceiptPayload } from './receipts.js'
