// This site's own origin and scheme, as the server sees them. SITE_URL (read per request, like
// the rest of the configuration) names the origin learners use; without it, only what the
// request itself proves is trusted: a proxy's X-Forwarded-Proto or the server's own TLS.
import type { IncomingHttpHeaders } from "node:http";

/** SITE_URL's origin (`https://shop.example`), or null when it is unset or not a URL. */
export function siteOrigin(): string | null {
  const value = process.env.SITE_URL;
  if (!value) return null;
  try {
    const origin = new URL(value).origin;
    return origin === "null" ? null : origin;
  } catch {
    return null;
  }
}

type HeaderSource = IncomingHttpHeaders | Headers;

function header(headers: HeaderSource, name: string): string | null {
  if (headers instanceof Headers) return headers.get(name);
  const value = headers[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

/**
 * Whether learners reach this site over https: SITE_URL's scheme when it is set, else the
 * request's (`encrypted`: the server's own TLS; a proxy in front says so in X-Forwarded-Proto).
 * Only ever tightens: it decides Secure cookies and HSTS, never what is allowed.
 */
export function servedOverHttps(headers: HeaderSource, encrypted = false): boolean {
  const origin = siteOrigin();
  if (origin) return origin.startsWith("https:");
  if (encrypted) return true;
  const forwarded = header(headers, "x-forwarded-proto");
  return forwarded?.split(",")[0]?.trim().toLowerCase() === "https";
}
