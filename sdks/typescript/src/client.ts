import { DynamicResource } from "./dynamic.js";
import { IdentityResource, TrustsResource } from "./identity.js";
import { SecretCache } from "./cache.js";
import {
  AuditResource,
  AuthResource,
  PoliciesResource,
  RotationResource,
  SecretPoliciesResource,
  SubscriptionsResource,
  SystemResource,
  TenantsResource,
  TokensResource,
  WebhooksResource,
} from "./resources.js";
import { PkiResource } from "./pki.js";
import { SecretsResource } from "./secrets.js";
import { EventStream, type StreamHandlers } from "./stream.js";
import { Transport, type ClientOptions, type RequestSpec } from "./transport.js";
import type { Secret } from "./types.js";

/** The ScaiVault client: one instance per process, `close()` when done (stops the cache's stream). */
export class ScaiVaultClient {
  readonly secrets: SecretsResource;
  readonly policies: PoliciesResource;
  readonly rotation: RotationResource;
  readonly secretPolicies: SecretPoliciesResource;
  readonly webhooks: WebhooksResource;
  readonly subscriptions: SubscriptionsResource;
  readonly audit: AuditResource;
  readonly tokens: TokensResource;
  readonly auth: AuthResource;
  readonly tenants: TenantsResource;
  readonly system: SystemResource;
  /** Dynamic credentials: leases of short-lived database users and SSH certificates. */
  readonly dynamic: DynamicResource;
  /** PKI: CAs, issue, sign, revoke (spec/pki.md). */
  readonly pki: PkiResource;
  /** The identity cache, syncs and roles; token-exchange trusts (identity domain). */
  readonly identity: IdentityResource;
  readonly trusts: TrustsResource;
  private readonly transport: Transport;
  private readonly cache: SecretCache<Secret> | null;
  private readonly cacheStream: EventStream | null;
  private readonly streams = new Set<EventStream>();

  constructor(options: ClientOptions) {
    this.transport = new Transport(options);
    const ttl = options.cache?.ttl;
    if (ttl !== undefined && !(typeof ttl === "number" && ttl > 0)) throw new TypeError("cache.ttl must be a positive number of seconds");
    this.cache = ttl ? new SecretCache<Secret>(ttl * 1000) : null;
    this.secrets = new SecretsResource(this.transport, this.cache);
    this.policies = new PoliciesResource(this.transport);
    this.rotation = new RotationResource(this.transport);
    this.secretPolicies = new SecretPoliciesResource(this.transport);
    this.webhooks = new WebhooksResource(this.transport);
    this.subscriptions = new SubscriptionsResource(this.transport);
    this.audit = new AuditResource(this.transport);
    this.tokens = new TokensResource(this.transport);
    this.auth = new AuthResource(this.transport);
    this.tenants = new TenantsResource(this.transport);
    this.system = new SystemResource(this.transport);
    this.dynamic = new DynamicResource(this.transport);
    this.pki = new PkiResource(this.transport);
    this.identity = new IdentityResource(this.transport);
    this.trusts = new TrustsResource(this.transport);
    const cache = this.cache;
    if (cache) {
      this.cacheStream = new EventStream(this.transport, {
        onEvent: (event) => {
          if (event.path) cache.invalidate(event.path);
        },
        // A fresh connection (not a resume) may follow missed events: start over.
        onOpen: (resumed) => {
          if (!resumed) cache.clear();
        },
      });
      this.cacheStream.start();
    } else {
      this.cacheStream = null;
    }
  }

  /** Whether the cache's event stream is connected (entries then change the moment a value does). */
  get cacheStreamConnected(): boolean {
    return this.cacheStream?.isConnected ?? false;
  }

  /** Follows `GET /v1/events/stream` with reconnects; returns a function that stops it. */
  streamEvents(handlers: StreamHandlers, filters: { paths?: string[]; events?: string[] } = {}): () => void {
    const stream = new EventStream(this.transport, handlers, { paths: filters.paths?.join(","), events: filters.events?.join(",") });
    this.streams.add(stream);
    stream.start();
    return () => {
      stream.close();
      this.streams.delete(stream);
    };
  }

  /** Any API call not (yet) wrapped by a resource: JSON in, JSON out, typed errors and retries. */
  request<T = unknown>(spec: RequestSpec): Promise<T> {
    return this.transport.request<T>(spec);
  }

  close(): void {
    this.cacheStream?.close();
    for (const stream of this.streams) stream.close();
    this.streams.clear();
    this.cache?.clear();
  }
}
