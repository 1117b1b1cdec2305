// Next 16's Proxy (the file convention that replaced `middleware`; it runs on the Node.js
// runtime, and the pages router supports it): every response, prerendered or rendered on
// demand, gets the security headers of src/lib/securityHeaders.ts. The CSP needs no per-request
// nonce: the only inline script that runs is Turbopack's bootstrap, the same for every response
// of a page, allowed by hash (lib/bootstrapScripts.ts), so static pages can stay static.
import { NextResponse, type NextRequest } from "next/server";

import { servedBootstrapSources } from "@/lib/bootstrapScripts";
import { securityHeaders } from "@/lib/securityHeaders";
import { servedOverHttps } from "@/lib/site";

export function proxy(request: NextRequest) {
  const headers = securityHeaders({
    scriptHashes: servedBootstrapSources(),
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
