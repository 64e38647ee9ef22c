import { ApiError } from "../api";

/** The API's error as the contract asks: code, message and request id. */
export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const body = error instanceof ApiError ? error.body : { code: "error", message: String((error as Error)?.message ?? error), details: {}, request_id: "" };
  return (
    <div class="error" role="alert">
      <strong>{body.code}</strong>: {body.message}
      {body.request_id ? <span class="request-id"> (request {body.request_id})</span> : null}
    </div>
  );
}
