/**
 * Typed errors: one class per family of the API's error codes, each carrying the wire fields.
 * Match on `code` (stable) or on the class; never on `message`.
 */
export interface ErrorFields {
  code: string;
  message: string;
  status: number;
  requestId?: string | null;
  details?: Record<string, unknown>;
  retryAfter?: number | null;
}

export class ScaiVaultError extends Error {
  readonly code: string;
  readonly status: number;
  readonly requestId: string | null;
  readonly details: Record<string, unknown>;
  /** Seconds from `Retry-After`, when the server sent one. */
  readonly retryAfter: number | null;

  constructor(fields: ErrorFields) {
    super(fields.message);
    this.name = new.target.name;
    this.code = fields.code;
    this.status = fields.status;
    this.requestId = fields.requestId ?? null;
    this.details = fields.details ?? {};
    this.retryAfter = fields.retryAfter ?? null;
  }
}

/** 401: no, bad, expired or revoked token. */
export class AuthenticationError extends ScaiVaultError {}
/** 403: no policy grants it, scope too narrow, a failed condition, another tenant. */
export class PermissionDeniedError extends ScaiVaultError {}
/** Refused by the client itself, never sent: the token's context lies outside the partner the client is locked to. `code` is `context_mismatch`. */
export class ContextMismatchError extends PermissionDeniedError {}
/** 404 (and 410, see GoneError). */
export class NotFoundError extends ScaiVaultError {}
/** 410: expired secret, expired or destroyed version. Still a NotFoundError for callers that only care about absence. */
export class GoneError extends NotFoundError {}
/** 409: version_conflict, secret_exists, already_exists, policy_in_use, no_rotation_policy. */
export class ConflictError extends ScaiVaultError {}
/** 400, 413 and 422: input the server refused. */
export class ValidationError extends ScaiVaultError {
  /** `details.fields` of a 422: `{field: message}`. */
  get fields(): Record<string, string> {
    return (this.details.fields as Record<string, string> | undefined) ?? {};
  }
}
/** 429 rate_limited; `retryAfter` is set. */
export class RateLimitError extends ScaiVaultError {}
/** 503 service_unavailable; `retryAfter` is set. */
export class ServiceUnavailableError extends ScaiVaultError {}
/** 5xx other than 503. */
export class ServerError extends ScaiVaultError {}
/** The request never got an answer (connection refused, reset, timeout). `code` is `network_error`. */
export class NetworkError extends ScaiVaultError {}

export function errorFor(fields: ErrorFields): ScaiVaultError {
  const { status, code } = fields;
  if (code === "rate_limited" || status === 429) return new RateLimitError(fields);
  if (code === "service_unavailable" || status === 503) return new ServiceUnavailableError(fields);
  if (status === 401) return new AuthenticationError(fields);
  if (status === 403) return new PermissionDeniedError(fields);
  if (status === 410) return new GoneError(fields);
  if (status === 404) return new NotFoundError(fields);
  if (status === 409) return new ConflictError(fields);
  if (status === 400 || status === 413 || status === 415 || status === 422) return new ValidationError(fields);
  if (status >= 500) return new ServerError(fields);
  return new ScaiVaultError(fields);
}
