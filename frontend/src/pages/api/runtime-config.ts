// /api/runtime-config: a script setting the browser's configuration, read from the environment
// on each request, so that one build, its pages prerendered, serves any
// Supabase project. pages/_document loads it before Next's own scripts (both deferred, so it
// runs first). It is a script file rather than inline so the CSP needs no nonce and static
// pages stay static.
import type { IncomingMessage, ServerResponse } from "node:http";

import { publicConfig, runtimeConfigScript } from "@/lib/config";

export default function runtimeConfig(req: IncomingMessage, res: ServerResponse) {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.statusCode = 405;
    res.setHeader("Allow", "GET, HEAD");
    res.end();
    return;
  }
  res.setHeader("Content-Type", "application/javascript; charset=utf-8");
  // a redeploy with another project takes effect on the next page load
  res.setHeader("Cache-Control", "no-store");
  res.setHeader("X-Content-Type-Options", "nosniff");
  let body: string;
  try {
    body = runtimeConfigScript(publicConfig());
  } catch (error) {
    // the page still renders; signing in says the service is unavailable
    console.error("runtime config", error instanceof Error ? error.message : error);
    res.statusCode = 500;
    res.end("/* the site's Supabase settings are missing: see the server's log */\n");
    return;
  }
  res.statusCode = 200;
  res.end(req.method === "HEAD" ? undefined : body);
}
