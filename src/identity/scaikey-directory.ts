import { eachLimited } from "../shared/limited.js";
import { DirectoryError, type DirApplication, type DirectoryClient, type DirectoryStatus, type DirGroup, type DirMember, type DirPartner, type DirTenant, type DirUser, type TenantSnapshot } from "./directory-client.js";

export interface ScaiKeyDirectorySettings {
  url: string;
  clientId: string;
  clientSecret: string;
  /** Per call (10 s in production; tests shorten it). */
  timeoutMs?: number;
}

const PAGE_SIZE = 100;
const MAX_PAGES = 1000;
/**
 * Calls one sync makes to ScaiKey at a time. A tenant's directory is read page by page and group by
 * group: ~2,000 calls for 50,000 users in 500 groups, which one after another were most of a sync's
 * time, and so of the time a user disabled in ScaiKey keeps working here after its webhook.
 */
const PARALLEL_CALLS = 4;
const RETRIES = 2;
const STATUSES: readonly DirectoryStatus[] = ["ACTIVE", "SUSPENDED", "DISABLED", "DELETED"];

/** A retryable failure: 5xx or a timeout/connection error (not a 4xx, which will not get better). */
class Retryable extends DirectoryError {}

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
/** Unknown statuses read as DISABLED: an identity whose state we cannot understand gets no access. */
const status = (v: unknown): DirectoryStatus => (STATUSES.includes(v as DirectoryStatus) ? (v as DirectoryStatus) : "DISABLED");
const need = (v: unknown, what: string): string => {
  const s = str(v);
  if (!s) throw new DirectoryError(`ScaiKey answered a ${what} without its id`, null);
  return s;
};

/**
 * The one adapter: ScaiKey's admin API with a client-credentials token (`admin:read`). The token is
 * reused until 30 s before it expires and fetched again once on a 401; each call has a timeout and
 * 5xx answers and timeouts are retried twice. Response shapes are our assumption (spec §2), so all
 * parsing is here.
 */
export class ScaiKeyDirectory implements DirectoryClient {
  private token: { value: string; until: number } | null = null;
  private pendingToken: Promise<string> | null = null;
  private tokenEndpoint: string | null = null;
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly settings: ScaiKeyDirectorySettings) {
    this.base = settings.url.replace(/\/+$/, "");
    this.timeoutMs = settings.timeoutMs ?? 10_000;
  }

  async partners(): Promise<DirPartner[]> {
    return (await this.list("/api/v1/admin/partners", {})).map((p) => ({ id: need(p.id, "partner"), name: str(p.name) ?? String(p.id), slug: str(p.slug), region: str(p.region), status: status(p.status) }));
  }

  async tenants(partnerId: string): Promise<DirTenant[]> {
    const items = await this.list("/api/v1/admin/tenants", { partner_id: partnerId });
    return items.map((t) => ({ id: need(t.id, "tenant"), partner_id: str(t.partner_id) ?? partnerId, name: str(t.name) ?? String(t.id), slug: str(t.slug), status: status(t.status) }))
      .filter((t) => t.partner_id === partnerId);
  }

  async tenantSnapshot(tenantId: string): Promise<TenantSnapshot> {
    const users: DirUser[] = (await this.list("/api/v1/admin/users", { tenant_id: tenantId })).map((u) => ({
      id: need(u.id, "user"), tenant_id: tenantId, email: str(u.email) ?? "", display_name: str(u.display_name), status: status(u.status), mfa_enabled: u.mfa_enabled === true,
      roles: Array.isArray(u.roles) ? u.roles.filter((r): r is string => typeof r === "string") : [],
    }));
    const groups: DirGroup[] = (await this.list("/api/v1/admin/groups", { tenant_id: tenantId })).map((g) => ({ id: need(g.id, "group"), tenant_id: tenantId, name: str(g.name) ?? String(g.id), description: str(g.description), status: status(g.status) }));
    // Groups a few at a time, each one's pages in order: PARALLEL_CALLS calls at most.
    const lists = await eachLimited(groups, PARALLEL_CALLS, (group) => this.list(`/api/v1/admin/groups/${encodeURIComponent(group.id)}/members`, {}, 1));
    const members = new Map<string, DirMember[]>();
    groups.forEach((group, index) => {
      members.set(group.id, lists[index]!.flatMap((m) => {
        const type = m.member_type;
        const id = str(m.member_id);
        return (type === "user" || type === "group" || type === "application") && id ? [{ member_type: type, member_id: id, added_at: str(m.added_at) }] : [];
      }));
    });
    const applications: DirApplication[] = (await this.list("/api/v1/admin/applications", { tenant_id: tenantId, type: "SERVICE" })).map((a) => ({
      id: need(a.id, "application"), tenant_id: tenantId, client_id: need(a.client_id, "application client"), name: str(a.name) ?? String(a.client_id), type: str(a.type) ?? "SERVICE", status: status(a.status),
    }));
    return { users, groups, members, applications };
  }

  /**
   * Every page of a list endpoint. The first page tells the total and the page size ScaiKey uses;
   * the pages it implies are read `parallel` at a time, then, should the list have grown meanwhile,
   * the rest one at a time until a page comes back short or the total is reached.
   */
  private async list(path: string, query: Record<string, string>, parallel = PARALLEL_CALLS): Promise<Array<Record<string, unknown>>> {
    const page = async (n: number) => {
      const params = new URLSearchParams({ ...query, page: String(n), page_size: String(PAGE_SIZE) });
      const body = (await this.call(`${path}?${params}`)) as { data?: unknown; total?: unknown };
      const data = Array.isArray(body.data) ? body.data.filter((d): d is Record<string, unknown> => typeof d === "object" && d !== null) : null;
      if (!data) throw new DirectoryError(`ScaiKey answered ${path} without a data list`, null);
      return { data, total: typeof body.total === "number" ? body.total : null };
    };
    const first = await page(1);
    const all = [...first.data];
    let total = first.total ?? all.length;
    if (first.data.length === 0 || all.length >= total) return all;
    const implied = Math.ceil(total / first.data.length);
    if (implied > MAX_PAGES) throw new DirectoryError(`ScaiKey's ${path} has more than ${MAX_PAGES} pages`, null);
    const pages = await eachLimited(Array.from({ length: implied - 1 }, (_, i) => i + 2), parallel, page);
    for (const { data, total: latest } of pages) {
      all.push(...data);
      total = latest ?? total;
    }
    const last = pages[pages.length - 1]!;
    if (last.data.length < first.data.length) return all;
    for (let n = implied + 1; n <= MAX_PAGES && all.length < total; n++) {
      const { data, total: latest } = await page(n);
      all.push(...data);
      total = latest ?? all.length;
      if (data.length === 0) return all;
    }
    if (all.length < total) throw new DirectoryError(`ScaiKey's ${path} has more than ${MAX_PAGES} pages`, null);
    return all;
  }

  private async call(pathAndQuery: string): Promise<unknown> {
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      try {
        const token = await this.accessToken();
        const response = await this.fetch(`${this.base}${pathAndQuery}`, { headers: { authorization: `Bearer ${token}`, accept: "application/json" } });
        if (response.status === 401 && !refreshed) {
          // Revoked or rotated early: one fresh token, then the same call again (not counted as a
          // retry); a parallel call may have replaced it already.
          refreshed = true;
          if (this.token?.value === token) this.token = null;
          attempt--;
          continue;
        }
        if (response.status >= 500) throw new Retryable(`ScaiKey answered ${response.status}`, response.status);
        if (!response.ok) throw new DirectoryError(`ScaiKey answered ${response.status}`, response.status);
        return await response.json();
      } catch (error) {
        if (!(error instanceof Retryable) || attempt >= RETRIES) throw error instanceof DirectoryError ? error : new DirectoryError("ScaiKey's answer could not be read", null);
      }
    }
  }

  /** fetch with the per-call timeout; a timeout or connection failure is retryable. */
  private async fetch(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch {
      throw new Retryable("ScaiKey did not answer in time", null);
    }
  }

  private async accessToken(): Promise<string> {
    if (this.token && Date.now() < this.token.until) return this.token.value;
    // Calls run in parallel: the ones that find no token wait for one request of it.
    this.pendingToken ??= this.requestToken().finally(() => (this.pendingToken = null));
    return this.pendingToken;
  }

  private async requestToken(): Promise<string> {
    const endpoint = await this.endpoint();
    const form = new URLSearchParams({ grant_type: "client_credentials", client_id: this.settings.clientId, client_secret: this.settings.clientSecret, scope: "admin:read" });
    const response = await this.fetch(endpoint, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form.toString() });
    if (response.status >= 500) throw new Retryable(`ScaiKey's token endpoint answered ${response.status}`, response.status);
    const body = (await response.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown };
    if (!response.ok || typeof body.access_token !== "string") throw new DirectoryError(`ScaiKey refused the client credentials (${response.status})`, response.status);
    const lifetime = typeof body.expires_in === "number" ? body.expires_in : 300;
    this.token = { value: body.access_token, until: Date.now() + Math.max(0, lifetime - 30) * 1000 };
    return this.token.value;
  }

  /** The discovery document's token_endpoint, else `SCAIKEY_URL/oauth/token`. */
  private async endpoint(): Promise<string> {
    if (this.tokenEndpoint) return this.tokenEndpoint;
    let endpoint = `${this.base}/oauth/token`;
    try {
      const response = await this.fetch(`${this.base}/.well-known/openid-configuration`, {});
      const doc = (await response.json()) as { token_endpoint?: unknown };
      if (response.ok && typeof doc.token_endpoint === "string") endpoint = doc.token_endpoint;
    } catch {
      // No discovery: the documented default path.
    }
    this.tokenEndpoint = endpoint;
    return endpoint;
  }
}
