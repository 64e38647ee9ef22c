import { useState } from "preact/hooks";
import { get, put } from "../api";
import { ErrorBox } from "../components/error";
import { Field, FormCard, useAction } from "../components/kit";
import { Facts, useLoad, when } from "../components/util";

/** Audit → Retention: `GET/PUT /v1/audit/retention` (longer at once; shorter pending after a delay). */
export function RetentionPage() {
  const current = useLoad(() => get("/v1/audit/retention"), []);
  const action = useAction(() => current.reload());
  const [days, setDays] = useState("");
  const r = current.data;
  return (
    <section>
      <h1>Audit retention</h1>
      <p>
        <a href="/ui/audit">Back to the audit trail</a>
      </p>
      <ErrorBox error={current.error} />
      {r ? (
        <div data-testid="retention">
          <Facts items={[["Tenant", r.tenant_id], ["Kept for (days)", r.days], ["Default (days)", r.default_days], ["Minimum (days)", r.minimum_days], ["Pending reduction", r.pending ? `${r.pending.days} days from ${when(r.pending.effective_at)}` : "none"], ["Updated", when(r.updated_at)], ["Updated by", r.updated_by]]} />
        </div>
      ) : null}
      <FormCard title="Set retention" scope="admin" submit="Save" row error={action.error} onSubmit={() => action.run(() => put("/v1/audit/retention", { days: Number(days) }), (v: any) => (v.pending ? `Reduction to ${v.pending.days} days pending until ${when(v.pending.effective_at)}` : `Retention set to ${v.days} days`))}>
        <Field label="Days" type="number" value={days} onValue={setDays} required hint="Longer takes effect at once; shorter is audited and applies after the reduction delay." />
      </FormCard>
    </section>
  );
}
