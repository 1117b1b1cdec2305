// Who may call the API route: pages of this site only. A browser says where a request comes
// from in Origin (sent on every POST) and Sec-Fetch-Site (on every request from a current
// browser); a cross-site form post or a page on another port of the same host (same-site, so
// SameSite=Lax cookies ride along) fails both. Neither can be forged by a page, only by a
// client that has no learner's cookies to abuse.
import type { IncomingHttpHeaders } from "node:http";

function one(value: string | string[] | undefined): string | null {
  return Array.isArray(value) ? null : (value ?? null);
}

/** `Origin` equal to the site's origin, or `Sec-Fetch-Site: same-origin`. */
export function isSameOrigin(headers: IncomingHttpHeaders, site: string | null): boolean {
  const origin = one(headers.origin);
  if (site !== null && origin !== null && origin === site) return true;
  return one(headers["sec-fetch-site"]) === "same-origin";
}

/** Whether a request body is declared `application/json` (parameters such as charset allowed). */
export function isJsonContentType(value: string | string[] | undefined): boolean {
  const declared = one(value);
  if (declared === null) return false;
  return declared.split(";")[0]?.trim().toLowerCase() === "application/json";
}
