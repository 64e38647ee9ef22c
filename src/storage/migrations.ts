import { accessMigrations } from "../access/migrations.js";
import { auditMigrations } from "../audit/migrations.js";
import { consoleMigrations } from "../console/migrations.js";
import { cryptoMigrations } from "../crypto/migrations.js";
import { dynamicMigrations } from "../dynamic/migrations.js";
import { eventMigrations } from "../events/migrations.js";
import { opsMigrations } from "../ops/migrations.js";
import { pkiMigrations } from "../pki/migrations.js";
import { dnsMigrations } from "../dns/migrations.js";
// identity domain
import { identityMigrations } from "../identity/migrations.js";
import { rotationMigrations } from "../rotation/migrations.js";
import { secretMigrations } from "../secrets/migrations.js";
import { tenancyMigrations } from "../tenancy/migrations.js";
import type { Migration } from "./contract.js";

/** Every domain's migrations; ids are globally ordered (0001_…), so the list order does not matter. */
export const ALL_MIGRATIONS: Migration[] = [
  ...tenancyMigrations,
  ...cryptoMigrations,
  ...accessMigrations,
  ...auditMigrations,
  ...eventMigrations,
  ...secretMigrations,
  ...rotationMigrations,
  ...dynamicMigrations,
  ...consoleMigrations,
  ...opsMigrations,
  ...pkiMigrations,
  ...dnsMigrations,
  ...identityMigrations,
];
