import { useEffect, useRef } from "preact/hooks";
import { useLoad } from "./components/util";
import { get } from "./api";
import { session, useSession } from "./session";
import { SecretsPage } from "./pages/secrets";
import { PoliciesPage } from "./pages/policies";
import { TokensPage } from "./pages/tokens";
import { AuditPage } from "./pages/audit";
import { WebhooksPage, SubscriptionsPage } from "./pages/events";
import { RotationPage } from "./pages/rotation";
import { TenantsPage } from "./pages/tenants";
import { IdentityPage } from "./pages/identity";
import { ExchangePage } from "./pages/exchange";
import { RetentionPage } from "./pages/retention";
import { PkiPage } from "./pages/pki";
import { DynamicPage } from "./pages/dynamic";

/** The nav entry for a path: the longest href it starts with (/ui/audit/retention is not /ui/audit). */
function currentNav(path: string): string | undefined {
  return NAV.filter(([href]) => path === href || path.startsWith(`${href}/`)).sort((a, b) => b[0].length - a[0].length)[0]?.[0];
}

const NAV: Array<[string, string]> = [
  ["/ui/secrets", "Secrets"],
  ["/ui/policies", "Policies"],
  ["/ui/access/tokens", "Personal tokens"],
  ["/ui/access/exchange", "Token exchange"],
  ["/ui/access/identity", "Identity"],
  ["/ui/audit", "Audit"],
  ["/ui/audit/retention", "Audit retention"],
  ["/ui/events/webhooks", "Webhooks"],
  ["/ui/events/subscriptions", "Subscriptions"],
  ["/ui/rotation", "Rotation"],
  ["/ui/pki", "PKI"],
  ["/ui/dynamic", "Dynamic credentials"],
  ["/ui/tenants", "Tenants"],
];

function page(path: string) {
  const rest = (prefix: string) => decodeURIComponent(path.slice(prefix.length).replace(/^\//, ""));
  if (path.startsWith("/ui/secrets")) return <SecretsPage path={rest("/ui/secrets")} />;
  if (path.startsWith("/ui/policies")) return <PoliciesPage id={rest("/ui/policies")} />;
  if (path.startsWith("/ui/access/tokens")) return <TokensPage />;
  if (path.startsWith("/ui/access/exchange")) return <ExchangePage />;
  if (path.startsWith("/ui/access/identity")) return <IdentityPage />;
  if (path.startsWith("/ui/audit/retention")) return <RetentionPage />;
  if (path.startsWith("/ui/pki")) return <PkiPage path={path} />;
  if (path.startsWith("/ui/dynamic")) return <DynamicPage />;
  if (path.startsWith("/ui/audit")) return <AuditPage id={rest("/ui/audit")} />;
  if (path.startsWith("/ui/events/webhooks")) return <WebhooksPage id={rest("/ui/events/webhooks")} />;
  if (path.startsWith("/ui/events/subscriptions")) return <SubscriptionsPage />;
  if (path.startsWith("/ui/rotation")) return <RotationPage />;
  if (path.startsWith("/ui/tenants")) return <TenantsPage />;
  return (
    <section>
      <h1>Not found</h1>
      <p>This console page does not exist (or its API is not in this vault yet).</p>
    </section>
  );
}

function TenantSwitcher() {
  const s = useSession();
  // Reloaded on a switch too: the tenant switched to may have been created since the list was read.
  const tenants = useLoad(() => (s.isPartnerAdmin ? get("/v1/identity/tenants?limit=100") : Promise.resolve({ data: [] })), [s.value?.identity_id, s.tenant]);
  if (!s.isPartnerAdmin) return null;
  const list: Array<{ id: string; name?: string }> = tenants.data?.data ?? tenants.data?.tenants ?? [];
  const own = s.value?.tenant_id ?? "";
  return (
    <label class="tenant">
      Tenant{" "}
      <select value={s.tenant ?? own} onChange={(e) => s.switchTenant((e.target as HTMLSelectElement).value)}>
        {[own, s.tenant ?? ""].filter((id, i, all) => id && all.indexOf(id) === i && !list.some((t) => t.id === id)).map((id) => (
          <option key={id} value={id}>
            {id}
          </option>
        ))}
        {list.map((t) => (
          <option key={t.id} value={t.id}>
            {t.name ? `${t.name} (${t.id})` : t.id}
          </option>
        ))}
      </select>
    </label>
  );
}

export function Layout({ path }: { path: string }) {
  const s = useSession();
  const main = useRef<HTMLElement>(null);
  useEffect(() => {
    const label = NAV.find(([href]) => href === currentNav(path))?.[1] ?? "Console";
    document.title = `${label} · ScaiVault`;
  }, [path]);
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">ScaiVault</span>
        <TenantSwitcher />
        <span class="who">{s.value?.display_name ?? s.value?.identity_id}</span>
        <button type="button" onClick={() => void session.signOut()}>
          Sign out
        </button>
      </header>
      <nav aria-label="Console sections">
        <ul>
          {NAV.map(([href, label]) => (
            <li key={href}>
              <a href={href} aria-current={currentNav(path) === href ? "page" : undefined}>
                {label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" ref={main} tabIndex={-1} key={s.tenant ?? "own"}>
        {page(path)}
      </main>
    </div>
  );
}
