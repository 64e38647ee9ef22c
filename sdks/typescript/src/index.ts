export { ScaiVaultClient } from "./client.js";
export { Transport } from "./transport.js";
export type { ClientOptions, RequestSpec, RetryOptions } from "./transport.js";
export { exchangeToken, IdentityResource, TrustsResource, type ExchangeRequest, type ExchangeResult } from "./identity.js";
export type { WriteOptions } from "./secrets.js";
export type { AcmeAccount, AcmeOrder, CreateAcmeAccountBody, CreateAcmeOrderBody, CreateCaBody, IssueCertificateBody, IssuedCertificate, PkiCa, PkiCertificate } from "./pki.js";
export { PkiResource } from "./pki.js";
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
  ContextMismatchError,
  RateLimitError,
  ScaiVaultError,
  ServerError,
  ServiceUnavailableError,
  ValidationError,
} from "./errors.js";
export type * from "./types.js";
export type { CredsOptions, Lease, LeaseWithData } from "./dynamic.js";
export { DynamicResource } from "./dynamic.js";
