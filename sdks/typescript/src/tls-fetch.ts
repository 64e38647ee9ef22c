/**
 * `fetch` over node:https with a private CA (`ca`) or, when asked, without verification: Node's
 * built-in fetch takes no CA option and undici is not importable without a dependency. Loaded
 * lazily so the SDK still imports where node:https does not exist (when no `ca` is given).
 */
export interface TlsOptions {
  /** PEM CA certificate(s) trusted for the vault's certificate, in addition to none other. */
  ca?: string | Buffer;
  /** false disables certificate verification (development only). */
  rejectUnauthorized?: boolean;
}

type FetchFn = (url: string, init: RequestInit) => Promise<Response>;

export function tlsFetch(tls: TlsOptions): FetchFn {
  return async (url, init) => {
    const https = await import("node:https");
    const { Readable } = await import("node:stream");
    const target = new URL(url);
    if (target.protocol !== "https:") return fetch(url, init);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => (headers[key] = value));
    return new Promise<Response>((resolve, reject) => {
      const request = https.request(target, { method: init.method ?? "GET", headers, ca: tls.ca, rejectUnauthorized: tls.rejectUnauthorized ?? true }, (res) => {
        const responseHeaders = new Headers();
        for (const [key, value] of Object.entries(res.headers)) {
          if (value !== undefined) responseHeaders.set(key, Array.isArray(value) ? value.join(", ") : value);
        }
        const status = res.statusCode ?? 500;
        const body = status === 204 || status === 304 ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
        resolve(new Response(body, { status, statusText: res.statusMessage, headers: responseHeaders }));
      });
      const signal = init.signal;
      const abort = () => request.destroy(Object.assign(new Error("The operation was aborted"), { name: "AbortError" }));
      if (signal) {
        if (signal.aborted) abort();
        else signal.addEventListener("abort", abort, { once: true });
        request.on("close", () => signal.removeEventListener("abort", abort));
      }
      // The same shape as fetch's network errors: `cause.code` names what failed.
      request.on("error", (error) => reject(Object.assign(new TypeError("fetch failed"), { cause: error, name: (error as Error).name === "AbortError" ? "AbortError" : "TypeError" })));
      if (typeof init.body === "string") request.write(init.body);
      request.end();
    });
  };
}
