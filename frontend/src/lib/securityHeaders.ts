// The headers every response carries (set by src/proxy.ts). Scripts run only from this site's
// own files: the production build writes no inline script that runs (__NEXT_DATA__ is JSON, and
// the browser's configuration is a file, /api/runtime-config), so no nonce is needed and
// prerendered pages carry the same policy as rendered ones. Styles come from the site's files,
// or inline with the text of one of them (lib/styleHashes.ts: the router inlines a page's CSS on
// a client-side navigation). The browser may connect
// only to this site and the Supabase project (the sidecar is called by the server alone, so
// the browser needs no way to it), and load lesson media (images, audio, video, captions)
// from the project's Storage. `next dev` adds only what its HMR needs.

export type HeaderInput = {
  /** CSP sources ('sha256-…') of the CSS texts the router may inline (lib/styleHashes.ts). */
  styleHashes?: readonly string[];
  supabaseUrl: string | null;
  https: boolean;
  dev: boolean;
};

function originOf(url: string | null): string | null {
  if (!url) return null;
  try {
    const origin = new URL(url).origin;
    return origin === "null" ? null : origin;
  } catch {
    return null;
  }
}

export function contentSecurityPolicy({ styleHashes = [], supabaseUrl, https, dev }: HeaderInput): string {
  const supabase = originOf(supabaseUrl);
  const directives: Record<string, string[]> = {
    "default-src": ["'self'"],
    // dev only: React's dev build evaluates code to rebuild server stacks, and the dev server
    // writes an inline script for HMR (`__nextHmrInitialVersion`)
    "script-src": ["'self'", ...(dev ? ["'unsafe-eval'", "'unsafe-inline'"] : [])],
    // the dev server injects CSS as <style> tags; the build serves files
    "style-src": ["'self'", ...(dev ? ["'unsafe-inline'"] : styleHashes)],
    // lesson media: signed URLs served by Supabase Storage
    "img-src": ["'self'", "data:", "blob:", ...(supabase ? [supabase] : [])],
    "media-src": ["'self'", ...(supabase ? [supabase] : [])],
    "font-src": ["'self'"],
    // HMR's websocket in dev (same host, ws scheme)
    "connect-src": ["'self'", ...(supabase ? [supabase] : []), ...(dev ? ["ws:", "wss:"] : [])],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
  };
  const policy = Object.entries(directives).map(([name, values]) => `${name} ${values.join(" ")}`);
  if (https) policy.push("upgrade-insecure-requests");
  return policy.join("; ");
}

export function securityHeaders(input: HeaderInput): Record<string, string> {
  return {
    "Content-Security-Policy": contentSecurityPolicy(input),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "X-Frame-Options": "DENY",
    ...(input.https ? { "Strict-Transport-Security": "max-age=63072000; includeSubDomains" } : {}),
  };
}
