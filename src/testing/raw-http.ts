import { connect } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: any;
  text: string;
}

/**
 * Sends bytes exactly as given over a socket: `fetch` and `http.request` normalise `..`, refuse
 * raw non-ASCII and re-encode, so hostile URLs and invalid UTF-8 need this.
 */
export async function rawRequest(
  baseUrl: string,
  method: string,
  target: string | Buffer,
  options: { token?: string; body?: Buffer | string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const body = options.body === undefined ? undefined : Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body, "utf8");
  const lines = [`Host: ${url.host}`, "Connection: close"];
  if (options.token) lines.push(`Authorization: Bearer ${options.token}`);
  if (body) lines.push("Content-Type: application/json", `Content-Length: ${body.length}`);
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`${name}: ${value}`);
  const head = Buffer.concat([
    Buffer.from(`${method} `, "latin1"),
    Buffer.isBuffer(target) ? target : Buffer.from(target, "latin1"),
    Buffer.from(` HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`, "latin1"),
  ]);
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("end", () => resolve(Buffer.concat(chunks)));
    socket.on("error", reject);
    socket.write(body ? Buffer.concat([head, body]) : head);
  });
  const split = raw.indexOf("\r\n\r\n");
  const headText = raw.subarray(0, split).toString("latin1");
  let payload = raw.subarray(split + 4);
  const [statusLine, ...headerLines] = headText.split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  if (headers["transfer-encoding"] === "chunked") payload = dechunk(payload);
  const text = payload.toString("utf8");
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: Number(statusLine.split(" ")[1]), headers, body: parsed, text };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const end = data.indexOf("\r\n", offset);
    if (end < 0) break;
    const size = parseInt(data.subarray(offset, end).toString("latin1"), 16);
    if (!size) break;
    parts.push(data.subarray(end + 2, end + 2 + size));
    offset = end + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
