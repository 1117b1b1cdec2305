// The production build's response headers on every page: the security set, and a CSP whose
// script nonce is new on each response and is the one on the page's own script tags.
import type { APIResponse, Response } from "@playwright/test";

import { expect, test, FREE, JOINS, newEmail, signUp, stack } from "./support";

type Answer = Response | APIResponse;

function nonceOf(csp: string): string {
  const found = /script-src [^;]*'nonce-([A-Za-z0-9+/=]+)'/.exec(csp);
  expect(found, `a script nonce in ${csp}`).not.toBeNull();
  return found?.[1] ?? "";
}

function expectSecurityHeaders(answer: Answer, where: string): string {
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
  expect(directives.get("script-src"), where).toEqual(expect.arrayContaining(["'strict-dynamic'"]));
  expect(directives.get("script-src")?.join(" "), where).not.toMatch(/unsafe-(inline|eval)/);
  expect(headers["x-content-type-options"], where).toBe("nosniff");
  expect(headers["referrer-policy"], where).toBe("strict-origin-when-cross-origin");
  expect(headers["permissions-policy"], where).toContain("camera=()");
  // served over http here: no HSTS (a browser ignores it on http anyway)
  expect(headers["strict-transport-security"], where).toBeUndefined();
  return nonceOf(csp);
}

/** Every script tag the server wrote carries the nonce (those Next's loader adds later run by 'strict-dynamic'). */
async function expectScriptsCarry(answer: Answer, nonce: string, where: string) {
  const html = await answer.text();
  const scripts = html.match(/<script\b[^>]*>/g) ?? [];
  expect(scripts.length, where).toBeGreaterThan(0);
  for (const tag of scripts) expect(tag, where).toContain(`nonce="${nonce}"`);
}

const PAGES = [
  "/lessons",
  `/lessons/${FREE.slug}`,
  `/lessons/${JOINS.slug}`,
  "/lessons/no-such-lesson",
  "/login",
  "/signup",
  "/terms",
  "/refunds",
  "/privacy",
  "/contact",
  "/no-such-page",
];

test("every page carries the security headers and a fresh script nonce on its own scripts", async ({
  page,
  request,
}) => {
  for (const path of PAGES) {
    const first = await page.goto(path);
    expect(first, path).not.toBeNull();
    const nonce = expectSecurityHeaders(first!, path);
    await expectScriptsCarry(first!, nonce, path);
    const second = await request.get(path);
    expect(nonceOf(second.headers()["content-security-policy"] ?? ""), path).not.toBe(nonce);
  }
  // signed out, /profile sends to sign-in: the redirect and the page both carry the set
  const profile = await request.get("/profile", { maxRedirects: 0 });
  expect(profile.status()).toBe(307);
  expectSecurityHeaders(profile, "/profile (signed out)");
  const api = await request.get("/api/stripe/checkout_session");
  expectSecurityHeaders(api, "the API route");
});

test("signed in: the Purchases page carries the set, and the auth cookie is Lax on /", async ({ page, context }) => {
  await signUp(page, newEmail("headers"));
  const profile = await page.goto("/profile");
  expect(profile?.status()).toBe(200);
  const nonce = expectSecurityHeaders(profile!, "/profile");
  await expectScriptsCarry(profile!, nonce, "/profile");
  const auth = (await context.cookies()).filter((c) => /^sb-.*-auth-token(\.\d+)?$/.test(c.name));
  expect(auth.length).toBeGreaterThan(0);
  for (const cookie of auth) {
    expect(cookie.sameSite).toBe("Lax");
    expect(cookie.path).toBe("/");
    expect(cookie.secure).toBe(false); // http here; Secure whenever the site is https
  }
});
