/**
 * Request and response types, derived from the server's TypeBox route schemas (src/<domain>/schemas.ts,
 * whose declarations the build emits into ../api) — one definition for server and SDK.
 */
import type { Static } from "@sinclair/typebox";
import type * as Policies from "../api/access/policy-schemas.js";
import type * as Audit from "../api/audit/schemas.js";
import type * as Events from "../api/events/schemas.js";
import type * as Rotation from "../api/rotation/schemas.js";
import type * as Secrets from "../api/secrets/schemas.js";

export type SecretType = Secrets.SecretType;
export type WriteSecretBody = Secrets.WriteSecretBody;
export type PatchMetadataBody = Secrets.PatchMetadataBody;
export type BatchReadBody = Secrets.BatchReadBody;
export type SecretMetadata = Secrets.SecretMetadata;
export type SecretMetadataInput = NonNullable<WriteSecretBody["metadata"]>;
export type SecretOptionsInput = NonNullable<WriteSecretBody["options"]>;
export type Secret = Secrets.SecretObject & { data: Record<string, unknown> };
/** A write's answer: the secret object without `data`. */
export type SecretInfo = Omit<Secrets.SecretObject, "data">;
export type SecretMetadataObject = Secrets.SecretMetadataObject;
export type SecretVersions = Secrets.SecretVersionsResponse;
export type SecretListItem = Secrets.SecretListResponse["data"][number];
export type BatchReadResponse = Secrets.BatchReadResponse;
export type ListSecretsQuery = Secrets.ListSecretsQuery;

/** A page of a list endpoint, with the wire's `has_more` as `hasMore`. */
export interface Page<T> {
  data: T[];
  cursor: string | null;
  hasMore: boolean;
}

/** The envelope of every event (webhooks, subscriptions, the stream). */
export interface VaultEvent {
  event_id: string;
  event_type: string;
  timestamp: string;
  tenant_id: string | null;
  partner_id: string | null;
  identity_id: string | null;
  path: string | null;
  data: Record<string, unknown>;
  request_id: string | null;
}

export type CreatePolicyBody = Policies.CreatePolicyBody;
export type ReplacePolicyBody = Policies.ReplacePolicyBody;
export type PatchPolicyBody = Policies.PatchPolicyBody;
export type CreateBindingBody = Policies.CreateBindingBody;
export type TestPolicyBody = Policies.TestPolicyBody;
export type TestPolicyResponse = Static<typeof Policies.TestPolicyResponse>;

export type RotationPolicyCreate = Rotation.RotationPolicyCreate;
export type RotationPolicyPatch = Rotation.RotationPolicyPatch;
export type RotationPolicy = Rotation.RotationPolicyObject;
export type RotationHistoryItem = Rotation.RotationHistoryItem;
export type RotationDueQuery = Rotation.DueQuery;
export type SecretPolicyCreate = Rotation.SecretPolicyCreate;
export type SecretPolicyPatch = Rotation.SecretPolicyPatch;
export type SecretPolicy = Rotation.SecretPolicyObject;

export type CreateWebhookBody = Events.CreateWebhookBody;
export type PatchWebhookBody = Events.PatchWebhookBody;
export type CreateSubscriptionBody = Events.CreateSubscriptionBody;
export type PatchSubscriptionBody = Events.PatchSubscriptionBody;
export type PollQuery = Events.PollQuery;

export type AuditLogsQuery = Audit.LogsQuery;
export type AuditEntry = Audit.AuditEntryView;
export type AuditVerifyResult = Static<typeof Audit.VerifyResponse>;
export type AuditExportBody = Audit.ExportBody;

/** A management object as answered (its id plus the fields of its kind). */
export type ApiObject = Record<string, unknown> & { id: string };
