import type { Permission } from "./scopes.js";

export interface TimeWindow {
  start: string;
  end: string;
  timezone?: string;
  days?: string[];
}

export interface RuleConditions {
  ip_ranges?: string[];
  require_mfa?: boolean;
  time_window?: TimeWindow;
}

export interface PolicyRule {
  path_pattern: string;
  permissions: Permission[];
  conditions?: RuleConditions;
  effect?: "allow" | "deny";
}

export interface Policy {
  id: string;
  partnerId: string;
  tenantId: string | null;
  scope: "tenant" | "partner";
  name: string;
  description: string | null;
  rules: PolicyRule[];
  builtin: boolean;
  /** Inactive policies are kept but never grant or deny anything. */
  isActive?: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface Binding {
  id: string;
  policyId: string;
  partnerId: string;
  tenantId: string | null;
  identityType: "user" | "service_account" | "group" | "system";
  identityId: string;
  expiresAt: number | null;
  createdAt: number;
  createdBy?: string | null;
}
