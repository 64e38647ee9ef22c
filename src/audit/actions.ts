/**
 * The audit actions the public docs name (API Reference → Audit Logs, "complete reference list",
 * 22 values). Every request or background job that does one of these things is recorded under
 * exactly this name; anything the docs do not name gets an ext action (docs/audit-actions.md).
 */
export const DOCUMENTED_ACTIONS = [
  "read", "write", "delete", "list", "rotate",
  "policy_create", "policy_update", "policy_delete", "policy_bind", "policy_unbind",
  "pki_issue", "pki_sign", "pki_revoke", "pki_ca_create",
  "dynamic_generate", "dynamic_renew", "dynamic_revoke",
  "webhook_delivery", "subscription_event",
  "federation_sync", "identity_sync", "export_created",
] as const;

export type DocumentedAction = (typeof DOCUMENTED_ACTIONS)[number];

export function isDocumentedAction(action: string): action is DocumentedAction {
  return (DOCUMENTED_ACTIONS as readonly string[]).includes(action);
}
