import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Socket } from "node:net";
import { randomBase62 } from "../shared/ids.js";
import { StorageError } from "../storage/contract.js";
import { VaultError } from "./errors.js";

interface FieldError {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
  keyword?: string;
}

/** Ajv's errors → `{field: message}` with dotted field names (`options.max_versions`). */
export function fieldsFromValidation(errors: readonly FieldError[], context: string | undefined): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const error of errors) {
    let field = (error.instancePath ?? "").replace(/^\//, "").replace(/\//g, ".");
    if (error.keyword === "required" && typeof error.params?.missingProperty === "string") {
      field = field ? `${field}.${error.params.missingProperty}` : error.params.missingProperty;
    }
    if (error.keyword === "additionalProperties" && typeof error.params?.additionalProperty === "string") {
      field = field ? `${field}.${error.params.additionalProperty}` : error.params.additionalProperty;
      fields[field] ??= "is not a known field";
      continue;
    }
    const name = field || (context === "querystring" ? "query" : context ?? "body");
    fields[name] ??= error.keyword === "required" ? "is required" : error.message ?? "is invalid";
  }
  return fields;
}

/** Turns anything thrown into the contract's error; the only place errors become responses. */
export function toVaultError(error: unknown): VaultError {
  if (error instanceof VaultError) return error;
  if (error instanceof StorageError && (error.kind === "unavailable" || error.kind === "serialization")) {
    return new VaultError("service_unavailable", "Storage is temporarily unavailable; retry shortly", { retryAfterSeconds: 1 });
  }
  if (error instanceof StorageError && error.kind === "invalid_input") {
    return new VaultError("invalid_request", "The request contains characters that cannot be stored (such as NUL)");
  }
  const fastifyError = error as FastifyError & { validation?: FieldError[]; validationContext?: string };
  if (fastifyError.validation) {
    return new VaultError("validation_error", "Request validation failed", {
      details: { fields: fieldsFromValidation(fastifyError.validation, fastifyError.validationContext) },
    });
  }
  switch (fastifyError.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new VaultError("payload_too_large", "The request body is too large");
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new VaultError("invalid_request", "The request body must be a JSON object");
    case "FST_ERR_BAD_URL":
    case "FST_ERR_ASYNC_CONSTRAINT":
      return new VaultError("invalid_request", "The request URL is malformed");
    default:
      break;
  }
  if (typeof fastifyError.statusCode === "number" && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new VaultError("invalid_request", "The request could not be processed");
  }
  return new VaultError("internal_error", "An internal error occurred", { cause: error });
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: VaultError): FastifyReply {
  const requestId = request.vault.requestId;
  request.vault.errorCode = error.code;
  if (error.status === 429 || error.status === 503) {
    reply.header("Retry-After", String(Math.max(1, Math.ceil(error.retryAfterSeconds ?? 1))));
  }
  return reply
    .code(error.status)
    .type("application/json; charset=utf-8")
    .send({ error: { code: error.code, message: error.message, details: error.details, request_id: requestId } });
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((raw, request, reply) => {
    const error = toVaultError(raw);
    if (error.code === "internal_error") {
      // Log what kind of failure it was, never its data: driver errors can quote stored values.
      const cause = raw as { name?: string; code?: string; kind?: string; stack?: string };
      request.log.error({ err: { name: cause.name, code: cause.code, kind: cause.kind, stack: cause.stack?.split("\n").slice(0, 6).join("\n") } }, "request failed");
    }
    return sendError(request, reply, error);
  });
  app.setNotFoundHandler((request, reply) => sendError(request, reply, new VaultError("not_found", "No such endpoint")));
}

/**
 * Requests Node's HTTP parser refuses (raw non-ASCII bytes in the URL, broken headers) never reach
 * Fastify's routes; they still get the contract's JSON error and a request id.
 */
export function clientErrorHandler(_error: Error, socket: Socket): void {
  if (socket.destroyed || !socket.writable) return;
  const requestId = `req_${randomBase62(20)}`;
  const body = JSON.stringify({ error: { code: "invalid_request", message: "The request could not be parsed", details: {}, request_id: requestId } });
  socket.end(
    `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-ID: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * Errors Fastify raises while routing (a malformed percent-escape in the URL, a failing router
 * constraint) come before any hook: without this they would leave in Fastify's own shape.
 */
export function frameworkErrorHandler(raw: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const error = toVaultError(raw);
  void reply
    .code(error.status)
    .header("X-Request-ID", request.id)
    .header("X-Content-Type-Options", "nosniff")
    .header("Cache-Control", "no-store")
    .type("application/json; charset=utf-8")
    .send({ error: { code: error.code, message: error.message, details: error.details, request_id: request.id } });
}
