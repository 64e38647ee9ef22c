import http from "node:http";
import https from "node:https";
import { BlockedDestinationError, resolveTarget } from "./ssrf.js";

export interface SendResult {
  ok: boolean;
  status: number | null;
  /** Whole seconds from a `Retry-After` header, when the receiver sent one. */
  retryAfterSeconds: number | null;
  error: string | null;
  durationMs: number;
  gone: boolean;
}

export interface SendOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  allowPrivate: boolean;
}

function retryAfter(header: string | string[] | undefined): number | null {
  const text = Array.isArray(header) ? header[0] : header;
  if (!text) return null;
  if (/^\d+$/.test(text.trim())) return Number(text.trim());
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/**
 * One POST: connection pinned to the checked address, no redirects followed (a 3xx is a failure),
 * a hard timeout, and the response body drained and ignored.
 */
export async function sendWebhook(options: SendOptions): Promise<SendResult> {
  const started = Date.now();
  const done = (partial: Partial<SendResult>): SendResult => ({ ok: false, status: null, retryAfterSeconds: null, error: null, gone: false, durationMs: Date.now() - started, ...partial });
  const url = new URL(options.url);
  let target;
  try {
    // DNS counts against the attempt's timeout too, so an attempt never outlives its lease.
    let dnsTimer: NodeJS.Timeout | undefined;
    const dnsTimeout = new Promise<never>((_, reject) => {
      dnsTimer = setTimeout(() => reject(new Error("dns timeout")), options.timeoutMs);
    });
    try {
      target = await Promise.race([resolveTarget(url.hostname, options.allowPrivate), dnsTimeout]);
    } finally {
      clearTimeout(dnsTimer);
    }
  } catch (error) {
    if (error instanceof BlockedDestinationError) return done({ error: `ssrf_blocked: ${error.message}` });
    return done({ error: `dns: could not resolve ${url.hostname}` });
  }
  const client = url.protocol === "https:" ? https : http;
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (result: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const request = client.request(
      {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ""),
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: "POST",
        headers: { ...options.headers, "content-length": String(Buffer.byteLength(options.body)) },
        agent: false,
        lookup: (_host, opts, callback) => {
          if ((opts as { all?: boolean }).all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: target.address, family: target.family }]);
          else callback(null, target.address, target.family);
        },
      },
      (response) => {
        response.resume();
        const status = response.statusCode ?? 0;
        const finishWith = () =>
          finish(done({ ok: status >= 200 && status < 300, status, gone: status === 410, retryAfterSeconds: retryAfter(response.headers["retry-after"]), error: status >= 200 && status < 300 ? null : `http ${status}` }));
        response.on("end", finishWith);
        response.on("error", finishWith);
      },
    );
    const timer = setTimeout(() => {
      finish(done({ error: `timeout after ${options.timeoutMs} ms` }));
      request.destroy();
    }, options.timeoutMs);
    request.on("error", (error: NodeJS.ErrnoException) => finish(done({ error: `connection: ${error.code ?? "failed"}` })));
    request.end(options.body);
  });
}
