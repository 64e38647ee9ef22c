import { afterEach, describe, expect, it, vi } from "vitest";
import { ScaiKeyDirectory } from "./scaikey-directory.js";
import type { DirectoryFixture } from "./testing/scaikey-standin.js";
import { baseFixture, CLIENT, useStandIn } from "./testing/use-standin.js";

/** 1,050 users (11 pages of the stand-in's 100) in 30 groups of 105 (2 pages each). */
function largeTenant(): DirectoryFixture {
  const f = baseFixture();
  for (let i = 0; i < 1050; i++) f.users.push({ id: `usr_${String(i).padStart(4, "0")}`, tenant_id: "tnt_default", email: `u${i}@acme.example`, display_name: `User ${i}`, status: "ACTIVE", mfa_enabled: false, roles: [] });
  for (let g = 0; g < 30; g++) f.groups.push({ id: `grp_${String(g).padStart(2, "0")}`, tenant_id: "tnt_default", name: `g${g}`, description: `Group ${g}`, status: "ACTIVE" });
  for (let i = 0; i < 1050; i++) for (let k = 0; k < 3; k++) f.memberships.push({ group_id: `grp_${String((i + k * 7) % 30).padStart(2, "0")}`, member_type: "user", member_id: `usr_${String(i).padStart(4, "0")}` });
  return f;
}

// The adapter touches no database: one run covers both backends.
describe("ScaiKey directory adapter: a large tenant read a few calls at a time", () => {
  const { standIn } = useStandIn(largeTenant);
  const client = () => new ScaiKeyDirectory({ url: standIn().url, clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret });
  afterEach(() => vi.restoreAllMocks());

  /** The most fetches in flight at once while `work` runs. */
  async function mostInFlight(work: () => Promise<unknown>): Promise<number> {
    const original = globalThis.fetch;
    let inFlight = 0;
    let most = 0;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (...args: Parameters<typeof fetch>) => {
      most = Math.max(most, ++inFlight);
      try {
        return await original(...args);
      } finally {
        inFlight--;
      }
    });
    await work();
    return most;
  }

  it("reads every page and every group's members, in the directory's order, at most four calls at a time", async () => {
    const fixture = largeTenant();
    let snapshot: Awaited<ReturnType<ScaiKeyDirectory["tenantSnapshot"]>> | undefined;
    const most = await mostInFlight(async () => (snapshot = await client().tenantSnapshot("tnt_default")));
    expect(snapshot!.users.map((u) => u.id)).toEqual(fixture.users.filter((u) => u.tenant_id === "tnt_default").map((u) => u.id));
    expect(snapshot!.groups.map((g) => g.id)).toEqual(fixture.groups.filter((g) => g.tenant_id === "tnt_default").map((g) => g.id));
    for (const group of snapshot!.groups) {
      const expected = fixture.memberships.filter((m) => m.group_id === group.id).map((m) => m.member_id);
      expect(snapshot!.members.get(group.id)!.map((m) => m.member_id), group.id).toEqual(expected);
    }
    expect(snapshot!.members.get("grp_07")).toHaveLength(105);
    // In parallel, and bounded: one sync must not flood ScaiKey.
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(4);
  });

  it("calls in parallel ask for one token between them", async () => {
    const fresh = client();
    const before = standIn().tokenRequests;
    await Promise.all([fresh.partners(), fresh.tenants("ptn_default"), fresh.tenantSnapshot("tnt_default"), fresh.tenantSnapshot("tnt_two")]);
    expect(standIn().tokenRequests - before).toBe(1);
  });

  it("a list that grew while it was read is read on to its end", async () => {
    const fresh = client();
    const original = globalThis.fetch;
    let grown = false;
    // The directory gains 150 users once the first page of users has been answered.
    vi.spyOn(globalThis, "fetch").mockImplementation(async (...args: Parameters<typeof fetch>) => {
      const response = await original(...args);
      if (!grown && String(args[0]).includes("/admin/users?") && String(args[0]).includes("page=1&")) {
        grown = true;
        standIn().edit((f) => {
          for (let i = 0; i < 150; i++) f.users.push({ id: `usr_late_${i}`, tenant_id: "tnt_default", email: `late${i}@acme.example`, display_name: `Late ${i}`, status: "ACTIVE", mfa_enabled: false, roles: [] });
        });
      }
      return response;
    });
    try {
      const snapshot = await fresh.tenantSnapshot("tnt_default");
      expect(grown).toBe(true);
      expect(snapshot.users).toHaveLength(2 + 1050 + 150);
      expect(snapshot.users.at(-1)!.id).toBe("usr_late_149");
    } finally {
      standIn().write(largeTenant());
    }
  });
});
