import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { callerOf } from "../http/pipeline.js";
import { VaultError } from "../http/errors.js";
import { ACTION_WORDS, splitSecretUrl } from "./paths.js";
import type { SecretsReader } from "./reader.js";
import type { SecretsService } from "./service.js";
import type { BatchMetadataReader } from "./batch-metadata.js";
import {
  BatchMetadataBody,
  BatchMetadataResponse,
  BatchReadBody,
  BatchReadResponse,
  DeleteSecretQuery,
  DeleteSecretResponse,
  DestroyVersionsBody,
  ExpiringQuery,
  ListSecretsQuery,
  PatchMetadataBody,
  ReadSecretQuery,
  SecretListResponse,
  SecretMetadataObject,
  SecretObject,
  SecretVersionsResponse,
  WriteSecretBody,
} from "./schemas.js";

const BASE = "/v1/secrets/";
const tags = ["secrets"];

function pathOf(request: FastifyRequest): string {
  return splitSecretUrl(request.url, BASE).path;
}

/** `If-Match: 3` or `"3"` (ETag style) → 3. */
function ifMatchVersion(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header[0] : header;
  const match = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(text);
  if (!match) throw new VaultError("validation_error", "If-Match must be a version number", { details: { fields: { "If-Match": "must be a version number" } } });
  return Number(match[1]);
}

export function registerSecretRoutes(app: FastifyInstance, service: SecretsService, reader: SecretsReader, batchMetadata: BatchMetadataReader): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get("/v1/secrets", {
    schema: { tags, summary: "List secrets by prefix and tag", querystring: ListSecretsQuery, response: { 200: SecretListResponse } },
    config: { scope: "secrets:list", action: "list", category: "list" },
  }, async (request) => reader.list(callerOf(request), request.query));

  // The static routes carry the same constraint value the router derives for them ("none"), or
  // `mustMatchWhenDerived` would send them to the wildcard route instead.
  const plain = { secretAction: "none" };

  r.get("/v1/secrets/expiring", {
    constraints: plain,
    schema: { tags, summary: "Secrets expiring within a duration", querystring: ExpiringQuery },
    config: { scope: "secrets:list", action: "list", category: "list" },
  }, async (request) => reader.expiring(callerOf(request), request.query));

  r.post("/v1/secrets/batch", {
    constraints: plain,
    schema: { tags, summary: "Read many secrets", body: BatchReadBody, response: { 200: BatchReadResponse } },
    config: { scope: "secrets:read", action: "read", category: "batch_read" },
  }, async (request) => reader.batchRead(callerOf(request), request.body));

  // The router derives "metadata" from this URL's last segment, so the static route carries that value.
  r.post("/v1/secrets/batch/metadata", {
    constraints: { secretAction: "metadata" },
    schema: { tags, summary: "Read many secrets' metadata (no values)", body: BatchMetadataBody, response: { 200: BatchMetadataResponse } },
    config: { scope: "secrets:list", action: "list", category: "batch_metadata" },
  }, async (request) => batchMetadata.read(callerOf(request), request.body));

  const secretDoc = "/v1/secrets/{path}";

  r.get("/v1/secrets/*", {
    constraints: plain,
    schema: { tags, summary: "Read a secret", querystring: ReadSecretQuery, response: { 200: SecretObject } },
    config: { scope: "secrets:read", action: "read", category: "read", docPath: secretDoc },
  }, async (request, reply) => {
    const q = request.query.version;
    const secret = await reader.read(callerOf(request), pathOf(request), q === undefined ? undefined : q === "previous" ? "previous" : Number(q));
    reply.header("ETag", `"${secret.version}"`);
    return secret;
  });

  r.put("/v1/secrets/*", {
    constraints: plain,
    schema: { tags, summary: "Write a new version of a secret", body: WriteSecretBody, response: { 200: SecretObject, 201: SecretObject } },
    config: { scope: "secrets:write", action: "write", category: "write", docPath: secretDoc },
  }, async (request, reply) => {
    const result = await service.write(callerOf(request), pathOf(request), request.body, ifMatchVersion(request.headers["if-match"]));
    reply.header("ETag", `"${result.secret.version}"`);
    return reply.code(result.created ? 201 : 200).send(result.secret);
  });

  r.delete("/v1/secrets/*", {
    constraints: plain,
    schema: { tags, summary: "Delete a secret (soft unless permanent=true)", querystring: DeleteSecretQuery, response: { 200: DeleteSecretResponse } },
    config: { scope: "secrets:delete", action: "delete", category: "delete", docPath: secretDoc },
  }, async (request) => service.delete(callerOf(request), pathOf(request), request.query.permanent === true));

  r.get("/v1/secrets/*", {
    constraints: { secretAction: "versions" },
    schema: { tags, summary: "List a secret's versions", response: { 200: SecretVersionsResponse } },
    config: { scope: "secrets:list", action: "list", category: "list", docPath: "/v1/secrets/{path}/versions" },
  }, async (request) => reader.versions(callerOf(request), pathOf(request)));

  r.get("/v1/secrets/*", {
    constraints: { secretAction: "metadata" },
    schema: { tags, summary: "Read a secret's metadata (no value)", response: { 200: SecretMetadataObject } },
    config: { scope: "secrets:list", action: "list", category: "list", docPath: "/v1/secrets/{path}/metadata" },
  }, async (request) => reader.metadata(callerOf(request), pathOf(request)));

  r.patch("/v1/secrets/*", {
    constraints: { secretAction: "metadata" },
    schema: { tags, summary: "Update metadata and options without a new version", body: PatchMetadataBody, response: { 200: SecretMetadataObject } },
    config: { scope: "secrets:write", action: "write", category: "write", docPath: "/v1/secrets/{path}/metadata" },
  }, async (request) => service.patchMetadata(callerOf(request), pathOf(request), request.body));

  r.post("/v1/secrets/*", {
    constraints: { secretAction: "undelete" },
    schema: { tags, summary: "Restore a soft-deleted secret", response: { 200: Type.Omit(SecretObject, ["data"]) } },
    config: { scope: "secrets:write", action: "write", category: "write", docPath: "/v1/secrets/{path}/undelete" },
  }, async (request) => service.undelete(callerOf(request), pathOf(request)));

  r.post("/v1/secrets/*", {
    constraints: { secretAction: "destroy" },
    schema: { tags, summary: "Erase the ciphertext of some versions", body: DestroyVersionsBody },
    config: { scope: "secrets:delete", action: "delete", category: "delete", docPath: "/v1/secrets/{path}/destroy" },
  }, async (request) => service.destroy(callerOf(request), pathOf(request), request.body.versions));

  // A plain write or delete of a path ending in an action word is a path error, not an unknown route.
  for (const word of ACTION_WORDS) {
    for (const method of ["PUT", "DELETE"] as const) {
      r.route({
        method,
        url: "/v1/secrets/*",
        constraints: { secretAction: word },
        schema: { hide: true },
        config: { scope: method === "PUT" ? "secrets:write" : "secrets:delete", action: method === "PUT" ? "write" : "delete" },
        handler: async () => {
          throw new VaultError("invalid_path", `Invalid secret path: the last segment may not be one of ${ACTION_WORDS.join(", ")}`);
        },
      });
    }
  }
}
