import { expect, it } from "vitest";
import { describeEachBackend } from "../testing/backends.js";
import { useVault } from "../testing/harness.js";

describeEachBackend("events: webhook input errors", (backend) => {
  const vault = useVault(backend);

  it("answers bad input with specific codes and stores nothing", async () => {
    const { admin } = vault();
    const base = { name: "n", url: "https://reporting.acme.example/hook", secret: "s", events: ["secret.updated"] };
    expect((await admin.post("/v1/webhooks", base)).status).toBe(201);
    const cases: [unknown, number, string, string?][] = [
      [{ ...base, name: "n" }, 409, "already_exists"],
      [{ ...base, name: "u1", url: "not a url" }, 422, "validation_error", "url"],
      [{ ...base, name: "u2", url: "file:///etc/passwd" }, 422, "validation_error", "url"],
      [{ ...base, name: "u3", url: "https://user:pw@example.com/" }, 422, "validation_error", "url"],
      [{ ...base, name: "e1", events: ["secret.exploded"] }, 422, "validation_error", "events"],
      [{ ...base, name: "e2", events: [] }, 422, "validation_error"],
      [{ ...base, name: "s1", signature_scheme: "md5" }, 422, "validation_error"],
      [{ ...base, name: "x1", colour: "red" }, 422, "validation_error"],
      [{ ...base, name: "f1", filters: { path_prefix: 3 } }, 422, "validation_error"],
      [{ name: "m1", url: base.url }, 422, "validation_error"],
    ];
    for (const [body, status, code, field] of cases) {
      const response = await admin.post("/v1/webhooks", body);
      expect([response.status, response.body.error.code]).toEqual([status, code]);
      expect(response.body.error.request_id).toBe(response.headers.get("x-request-id"));
      if (field) expect(Object.keys(response.body.error.details.fields)).toContain(field);
    }
    expect((await admin.post("/v1/webhooks", "[1]" as never, { raw: "[1]" })).body.error.code).toBe("invalid_request");
    expect((await admin.get("/v1/webhooks")).body.webhooks).toHaveLength(1);
  });

  it("validates updates, ids, cursors and the deliveries filter", async () => {
    const { admin } = vault();
    const id = (await admin.get("/v1/webhooks")).body.webhooks[0].id;
    expect((await admin.patch(`/v1/webhooks/${id}`, { secret: "new", previous_secret_ttl: "1 day" })).body.error.code).toBe("invalid_duration");
    expect((await admin.patch(`/v1/webhooks/${id}`, { previous_secret_ttl: "1h" })).body.error.code).toBe("validation_error");
    expect((await admin.patch("/v1/webhooks/wh_missing", { enabled: false })).body.error.code).toBe("webhook_not_found");
    expect((await admin.delete("/v1/webhooks/wh_missing")).body.error.code).toBe("webhook_not_found");
    expect((await admin.post("/v1/webhooks/wh_missing/test")).body.error.code).toBe("webhook_not_found");
    expect((await admin.get(`/v1/webhooks/${id}/deliveries?status=bogus`)).body.error.code).toBe("validation_error");
    expect((await admin.get(`/v1/webhooks/${id}/deliveries?cursor=%%%`)).body.error.code).toBe("invalid_cursor");
    expect((await admin.get("/v1/webhooks?cursor=bm9wZQ")).body.error.code).toBe("invalid_cursor");
    expect((await admin.patch(`/v1/webhooks/${id}`, { enabled: false })).body).toMatchObject({ enabled: false, status: "disabled" });
    expect((await admin.post(`/v1/webhooks/${id}/test`)).body.error.code).toBe("invalid_request");
    expect((await admin.get(`/v1/webhooks/${id}`)).body).toMatchObject({ name: "n", url: "https://reporting.acme.example/hook", events: ["secret.updated"], enabled: false });
    expect((await vault().anonymous.get("/v1/webhooks")).body.error.code).toBe("authentication_required");
  });
});
