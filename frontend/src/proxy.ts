// Next 16's Proxy (the file convention that replaced `middleware`; it runs on the Node.js
// runtime, and the pages router supports it): every request gets a fresh CSP nonce and the
// security headers of src/lib/securityHeaders.ts. The nonce travels to the render in the
// request's own Content-Security-Policy and x-nonce headers; pages/_document puts it on
// Next's script tags. Every page is server-rendered per request, so each gets its own nonce.
import { NextResponse, type NextRequest } from "next/server";

import { newNonce, securityHeaders } from "@/lib/securityHeaders";
import { servedOverHttps } from "@/lib/site";

export function proxy(request: NextRequest) {
  const nonce = newNonce();
  const headers = securityHeaders({
    nonce,
    supabaseUrl: process.env.SUPABASE_URL ?? null,
    https: servedOverHttps(request.headers, request.nextUrl.protocol === "https:"),
    dev: process.env.NODE_ENV === "development",
  });
  const forwarded = new Headers(request.headers);
  forwarded.set("x-nonce", nonce);
  forwarded.set("Content-Security-Policy", headers["Content-Security-Policy"] ?? "");
  const response = NextResponse.next({ request: { headers: forwarded } });
  for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
  return response;
}

export const config = {
  // static files are served as they are (and carry no script to run)
  matcher: ["/((?!_next/static|_next/image|favicon.ico).*)"],
};
