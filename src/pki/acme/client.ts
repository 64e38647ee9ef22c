import { AsyncLocalStorage } from "node:async_hooks";
import { readFileSync } from "node:fs";
import { Agent } from "node:https";
import { rootCertificates } from "node:tls";
import * as acme from "acme-client";
import { validationError, VaultError } from "../../http/errors.js";

export const PROVIDERS = ["letsencrypt", "zerossl", "buypass", "google", "custom"] as const;
export type Provider = (typeof PROVIDERS)[number];
export type Environment = "production" | "staging";

/** Every call to an ACME server ends within this (SPEC: every external call has a timeout). */
export const ACME_HTTP_TIMEOUT_MS = 30_000;
/** Waiting for a challenge or an order to turn valid: bounded backoff (~1 min at most per wait). */
const BACKOFF = { backoffAttempts: 8, backoffMin: 500, backoffMax: 10_000 };

let configured = false;
let intercepting = false;

interface AxiosResponseLike { status: number; data?: { type?: unknown; detail?: unknown } }
interface AxiosLike {
  defaults: Record<string, unknown>;
  interceptors: { response: { use(ok: (r: AxiosResponseLike) => AxiosResponseLike, fail: (e: { response?: AxiosResponseLike }) => never): void } };
}

/**
 * acme-client turns an RFC 8555 problem into a bare Error with its detail only; the problem's
 * `type` is kept here, per ACME exchange (async context), from the last response that carried one.
 */
const exchange = new AsyncLocalStorage<{ last: { type: string; detail: string } | null }>();

function note(response: AxiosResponseLike): void {
  const context = exchange.getStore();
  if (!context) return;
  const data = response.data;
  if (response.status >= 400 && data && typeof data.type === "string") context.last = { type: data.type, detail: String(data.detail ?? "").slice(0, 500) };
  else if (response.status < 400) context.last = null;
}

/** Runs one ACME exchange; a failure carries the CA's problem document (`acmeProblem`) when there was one. */
export async function acmeExchange<T>(work: () => Promise<T>): Promise<T> {
  const context: { last: { type: string; detail: string } | null } = { last: null };
  try {
    return await exchange.run(context, work);
  } catch (error) {
    if (context.last && error && typeof error === "object" && !(error instanceof VaultError)) Object.assign(error, { acmeProblem: context.last });
    throw error;
  }
}
/**
 * acme-client talks through one process-wide axios instance: its timeout, and the extra CAs a
 * private ACME directory needs (SCAIVAULT_ACME_CA_FILE, as NODE_EXTRA_CA_CERTS would), are set once.
 */
export function configureAcmeHttp(caFile: string | null): void {
  if (configured && !caFile) return;
  configured = true;
  acme.setLogger(() => undefined);
  const instance = (acme as unknown as { axios: AxiosLike }).axios;
  const defaults = instance.defaults;
  if (!intercepting) {
    intercepting = true;
    instance.interceptors.response.use((response) => {
      note(response);
      return response;
    }, (error: { response?: AxiosResponseLike }) => {
      if (error?.response) note(error.response);
      throw error;
    });
  }
  defaults.timeout = ACME_HTTP_TIMEOUT_MS;
  // Server errors, 429s and unreachable servers are retried a little, not for half a minute.
  defaults.acmeSettings = { ...(defaults.acmeSettings as object), retryMaxAttempts: 2, retryDefaultDelay: 1 };
  if (caFile) defaults.httpsAgent = new Agent({ ca: [...rootCertificates, readFileSync(caFile, "utf8")], keepAlive: false });
}

/** The directory of a provider and environment, as acme-client's table (contract P7). */
export function directoryUrl(provider: Provider, environment: Environment, custom: string | undefined): string {
  if (provider === "custom") {
    if (!custom) throw validationError({ directory_url: "is required for provider custom" });
    let url: URL;
    try {
      url = new URL(custom);
    } catch {
      throw validationError({ directory_url: "must be an https URL" });
    }
    if (url.protocol !== "https:") throw validationError({ directory_url: "must be an https URL" });
    return url.toString();
  }
  if (custom) throw validationError({ directory_url: "is only for provider custom" });
  const table = acme.directory as Record<string, Partial<Record<Environment, string>>>;
  const url = table[provider]?.[environment];
  if (!url) throw validationError({ environment: `${provider} has no ${environment} directory` });
  return url;
}

export function acmeClient(directory: string, accountKeyPem: string, accountUrl?: string, eab?: { kid: string; hmacKey: string }): acme.Client {
  return new acme.Client({ directoryUrl: directory, accountKey: accountKeyPem, accountUrl, externalAccountBinding: eab, ...BACKOFF });
}

/** An RFC 8555 problem, or a transport failure, as the contract's `502 acme_error`. */
export function acmeError(error: unknown, during: string): VaultError {
  if (error instanceof VaultError) return error;
  const { type, detail } = problemOf(error);
  return new VaultError("acme_error", `The ACME server refused or failed while ${during}`, { details: { acme_type: type, acme_detail: detail } });
}

/** `{type, detail}` of an ACME problem document or a network error; no request bodies, no keys. */
export function problemOf(error: unknown): { type: string; detail: string } {
  const carried = (error as { acmeProblem?: { type: string; detail: string } } | null)?.acmeProblem;
  if (carried) return carried;
  const e = error as { response?: { data?: { type?: unknown; detail?: unknown } }; code?: unknown; message?: unknown };
  const data = e?.response?.data;
  if (data && typeof data.type === "string") return { type: data.type, detail: String(data.detail ?? "").slice(0, 500) };
  if (typeof e?.code === "string") return { type: `network:${e.code}`, detail: String(e.message ?? "").slice(0, 500) };
  return { type: "urn:ietf:params:acme:error:serverInternal", detail: String((e as Error)?.message ?? error).slice(0, 500) };
}

export { acme };
