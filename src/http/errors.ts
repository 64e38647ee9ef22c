/**
 * The closed list of error codes the API can answer, and the one table that maps each to
 * its HTTP status. Domain code throws `VaultError`; only the HTTP edge renders it.
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_path: 400,
  invalid_secret_type: 400,
  invalid_duration: 400,
  invalid_cursor: 400,
  invalid_policy: 400,
  invalid_glob: 400,
  invalid_config: 400,
  // identity domain
  invalid_role: 400,
  validation_error: 422,
  authentication_required: 401,
  token_invalid: 401,
  token_expired: 401,
  token_revoked: 401,
  access_denied: 403,
  insufficient_scope: 403,
  mfa_required: 403,
  ip_not_allowed: 403,
  time_window_violation: 403,
  tenant_access_denied: 403,
  forbidden: 403,
  not_found: 404,
  secret_not_found: 404,
  version_not_found: 404,
  policy_not_found: 404,
  binding_not_found: 404,
  webhook_not_found: 404,
  subscription_not_found: 404,
  rotation_policy_not_found: 404,
  secret_policy_not_found: 404,
  tenant_not_found: 404,
  identity_not_found: 404,
  token_not_found: 404,
  delivery_not_found: 404,
  export_not_found: 404,
  // identity domain
  sync_not_found: 404,
  trust_not_found: 404,
  method_not_allowed: 405,
  secret_exists: 409,
  version_conflict: 409,
  policy_in_use: 409,
  already_exists: 409,
  quota_exceeded: 409,
  no_rotation_policy: 409,
  secret_expired: 410,
  version_expired: 410,
  version_destroyed: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal_error: 500,
  service_unavailable: 503,
  // --- dynamic credentials (spec/dynamic.md D1) ---
  engine_not_found: 404,
  role_not_found: 404,
  lease_not_found: 404,
  engine_in_use: 409,
  lease_expired: 410,
  lease_revoked: 410,
  backend_error: 502,
  /** The PKI contract's code, also answered for SSH principals a role does not allow (D7). */
  name_not_allowed: 400,
  // --- end dynamic ---
  // --- pki (spec/pki.md P1) ---
  ca_not_found: 404,
  // role_not_found: shared with dynamic credentials (above)
  certificate_not_found: 404,
  csr_not_found: 404,
  trust_anchor_not_found: 404,
  acme_account_not_found: 404,
  acme_order_not_found: 404,
  dns_provider_not_found: 404,
  invalid_csr: 400,
  invalid_certificate: 400,
  // name_not_allowed: shared with dynamic credentials' SSH principals (above)
  key_not_allowed: 400,
  ca_inactive: 409,
  csr_not_pending: 409,
  acme_error: 502,
  dns_provider_error: 502,
  // --- end pki ---
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

export interface VaultErrorOptions {
  details?: Record<string, unknown>;
  /** Whole seconds; rendered as `Retry-After` (429 and 503 always carry one). */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class VaultError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown>;
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, message: string, options: VaultErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "VaultError";
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.details = options.details ?? {};
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export function isVaultError(error: unknown): error is VaultError {
  return error instanceof VaultError;
}

/** A 422 with per-field messages, the shape every schema violation takes. */
export function validationError(fields: Record<string, string>, message = "Request validation failed"): VaultError {
  return new VaultError("validation_error", message, { details: { fields } });
}

/**
 * 409 quota_exceeded: the caller's tenant or identity already holds the most of `resource` it may
 * (webhooks, subscriptions, leases). Not 429: waiting alone does not free a place.
 */
export function quotaExceeded(resource: string, per: "tenant" | "identity", limit: number, remedy: string, counted = resource): VaultError {
  return new VaultError("quota_exceeded", `This ${per} already holds ${limit} ${counted}, the most it may; ${remedy}`, { details: { resource, per, limit } });
}
