import { useEffect, useState } from "preact/hooks";
import { ApiError, del, get, post, setCsrf, setTenant, type SessionInfo } from "./api";

type Listener = () => void;

/** Retries of GET /v1/ui/session after a transient failure (0.25 s, 0.5 s, 1 s, 2 s apart). */
const RECOVER_ATTEMPTS = 4;

/** The signed-in session: identity, scopes, CSRF token (memory only) and the chosen tenant. */
class SessionStore {
  value: SessionInfo | null = null;
  tenant: string | null = null;
  checked = false;
  private listeners = new Set<Listener>();

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }

  set(info: SessionInfo | null): void {
    this.value = info;
    this.checked = true;
    setCsrf(info?.csrf_token ?? null);
    if (!info) this.switchTenant(null);
    this.emit();
  }

  switchTenant(id: string | null): void {
    this.tenant = id && id !== this.value?.tenant_id ? id : null;
    setTenant(this.tenant);
    this.emit();
  }

  /** Why the last recovery gave up without a 401 (the login page shows it), else null. */
  recoverError: ApiError | null = null;

  /**
   * After a reload the cookie may still be valid: recover the CSRF token from it. Only a 401 means
   * signed out; a busy or unreachable vault (0, 429, 5xx) is asked again before giving up, so a
   * moment of overload does not throw a valid session away.
   */
  async recover(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        this.recoverError = null;
        this.set(await get<SessionInfo>("/v1/ui/session"));
        return;
      } catch (error) {
        const transient = error instanceof ApiError && (error.status === 0 || error.status === 429 || error.status >= 500);
        if (!transient || attempt >= RECOVER_ATTEMPTS) {
          this.recoverError = transient ? error : null;
          this.set(null);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
      }
    }
  }

  async signIn(token: string): Promise<void> {
    this.set(await post<SessionInfo>("/v1/ui/session", { token }));
  }

  async signOut(): Promise<void> {
    try {
      await del("/v1/ui/session");
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
    }
    this.set(null);
  }

  get isPartnerAdmin(): boolean {
    const roles = this.value?.roles ?? [];
    return roles.includes("partner_admin") || roles.includes("super_admin");
  }
}

export const session = new SessionStore();

export function useSession(): SessionStore {
  const [, setTick] = useState(0);
  useEffect(() => session.subscribe(() => setTick((t) => t + 1)), []);
  return session;
}
