import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { post } from "../api";
import { ErrorBox } from "../components/error";
import { announce } from "../components/live";
import { PERMISSIONS } from "../logic/policy";
import { debounce, describe, latestOnly, testBody, type SimulatorInput, type TestResult } from "../logic/simulator";

/** Live `POST /v1/policies/test` on each change, debounced 300 ms (spec/console.md §4). */
export function Simulator() {
  const [input, setInput] = useState<SimulatorInput>({ identity_id: "", path: "", permission: "read", source_ip: "", mfa_verified: false, timestamp: "" });
  const [result, setResult] = useState<TestResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const ticket = useRef(latestOnly());
  const run = useMemo(
    () =>
      debounce((next: SimulatorInput) => {
        const body = testBody(next);
        if (!body) return;
        const apply = ticket.current();
        post<TestResult>("/v1/policies/test", body).then(
          (answer) =>
            apply(() => {
              setResult(answer);
              setError(null);
              announce(describe(answer));
            }),
          (caught) => apply(() => setError(caught)),
        );
      }, 300),
    [],
  );
  useEffect(() => () => run.cancel(), []);
  const change = (patch: Partial<SimulatorInput>) => {
    const next = { ...input, ...patch };
    setInput(next);
    run(next);
  };
  const text = (field: keyof SimulatorInput, label: string, placeholder = "") => (
    <label>
      {label} <input value={input[field] as string} placeholder={placeholder} onInput={(e) => change({ [field]: (e.target as HTMLInputElement).value })} />
    </label>
  );
  return (
    <section class="simulator" aria-labelledby="sim-title">
      <h2 id="sim-title">Simulator</h2>
      <div class="row">
        {text("identity_id", "Identity", "user:alice@example.com")}
        {text("path", "Path", "app/db")}
        <label>
          Permission{" "}
          <select value={input.permission} onChange={(e) => change({ permission: (e.target as HTMLSelectElement).value })}>
            {PERMISSIONS.map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
      </div>
      <div class="row">
        {text("source_ip", "Source IP", "10.0.0.5")}
        <label class="inline">
          <input type="checkbox" checked={input.mfa_verified} onChange={(e) => change({ mfa_verified: (e.target as HTMLInputElement).checked })} /> MFA verified
        </label>
        <label>
          Time <input type="datetime-local" value={input.timestamp} onInput={(e) => change({ timestamp: (e.target as HTMLInputElement).value })} />
        </label>
      </div>
      <ErrorBox error={error} />
      {result ? (
        <p class={result.allowed ? "allowed" : "denied"} data-testid="sim-result">
          {describe(result)}
        </p>
      ) : (
        <p class="muted">Enter an identity and a path.</p>
      )}
    </section>
  );
}
