import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "sdks/typescript/src/**/*.test.ts", "ui/src/**/*.test.ts", "bench/**/*.test.ts"],
    pool: "forks",
    // Two cores: more workers only add contention on SQLite files and PostgreSQL.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ["src/testing/global-setup.ts"],
  },
});
