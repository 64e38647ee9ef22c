import { createReadStream, statSync } from "node:fs";
import { PutObjectCommand, S3Client, type ServerSideEncryption } from "@aws-sdk/client-s3";
import { validationError } from "../http/errors.js";

/** The `s3` destination as stored with the export (never the credentials themselves). */
export interface S3Destination {
  type: "s3";
  bucket: string;
  prefix: string;
  region: string;
  endpoint: string | null;
  credentials_path: string;
  server_side_encryption: string | null;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const SSE_VALUES = ["AES256", "aws:kms", "aws:kms:dsse"];

/** The destination fields checked and normalised (422 naming the field otherwise). */
export function s3Destination(body: { bucket?: string; prefix?: string; region?: string; endpoint?: string; credentials_path?: string; server_side_encryption?: boolean | string }): S3Destination {
  const fields: Record<string, string> = {};
  if (!body.bucket || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(body.bucket)) fields["destination.bucket"] = "is required: an S3 bucket name";
  if (!body.credentials_path) fields["destination.credentials_path"] = "is required: the path of a secret holding access_key_id and secret_access_key (inline keys are not accepted)";
  let endpoint: string | null = null;
  if (body.endpoint !== undefined && body.endpoint !== "") {
    try {
      const url = new URL(body.endpoint);
      if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("scheme");
      endpoint = url.toString();
    } catch {
      fields["destination.endpoint"] = "must be an http(s) URL of an S3-compatible service";
    }
  }
  let sse: string | null = null;
  if (body.server_side_encryption === true) sse = "AES256";
  else if (typeof body.server_side_encryption === "string") {
    if (SSE_VALUES.includes(body.server_side_encryption)) sse = body.server_side_encryption;
    else fields["destination.server_side_encryption"] = `must be true, false or one of ${SSE_VALUES.join(", ")}`;
  }
  if (Object.keys(fields).length > 0) throw validationError(fields);
  const prefix = (body.prefix ?? "").replace(/^\/+/, "");
  return {
    type: "s3",
    bucket: body.bucket!,
    prefix: prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`,
    region: body.region || "us-east-1",
    endpoint,
    credentials_path: body.credentials_path!,
    server_side_encryption: sse,
  };
}

/** The secret's fields as S3 credentials (the docs' `access_key_id`/`secret_access_key`). */
export function s3Credentials(data: Record<string, unknown>): S3Credentials {
  const { access_key_id: accessKeyId, secret_access_key: secretAccessKey, session_token: sessionToken } = data;
  if (typeof accessKeyId !== "string" || typeof secretAccessKey !== "string" || accessKeyId === "" || secretAccessKey === "") {
    throw validationError({ "destination.credentials_path": "the secret must hold access_key_id and secret_access_key" });
  }
  return { accessKeyId, secretAccessKey, ...(typeof sessionToken === "string" ? { sessionToken } : {}) };
}

/** A failed call, described without anything secret: the store's error name or the network code. */
export function s3FailureReason(error: unknown): string {
  const e = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  if (e?.name === "TimeoutError" || e?.name === "AbortError") return "timeout";
  if (e?.code) return e.code;
  if (e?.$metadata?.httpStatusCode) return `${e.name ?? "error"} (HTTP ${e.$metadata.httpStatusCode})`;
  return e?.name ?? "error";
}

/**
 * Uploads one file. Every call has its own deadline (`timeoutMs`) and the SDK does not retry:
 * the export job decides when to try again, and shows each failure on the export meanwhile.
 */
export async function uploadToS3(destination: S3Destination, credentials: S3Credentials, key: string, file: string, timeoutMs: number): Promise<void> {
  const client = new S3Client({
    region: destination.region,
    credentials,
    maxAttempts: 1,
    // Plain bodies: many S3-compatible stores do not understand the SDK's default aws-chunked
    // checksum trailers and would store the framing as the object.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    ...(destination.endpoint ? { endpoint: destination.endpoint, forcePathStyle: true } : {}),
  });
  // The file's size first: a file that is gone fails here, before a stream opens it.
  const size = statSync(file).size;
  const body = createReadStream(file);
  // A read that fails (the file vanished, or is not a file) ends the upload with that error. Left
  // unheard, the stream's 'error' event would end the whole process, and an unread body would
  // leave the request waiting for its deadline.
  const unreadable = new AbortController();
  body.on("error", (error) => unreadable.abort(error));
  try {
    await client.send(
      new PutObjectCommand({
        Bucket: destination.bucket,
        Key: key,
        Body: body,
        ContentLength: size,
        ContentType: key.endsWith(".csv") ? "text/csv" : "application/x-ndjson",
        ...(destination.server_side_encryption ? { ServerSideEncryption: destination.server_side_encryption as ServerSideEncryption } : {}),
      }),
      { abortSignal: AbortSignal.any([AbortSignal.timeout(timeoutMs), unreadable.signal]) },
    );
  } catch (error) {
    throw unreadable.signal.aborted ? unreadable.signal.reason : error;
  } finally {
    body.destroy();
    client.destroy();
  }
}
