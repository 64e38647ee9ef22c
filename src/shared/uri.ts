/**
 * `decodeURIComponent`, or the text as it is where it holds a `%` that is no escape: a URIError
 * there was a 500 with its stack logged, for anyone who sent one. What stays undecoded is checked
 * as any other input (a path, a tenant id, base64) and refused as such.
 */
export function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
