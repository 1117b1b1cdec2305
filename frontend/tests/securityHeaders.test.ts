import { describe, expect, it } from "vitest";

import { securityHeaders } from "@/lib/securityHeaders";

const base = { supabaseUrl: "https://abc.supabase.co/", https: false, dev: false };

describe("securityHeaders", () => {
  it("allows scripts and styles from the site's own files only, connections to the site and Supabase only", () => {
    const csp = securityHeaders(base)["Content-Security-Policy"];
    // no nonce and nothing inline: the same policy fits a prerendered page and a rendered one
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("style-src 'self';");
    expect(csp).not.toMatch(/nonce|strict-dynamic/);
    expect(csp).toContain("connect-src 'self' https://abc.supabase.co;");
    // lesson media come from Storage's signed URLs, and from nowhere else
    expect(csp).toContain("media-src 'self' https://abc.supabase.co;");
    expect(csp).toContain("img-src 'self' data: blob: https://abc.supabase.co;");
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).toMatch(/object-src 'none'/);
    expect(csp).toMatch(/base-uri 'none'/);
    expect(csp).not.toMatch(/unsafe/);
  });

  it("sends HSTS and upgrade-insecure-requests only over https", () => {
    expect(securityHeaders(base)["Strict-Transport-Security"]).toBeUndefined();
    const https = securityHeaders({ ...base, https: true });
    expect(https["Strict-Transport-Security"]).toMatch(/^max-age=\d+/);
    expect(https["Content-Security-Policy"]).toContain("upgrade-insecure-requests");
  });

  it("relaxes only what next dev's HMR needs", () => {
    const csp = securityHeaders({ ...base, dev: true })["Content-Security-Policy"];
    expect(csp).toContain("'unsafe-eval'");
    expect(csp).toContain("style-src 'self' 'unsafe-inline'");
    expect(csp).toContain("connect-src 'self' https://abc.supabase.co ws: wss:");
    expect(csp).toMatch(/frame-ancestors 'none'/);
  });
});
