// Next 16's Proxy (the file convention that replaced `middleware`; it runs on the Node.js
// runtime, and the pages router supports it): every response, prerendered or rendered on
// demand, gets the security headers of src/lib/securityHeaders.ts. The CSP needs no per-request
// nonce: the production build writes no inline script that runs (__NEXT_DATA__ is JSON; the
// webpack build, unlike Turbopack's, has no inline bootstrap), so static pages can stay static.
import { NextResponse, type NextRequest } from "next/server";

import { securityHeaders } from "@/lib/securityHeaders";
import { servedStyleSources } from "@/lib/styleHashes";
import { servedOverHttps } from "@/lib/site";

export function proxy(request: NextRequest) {
  const headers = securityHeaders({
    styleHashes: servedStyleSources(),
    supabaseUrl: process.env.SUPABASE_URL ?? null,
    https: servedOverHttps(request.headers, request.nextUrl.protocol === "https:"),
    dev: process.env.NODE_ENV === "development",
  });
  const response = NextResponse.next();
  for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
  return response;
}

export const config = {
  // static files are served as they are (and carry no script to run)
  matcher: ["/((?!_next/static|_next/image|favicon.ico).*)"],
};
