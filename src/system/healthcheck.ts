/** The container's HEALTHCHECK: exit 0 when /v1/health answers 200 on this host's BIND_ADDRESS port. */
const port = (process.env.BIND_ADDRESS ?? "127.0.0.1:8443").split(":").pop();
const scheme = process.env.TLS_CERT_FILE ? "https" : "http";
// A self-signed or private-CA certificate is still a live server: only liveness is checked here.
if (scheme === "https") process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
fetch(`${scheme}://127.0.0.1:${port}/v1/health`, { signal: AbortSignal.timeout(4000) }).then(
  (response) => process.exit(response.ok ? 0 : 1),
  () => process.exit(1),
);
