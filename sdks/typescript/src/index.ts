export { ScaiVaultClient } from "./client.js";
export { exchangeToken, IdentityResource, TrustsResource, type ExchangeRequest, type ExchangeResult } from "./identity.js";
export type { ClientOptions, RetryOptions } from "./transport.js";
export type { WriteOptions } from "./secrets.js";
export type { StreamHandlers } from "./stream.js";
export { verifyWebhookSignature, type SignatureScheme, type VerifyOptions } from "./webhooks.js";
export {
  AuthenticationError,
  ConflictError,
  errorFor,
  GoneError,
  NetworkError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  ScaiVaultError,
  ServerError,
  ServiceUnavailableError,
  ValidationError,
} from "./errors.js";
export type * from "./types.js";
