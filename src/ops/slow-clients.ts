import type { FastifyInstance } from "fastify";

/**
 * Node's HTTP server options for SCAIVAULT_REQUEST_TIMEOUT: the whole request (headers and body)
 * within the timeout, headers too, and deadlines checked every second instead of every 30 s.
 */
export function serverTimeouts(requestTimeoutMs: number): { requestTimeout: number; headersTimeout: number; connectionsCheckingInterval: number } {
  return { requestTimeout: requestTimeoutMs, headersTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, requestTimeoutMs) };
}

/**
 * Cuts a client whose body has not fully arrived within the request timeout. Node's own deadline
 * stops applying once a response has been sent — and an unauthenticated request is answered
 * before its body is read — so a slow-loris body would otherwise hold the socket for as long as it
 * keeps trickling.
 */
export function installBodyDeadline(app: FastifyInstance, requestTimeoutMs: number): void {
  app.addHook("onRequest", (request, _reply, done) => {
    const raw = request.raw;
    // A request with neither Content-Length nor Transfer-Encoding has no body (RFC 9112 §6.3):
    // nothing can trickle, and Node's header deadline already covers it.
    const headers = raw.headers;
    const bodyless = headers["transfer-encoding"] === undefined && (headers["content-length"] === undefined || headers["content-length"] === "0");
    if (raw.complete || bodyless) return done();
    const timer = setTimeout(() => {
      // Injected requests (the ACME-only listener hands its requests to the app) have a fake socket.
      if (!raw.complete && typeof raw.socket?.destroy === "function") raw.socket.destroy();
    }, requestTimeoutMs);
    timer.unref();
    const clear = () => clearTimeout(timer);
    raw.once("end", clear);
    raw.once("close", clear);
    done();
  });
}
