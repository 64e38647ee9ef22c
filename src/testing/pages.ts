import { expect } from "vitest";
import type { ApiClient } from "./harness.js";

export interface Page<T> {
  items: T[];
  has_more: boolean;
}

/**
 * Follows a list's cursor from its first page to its last (at most `maxPages`): each page's items
 * (under `key`: `data`, or the name the docs give the list) and `has_more`. Lists over long
 * histories may answer short pages, even empty ones, while `has_more` is true (storage/bounded-page.ts).
 */
export async function everyPage<T>(client: ApiClient, url: string, key = "data", maxPages = 20): Promise<Page<T>[]> {
  const pages: Page<T>[] = [];
  let cursor: string | null = null;
  do {
    const page = await client.get(`${url}${url.includes("?") ? "&" : "?"}${cursor ? `cursor=${encodeURIComponent(cursor)}` : ""}`);
    expect(page.status, page.text).toBe(200);
    expect(page.body.has_more).toBe(page.body.cursor !== null);
    pages.push({ items: page.body[key] as T[], has_more: page.body.has_more as boolean });
    cursor = page.body.cursor as string | null;
  } while (cursor !== null && pages.length < maxPages);
  return pages;
}
