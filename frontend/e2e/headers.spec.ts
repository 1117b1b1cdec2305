// The production build's response headers on every page, prerendered or rendered on demand:
// the security set, and a CSP that lets scripts run from this site's own files alone: no nonce,
// no 'unsafe-inline', the same policy on every response, so static pages can stay static.
import type { APIResponse, Response } from "@playwright/test";

import { expect, test, FREE, JOINS, newEmail, signUp, stack } from "./support";

type Answer = Response | APIResponse;

function expectSecurityHeaders(answer: Answer, where: string) {
  const headers = answer.headers();
  const csp = headers["content-security-policy"] ?? "";
  const directives = new Map(
    csp.split(";").map((d) => {
      const [name, ...values] = d.trim().split(/\s+/);
      return [name, values] as const;
    }),
  );
  expect(directives.get("frame-ancestors"), where).toEqual(["'none'"]);
  expect(directives.get("object-src"), where).toEqual(["'none'"]);
  expect(directives.get("base-uri"), where).toEqual(["'none'"]);
  expect(directives.get("connect-src"), where).toEqual(["'self'", new URL(stack.supabase).origin]);
  const styles = directives.get("style-src") ?? [];
  expect(styles[0], where).toBe("'self'");
  // the rest: the hashes of the build's own CSS (inlined by the router on navigation), nothing else
  for (const source of styles.slice(1)) expect(source, where).toMatch(/^'sha256-[A-Za-z0-9+/]+=*'$/);
  expect(directives.get("script-src"), where).toEqual(["'self'"]);
  expect(headers["x-content-type-options"], where).toBe("nosniff");
  expect(headers["referrer-policy"], where).toBe("strict-origin-when-cross-origin");
  expect(headers["permissions-policy"], where).toContain("camera=()");
  // served over http here: no HSTS (a browser ignores it on http anyway)
  expect(headers["strict-transport-security"], where).toBeUndefined();
}

/**
 * Every script the server wrote runs from this site's own files or is JSON (__NEXT_DATA__, never
 * run): nothing inline that the CSP would block. The browser configuration's script comes first,
 * so it runs before Next's (all deferred).
 */
async function expectScriptsAllowed(answer: Answer, where: string) {
  const html = await answer.text();
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  const external = scripts.map(([, attributes]) => /\bsrc="([^"]*)"/.exec(attributes ?? "")?.[1]).filter(Boolean);
  expect(external[0], where).toBe("/api/runtime-config");
  for (const [, attributes = "", body = ""] of scripts) {
    const src = /\bsrc="([^"]*)"/.exec(attributes)?.[1];
    if (src) {
      expect(src, where).toMatch(/^\/(?!\/)/);
      expect(attributes, where).toMatch(/\bdefer\b/);
    } else {
      expect(attributes, `${where}: an inline script other than __NEXT_DATA__: ${body.slice(0, 80)}`).toMatch(
        /id="__NEXT_DATA__" type="application\/json"/,
      );
    }
  }
}

const PAGES = [
  "/lessons",
  `/lessons/${FREE.slug}`,
  `/lessons/${JOINS.slug}`,
  "/lessons/no-such-lesson",
  "/login",
  "/signup",
  "/forgot-password",
  "/reset-password",
  "/terms",
  "/refunds",
  "/privacy",
  "/contact",
  "/no-such-page",
];

test("every page carries the security headers, and runs no script the CSP did not name", async ({ page, request }) => {
  for (const path of PAGES) {
    const first = await page.goto(path);
    expect(first, path).not.toBeNull();
    expectSecurityHeaders(first!, path);
    await expectScriptsAllowed(first!, path);
    // nothing in the policy is made per response
    const second = await request.get(path);
    expect(second.headers()["content-security-policy"], path).toBe(first!.headers()["content-security-policy"]);
  }
  // signed out, /profile sends to sign-in: the redirect and the page both carry the set
  const profile = await request.get("/profile", { maxRedirects: 0 });
  expect(profile.status()).toBe(307);
  expectSecurityHeaders(profile, "/profile (signed out)");
  const api = await request.get("/api/stripe/checkout_session");
  expectSecurityHeaders(api, "the API route");
});

test("the browser's configuration: this stack's Supabase project, a script never cached or sniffed", async ({
  page,
  request,
}) => {
  const answer = await request.get("/api/runtime-config");
  expect(answer.status()).toBe(200);
  expect(answer.headers()["content-type"]).toBe("application/javascript; charset=utf-8");
  expect(answer.headers()["cache-control"]).toBe("no-store");
  expect(answer.headers()["x-content-type-options"]).toBe("nosniff");
  expectSecurityHeaders(answer, "/api/runtime-config");
  // a prerendered page, built before this stack's ports were chosen, talks to this stack
  await page.goto("/login");
  const config = await page.evaluate(() => (window as { __SHOP_CONFIG__?: { supabaseUrl: string } }).__SHOP_CONFIG__);
  expect(config?.supabaseUrl).toBe(stack.supabase.replace(/\/+$/, ""));
});

test("signed in: the Purchases page carries the set, and the auth cookie is Lax on /", async ({ page, context }) => {
  await signUp(page, newEmail("headers"));
  const profile = await page.goto("/profile");
  expect(profile?.status()).toBe(200);
  expectSecurityHeaders(profile!, "/profile");
  await expectScriptsAllowed(profile!, "/profile");
  const auth = (await context.cookies()).filter((c) => /^sb-.*-auth-token(\.\d+)?$/.test(c.name));
  expect(auth.length).toBeGreaterThan(0);
  for (const cookie of auth) {
    expect(cookie.sameSite).toBe("Lax");
    expect(cookie.path).toBe("/");
    expect(cookie.secure).toBe(false); // http here; Secure whenever the site is https
  }
});
