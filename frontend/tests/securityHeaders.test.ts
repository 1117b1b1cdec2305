import { describe, expect, it } from "vitest";

import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { securityHeaders } from "@/lib/securityHeaders";
import { builtStyleSources } from "@/lib/styleHashes";

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

  it("allows inline styles only with the text of one of the build's CSS files", () => {
    const build = mkdtempSync(path.join(tmpdir(), "next-build-"));
    mkdirSync(path.join(build, "static", "css"), { recursive: true });
    writeFileSync(path.join(build, "static", "css", "app.css"), "body{margin:0}");
    writeFileSync(path.join(build, "static", "css", "page.css"), ".card{color:red}\n");
    writeFileSync(
      path.join(build, "build-manifest.json"),
      JSON.stringify({
        pages: { "/_app": ["static/chunks/app.js", "static/css/app.css"], "/lessons": ["static/css/page.css"] },
      }),
    );
    const hashes = builtStyleSources(build);
    // sha256 of "body{margin:0}", ".card{color:red}\n" and "" (the element Next appends before its text)
    expect(hashes).toEqual(
      [
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
        "'sha256-IAdwN3biDCQ3brrgp1m8kBEsPQYyqfREKOEfeoREopc='",
        "'sha256-ie5rFfhR1GYo6NUKCdEuCHLX8mZe7LDvCQZMnchGBXo='",
      ].sort(),
    );
    const csp = securityHeaders({ ...base, styleHashes: hashes })["Content-Security-Policy"];
    expect(csp).toContain(`style-src 'self' ${hashes.join(" ")};`);
    expect(securityHeaders({ ...base, styleHashes: hashes, dev: true })["Content-Security-Policy"]).toContain(
      "style-src 'self' 'unsafe-inline';",
    );
  });

  it("sends HSTS and upgrade-insecure-requests only over https", () => {
    expect(securityHeaders(base)["Strict-Transport-Security"]).toBeUndefined();
    const https = securityHeaders({ ...base, https: true });
    expect(https["Strict-Transport-Security"]).toMatch(/^max-age=\d+/);
    expect(https["Content-Security-Policy"]).toContain("upgrade-insecure-requests");
  });

  it("relaxes only what next dev's HMR needs", () => {
    const csp = securityHeaders({ ...base, dev: true })["Content-Security-Policy"];
    expect(csp).toContain("script-src 'self' 'unsafe-eval' 'unsafe-inline';");
    expect(csp).toContain("style-src 'self' 'unsafe-inline'");
    expect(csp).toContain("connect-src 'self' https://abc.supabase.co ws: wss:");
    expect(csp).toMatch(/frame-ancestors 'none'/);
  });
});
